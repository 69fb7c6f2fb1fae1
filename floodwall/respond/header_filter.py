"""Remove header fields that claim to be Floodwall's from mail it passes on.

Downstream filters (Sieve, mail clients, a second scanner) act on what Floodwall writes:
``X-Floodwall-Verdict`` and the others, and ``Authentication-Results: floodwall; ...``.
A sender can write the same fields into its message before it reaches the gateway, so
every field of that kind already in a message is removed before Floodwall adds its own:

- RFC 8601 §5: an MTA MUST delete any Authentication-Results field that claims its
  authserv-id but did not come from inside its trust boundary. Floodwall's authserv-id is
  ``floodwall``; fields of other authserv-ids (the MX's own, a trusted relay's) stay.
- ``X-Floodwall-*`` is Floodwall's own namespace, as SpamAssassin drops incoming
  ``X-Spam-*`` fields before writing its own.

Only the message's own header block is read (RFC 5322 §2.1: up to the first empty line);
the body, and the header blocks of attached messages, stay byte for byte as they were.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from floodwall.records import AUTHSERV_ID

__all__ = ["strip_own_fields"]

_OWN_PREFIX = b"x-floodwall-"
_AR_NAME = b"authentication-results"
# The end of the header block: the first empty line (CRLF, or bare LF as some clients
# write). A message without one is all header.
_BLANK = re.compile(rb"\r?\n\r?\n")
# Comments may come before the authserv-id (RFC 8601 §2.2 allows CFWS there): a field
# is taken as claiming an id when that id is any word before the first ";" once the
# parentheses are blanked, so an unbalanced or nested comment cannot hide the claim.
_PARENS = bytes.maketrans(b"()", b"  ")


def _claims(value: bytes, ids: Collection[bytes]) -> bool:
    """Whether an Authentication-Results value names one of ``ids`` as its authserv-id."""
    words = value.split(b";", 1)[0].translate(_PARENS).lower().split()
    return not set(ids).isdisjoint(words)


def _is_own(field: bytes, ids: Collection[bytes]) -> bool:
    """Whether one header field (its lines joined) claims to be Floodwall's."""
    name, colon, value = field.partition(b":")
    if not colon:
        return False  # not a field at all (a stray line): kept as it was
    name = name.rstrip(b" \t").lower()  # RFC 5322 §4.5.3 obsolete: WSP before the colon
    if name.startswith(_OWN_PREFIX):
        return True
    return name == _AR_NAME and _claims(value, ids)


def strip_own_fields(raw: bytes, authserv_ids: Collection[str] = (AUTHSERV_ID,)) -> bytes:
    """``raw`` without its top-level ``X-Floodwall-*`` fields and the Authentication-Results
    fields that claim one of ``authserv_ids``; ``raw`` itself when it has none."""
    ids = {i.lower().encode("ascii", "replace") for i in authserv_ids}
    blank = _BLANK.search(raw)
    # The block keeps its last line's end; the rest starts with the empty line.
    end = (
        blank.start() + (2 if raw.startswith(b"\r\n", blank.start()) else 1) if blank else len(raw)
    )
    header, rest = raw[:end], raw[end:]
    lowered = header.lower()
    if _OWN_PREFIX not in lowered and _AR_NAME not in lowered:
        return raw  # the common case, at C speed
    lines = header.split(b"\n")
    pieces = [line + b"\n" for line in lines[:-1]]
    if lines[-1]:
        pieces.append(lines[-1])  # a last line without an end (no body at all)
    kept: list[bytes] = []
    field: list[bytes] = []
    for piece in pieces:
        if field and piece[:1] in (b" ", b"\t"):
            field.append(piece)  # RFC 5322 §2.2.3: a folded continuation
            continue
        if field and not _is_own(b"".join(field), ids):
            kept.extend(field)
        field = [piece]
    if field and not _is_own(b"".join(field), ids):
        kept.extend(field)
    out = b"".join(kept)
    return raw if len(out) == len(header) else out + rest
