"""The MIME structure of a message, read straight from its bytes (RFC 2045-2049, RFC 5322).

This replaces the stdlib ``email`` feed parser, which splits every message into one
Python string per line and builds a ``Message`` object per part: that cost ~2 ms per
message, more than all detectors together. Here a part is a span ``(start, end)`` of
the one input buffer: boundaries are found with ``bytes.find``, header blocks with one
regular expression, and only the leaves the scanner reads are transfer-decoded.

The structure rules follow the stdlib parser (``email.feedparser``) so that verdicts do
not move: a header line is ``From ``, ``name:`` or a continuation; a boundary line is
``--boundary`` with an optional ``--`` and trailing blanks (RFC 2046 5.1.1); the line
break before a boundary belongs to it; ``message/*`` parts (but delivery-status) hold a
whole message. Damage that may hide content is reported with the same notes as before.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import collapse_rfc2231_value, decode_params, unquote

# RFC 5322 2.2 as the stdlib reads it (feedparser.headerRE): a header block is the run
# of lines that start with "From " (an mbox envelope), "name:" or white space.
_HEADER_LINES = re.compile(rb"(?:(?:From |[!-9;-~]*:|[ \t])[^\n]*(?:\n|\Z))*")
_FIELD = re.compile(rb"^([!-9;-~]+):[ \t]*([^\n]*(?:\n[ \t][^\n]*)*)", re.MULTILINE)
# RFC 2045 5.1 parameters: ; name = token | quoted-string (a ";" inside quotes stays).
_PARAM = re.compile(r';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"?|[^;]*)')
_B64_JUNK = re.compile(rb"[^A-Za-z0-9+/]")
STRUCTURE_FIELDS = ("content-type", "content-disposition", "content-transfer-encoding")

START_NOT_FOUND = "truncated MIME: start boundary not found"
CLOSE_NOT_FOUND = "truncated MIME: closing boundary not found"
NO_PARTS = "malformed MIME: multipart without parts"
NO_BOUNDARY = "malformed MIME: multipart without boundary"
BAD_BASE64 = "damaged base64 content"


def decode_header_bytes(value: bytes) -> tuple[str, bool]:
    """A raw header value as text, and whether its 8-bit bytes were unreadable.

    RFC 6532 allows UTF-8 in header fields; older mail writes raw Latin-1 / cp1252
    (no standard ever allowed it, but it is common and harmless), read as such. Only
    bytes that are neither (C1 controls cp1252 leaves undefined) are noted.
    """
    if value.isascii():
        return value.decode("ascii"), False
    try:
        return value.decode("utf-8"), False
    except UnicodeDecodeError:
        pass
    try:
        return value.decode("cp1252"), False
    except UnicodeDecodeError:
        return value.decode("latin-1"), True


def header_block(data: bytes, start: int, end: int) -> tuple[int, int]:
    """``(headers_end, body_start)`` of the part ``data[start:end]``.

    A blank line ends the headers; a line that is no header line starts the body
    (stdlib: MissingHeaderBodySeparatorDefect, which hides nothing).
    """
    match = _HEADER_LINES.match(data, start, end)
    stop = match.end() if match else start
    if data.startswith(b"\r\n", stop, end):
        return stop, stop + 2
    if data.startswith(b"\n", stop, end):
        return stop, stop + 1
    return stop, stop


def fields(data: bytes, start: int, stop: int, limit: int) -> Iterator[tuple[str, bytes]]:
    """``(lowercase name, raw value)`` of each header field in ``data[start:stop]``;
    at most ``limit``. The value keeps its folding (RFC 5322 2.2.3)."""
    for count, match in enumerate(_FIELD.finditer(data, start, stop)):
        if count >= limit:
            return
        yield match.group(1).decode("ascii").lower(), match.group(2)


def params(value: str) -> dict[str, str]:
    """The parameters of a Content-Type or Content-Disposition value, names lowercased,
    values unquoted; RFC 2231 continuations and charsets (``name*0*=utf-8''...``) joined."""
    pairs = [(m.group(1).lower(), m.group(2).strip()) for m in _PARAM.finditer(value)]
    if not any(name.endswith("*") or "*" in name for name, _ in pairs):
        return {name: unquote(val) for name, val in reversed(pairs)}
    out: dict[str, str] = {}
    for name, val in reversed(decode_params([("", ""), *pairs])[1:]):
        if isinstance(val, tuple):
            out[name] = collapse_rfc2231_value((val[0], val[1], unquote(val[2])))
        else:
            out[name] = unquote(val)
    return out


def content_type(value: str, default: str) -> str:
    """``maintype/subtype`` lowercased; ``default`` when absent or not of that form."""
    ctype = value.partition(";")[0].strip().lower()
    return ctype if ctype.count("/") == 1 else default


def decode_base64(data: bytes) -> tuple[bytes, bool]:
    """Base64 content (RFC 2045 6.8), and whether some of it was lost.

    Characters outside the alphabet are ignored as the RFC says; a missing pad is
    added. A length one past a multiple of four cannot be decoded: the whole groups are.
    """
    try:
        return binascii.a2b_base64(data), False
    except binascii.Error:
        pass
    clean = _B64_JUNK.sub(b"", data.partition(b"=")[0])
    if len(clean) % 4 == 1:
        return binascii.a2b_base64(clean[: len(clean) - 1]), True
    return binascii.a2b_base64(clean + b"=" * (-len(clean) % 4)), False


def decode_uu(data: bytes) -> bytes:
    """uuencoded content (``begin ... end``, not an RFC but still sent); bad lines skipped."""
    out: list[bytes] = []
    lines = iter(data.splitlines())
    for line in lines:
        if line.startswith(b"begin"):
            break
    for line in lines:
        if line.strip() == b"end":
            break
        try:
            out.append(binascii.a2b_uu(line))
        except binascii.Error:
            continue
    return b"".join(out)


def transfer_decode(data: bytes, encoding: str) -> tuple[bytes, bool]:
    """A part's content with its Content-Transfer-Encoding (RFC 2045 6) undone, and
    whether some of it was lost. Unknown encodings are kept as they are."""
    if encoding == "base64":
        return decode_base64(data)
    if encoding == "quoted-printable":
        return binascii.a2b_qp(data), False
    if encoding in ("x-uuencode", "uuencode", "uue", "x-uue"):
        return decode_uu(data), False
    return data, False


@dataclass(frozen=True, slots=True)
class Split:
    """The children of a multipart body, and what was wrong with its boundaries."""

    parts: tuple[tuple[int, int], ...]
    notes: tuple[str, ...]


def split_multipart(data: bytes, body: int, end: int, boundary: bytes, limit: int) -> Split:
    """The spans of the parts of ``data[body:end]``, at most ``limit`` of them.

    A boundary line starts a line and is ``--boundary`` then optionally ``--`` (the
    close delimiter), then only blanks (RFC 2046 5.1.1). The preamble and epilogue are
    not content. The line break before a boundary line belongs to the boundary.
    """
    marker = b"--" + boundary
    spans: list[tuple[int, int]] = []
    open_at = -1  # where the current part's content starts
    pos = body
    while len(spans) < limit:
        if pos == body and data.startswith(marker, body, end):
            at = body
        else:
            at = data.find(b"\n" + marker, pos, end)
            if at < 0:
                break
            at += 1
        after = at + len(marker)
        close = data.startswith(b"--", after, end)
        newline = data.find(b"\n", after, end)
        line_end = end if newline < 0 else newline
        rest = data[after + 2 if close else after : line_end]
        if rest.rstrip(b"\r").strip(b" \t"):
            # "--boundaryX": not a delimiter (another boundary may share the prefix)
            pos = after
            continue
        if open_at >= 0:
            stop = at - 1 if at > open_at else open_at
            if stop > open_at and data[stop - 1] == 0x0D:
                stop -= 1
            spans.append((open_at, max(stop, open_at)))
        if close:
            return Split(tuple(spans), ())
        open_at = end if newline < 0 else newline + 1
        pos = line_end
    if open_at < 0:
        return Split((), (START_NOT_FOUND, NO_PARTS))
    if len(spans) < limit:
        spans.append((open_at, end))
    return Split(tuple(spans), (CLOSE_NOT_FOUND,) if len(spans) < limit else ())
