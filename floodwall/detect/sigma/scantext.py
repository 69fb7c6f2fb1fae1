"""The texts the prefilter scans, and the Hyperscan patterns of anchors in them.

Two layouts:

* the tagged field text (``scan_text``): ``US FIELD RS value US FIELD RS value ... US``,
  lowered. A pattern for a field anchor starts at the field's tag and cannot cross the
  next US, so a literal is only found in the field its rule names;
* the keyword text (``keyword_text``): every value, joined by NUL and lowered, in which
  a keyword (or any literal a rule needs) may occur anywhere.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from itertools import compress
from typing import Any

from floodwall.detect.sigma.matcher import as_strings, text_of

US, RS = "\x1f", "\x1e"


def scan_text(fields: Mapping[str, Any], only: frozenset[str] | None) -> bytes:
    """The event's fields (those in ``only``, or all) in the tagged layout, lowered."""
    # One pass for the common event: str, int, float, bool and None format as the
    # matcher reads them ("None" only adds text no string test can need); a list (tags
    # ...) becomes one segment per value.
    if only is None:
        parts = [
            f"{k}{RS}{v}" if type(v) is not list else _segments(k, v) for k, v in fields.items()
        ]
    else:
        parts = [
            f"{k}{RS}{v}" if type(v) is not list else _segments(k, v)
            for k, v in fields.items()
            if k in only
        ]
    text = f"{US}{US.join(parts)}{US}"
    # Exactly one RS per part and one US around each is the layout with no list and no
    # separator inside a key or value. Anything else is rebuilt with the separators in
    # keys and values blanked: a hostile value holding them would otherwise forge a
    # field tag or cut a field short and hide a literal behind it.
    if text.count(RS) != len(parts) or text.count(US) != len(parts) + 1:
        items = fields.items() if only is None else [(k, v) for k, v in fields.items() if k in only]
        parts = [f"{_clean(k)}{RS}{_clean(s)}" for k, v in items for s in (as_strings(v) or ("",))]
        text = f"{US}{US.join(parts)}{US}"
    return text.lower().encode("utf-8", "surrogatepass")


def keyword_text(fields: Mapping[str, Any]) -> bytes:
    """Every value of the event, joined by NUL and lowered: a superset of what the
    matcher's keyword tests read (``Ctx.all_text``), so a literal they can find is here.

    ``str`` of a scalar is the string the matcher compares (``None`` adds "None", which
    only lets more through). A list or tuple comes out as its repr, with its strings
    quoted and escaped, so the strings of each container are added after the rest.
    """
    values = fields.values()
    text = "\0".join(map(str, values))
    if "[" in text or "(" in text:  # where a container's repr starts
        containers = compress(values, map(_CONTAINERS.__contains__, map(type, values)))
        text = "\0".join((text, *map(text_of, containers)))
    return text.lower().encode("utf-8", "surrogatepass")


_CONTAINERS = frozenset((list, tuple))


def _segments(key: str, value: Any) -> str:
    return US.join(f"{key}{RS}{s}" for s in (as_strings(value) or ("",)))


def _clean(text: str) -> str:
    return text.replace(US, " ").replace(RS, " ")


def pcre_literal(text: str) -> bytes:
    """``text`` as a Hyperscan pattern matching exactly its UTF-8 bytes."""
    data = text.encode("utf-8", "surrogatepass")
    return ("\\x" + data.hex(" ").replace(" ", "\\x")).encode("ascii") if data else b""


def json_literal(text: str) -> bytes:
    """The Hyperscan pattern of ``text`` as a JSON string writes it with the short
    escapes (RFC 8259, section 7): quote and backslash escaped, controls as ``\\n`` or
    ``\\u00XX``, non-ASCII as ``\\uXXXX`` (which the caller's texts never hold)."""
    return pcre_literal(json.dumps(text)[1:-1])


def anchor_pattern(anchor: tuple[str | None, str, str]) -> bytes:
    """The Hyperscan pattern of an anchor in the tagged scan text."""
    field, mode, text = anchor
    lit = pcre_literal(text)
    if field is None:
        return lit  # a keyword: anywhere in any value
    tag = pcre_literal(US + field.lower() + RS)
    end = pcre_literal(US)
    value = b"[^\\x1f]*"
    if mode == "eq":
        return tag + lit + end
    if mode == "num":
        # The matcher reads a value as a number with float(): "25", but also "025",
        # "25.0", "2.5e1", " 25", "2_5" or full-width digits. Any value that is not a
        # plain ASCII integer without a leading zero is therefore let through.
        odd = b"(?:0[^\\x1f]*|[^\\x1f]*[^0-9\\x1f][^\\x1f]*)"
        return tag + b"(?:" + lit + b"|" + odd + b")" + end
    if mode == "sw":
        return tag + lit
    if mode == "ew":
        return tag + value + lit + end
    return tag + value + lit
