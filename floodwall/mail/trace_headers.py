"""Header fields the gateway prepends to a message it relays.

Every relayed message gets a ``Received:`` trace field (RFC 5321 §4.4: an SMTP server
that relays a message must add one) and ``X-Floodwall-Spool-Id``, stable across
retries, so that a duplicate left by a crash between the next hop's ``250`` and our
record of it can be recognised downstream. A tagged message also gets
``X-Floodwall-Verdict``, ``-Score`` and ``-Symbols``. Where the scan verified the
sender (SPF, DKIM, DMARC), ``Authentication-Results: floodwall; ...`` goes on top, as
RFC 8601 §4 places it, above this hop's Received. Fields of the same names that the
message already had are removed first (``floodwall.respond.header_filter``).

Symbol reasons quote the message (addresses, file names, link text), so they are
attacker-written: every value is reduced to printable US-ASCII (RFC 5322 §2.2, field
bodies) with anything else written as a backslash escape, so no CR or LF can end the
field early and start a forged one. Long values are folded at spaces (RFC 5322
§2.2.3), keeping lines under 78 characters where the words allow.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from floodwall.respond.policy import Verdict

__all__ = ["clean_value", "fold_field", "trace_fields"]

_LINE = 78  # RFC 5322 §2.1.1: SHOULD be at most 78 characters, MUST be at most 998
_MAX_REASON = 200
_MAX_SYMBOLS = 40


def clean_value(text: str, cap: int = 1000, also: str = "") -> str:
    """``text`` as printable US-ASCII: other characters (and those in ``also``) become
    ``\\xNN`` / ``\\uNNNN`` escapes, so CR, LF, NUL and non-ASCII never reach the
    header block."""
    out: list[str] = []
    size = 0
    for ch in text:
        code = ord(ch)
        if 0x20 <= code < 0x7F and ch not in also:
            piece = ch
        elif code < 0x100:
            piece = f"\\x{code:02x}"
        elif code < 0x10000:
            piece = f"\\u{code:04x}"
        else:
            piece = f"\\U{code:08x}"
        size += len(piece)
        if size > cap:
            out.append("...")
            break
        out.append(piece)
    return "".join(out)


def fold_field(name: str, value: str) -> str:
    """``Name: value`` folded at spaces into lines of at most 78 characters where the
    words allow, ended by CRLF. ``value`` must already be clean (``clean_value``)."""
    words = [w for w in value.split(" ") if w]
    lines: list[str] = []
    line = f"{name}:"
    for word in words:
        if len(line) + 1 + len(word) > _LINE and line != f"{name}:":
            lines.append(line)
            line = " " + word  # RFC 5322 §2.2.3: the fold is CRLF before white space
        else:
            line = f"{line} {word}"
    lines.append(line)
    return "\r\n".join(lines) + "\r\n"


def _received(
    helo: str, peer: str, hostname: str, sid: str, rcpt_to: Sequence[str], tls: bool, when: datetime
) -> str:
    # RFC 5321 §4.4 Time-stamp-line; "with ESMTPS" marks a TLS session (RFC 3848).
    # The "for" clause only names a single recipient, so others are not disclosed.
    protocol = "ESMTPS" if tls else "ESMTP"
    value = (
        f"from {clean_value(helo, 200) or 'unknown'} ({clean_value(peer, 100)})"
        f" by {clean_value(hostname, 200)} (Floodwall) with {protocol} id {sid}"
    )
    if len(rcpt_to) == 1:
        value += f" for <{clean_value(rcpt_to[0], 300)}>"
    return fold_field("Received", f"{value}; {when.strftime('%a, %d %b %Y %H:%M:%S %z')}")


def trace_fields(
    *,
    sid: str,
    verdict: Verdict,
    helo: str,
    peer: str,
    hostname: str,
    rcpt_to: Sequence[str],
    tls: bool,
    when: datetime,
    authentication: str | None = None,
) -> str:
    """The header fields to prepend to a message relayed under ``verdict``;
    ``authentication`` is the value of Floodwall's Authentication-Results field
    (``SenderAuth.header_value``), None when the sender was not verified."""
    fields = []
    if authentication is not None:
        fields.append(fold_field("Authentication-Results", clean_value(authentication, 2000)))
    fields.append(_received(helo, peer, hostname, sid, rcpt_to, tls, when))
    fields.append(fold_field("X-Floodwall-Spool-Id", sid))
    if verdict.action == "tag":
        fields.append(fold_field("X-Floodwall-Verdict", verdict.action))
        fields.append(fold_field("X-Floodwall-Score", f"{verdict.score:g}"))
        items = [
            f"{clean_value(s.id, 100)}({s.score:g}) [{clean_value(s.reason, _MAX_REASON, '[]')}]"
            for s in verdict.symbols[:_MAX_SYMBOLS]
        ]
        if len(verdict.symbols) > _MAX_SYMBOLS:
            items.append(f"(+{len(verdict.symbols) - _MAX_SYMBOLS} more)")
        fields.append(fold_field("X-Floodwall-Symbols", ", ".join(items)))
    return "".join(fields)
