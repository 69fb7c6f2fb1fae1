"""Mail messages: MIME (RFC 2045-2049) parsed into a ``MailMessage``.

The stdlib ``email`` package reads the structure with ``policy.compat32``: the
default policy's header parser is pure Python and re-parses a header on every
access (a 1 MiB Content-Type costs ~6 s per ``get_content_type()`` on 3.11), so
header values are decoded here instead (``mime_text``). Attackers write the input
(DESIGN.md, "Bad input and faults"): every limit hit and every damage that may
hide content is listed in ``MailMessage.unscannable``, and no input makes
``parse_message`` raise, hang or hold unbounded memory.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email.utils import getaddresses, parseaddr

from floodwall.ingest.mail_source import RawMail
from floodwall.normalize import archives, filetype, mime_tree, office_crypto
from floodwall.normalize.mime_text import (
    bare_urls,
    decode_header_value,
    decode_text,
    html_to_text,
    passwords_in,
    safe_name,
)
from floodwall.records import Attachment, Link, MailMessage

ARCHIVE_TYPES = frozenset({"zip", "7z", "rar", "tar", "gzip", "bzip2", "xz", "iso"})
_ADDRESS_CAP = 64 * 1024  # the address parser is pure Python; longer lists are not mail

# Header blocks start the message and follow each line that starts with "--", a
# possible boundary (RFC 2046 5.1.1). A field runs to the next line that does not
# start with white space (RFC 5322 2.2.3).
_BOUNDARY_LINE = re.compile(rb"\n--[^\r\n]*\r?\n")
_FIELD_NAME = re.compile(rb"([!-9;-~]{1,998})[ \t]*:")
_FIELD_END = re.compile(rb"\n(?![ \t])")
_BLANK_LINE = re.compile(rb"\n\r?\n")
_ADDR_SPEC = r"[A-Za-z0-9_+=-]+(?:\.[A-Za-z0-9_+=-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_PLAIN_ADDRESS = re.compile(
    rf"[ \t]*(?:(?P<bare>{_ADDR_SPEC})"
    rf'|(?:"(?P<quoted>[^"\\]+)"|(?P<name>[A-Za-z0-9_-]+(?: [A-Za-z0-9_-]+)*))?'
    rf"[ \t]*<(?P<addr>{_ADDR_SPEC})>)[ \t]*"
)
# RFC 3464 delivery status fields are text (they name the failed recipient and host).
_TEXT_TYPES = frozenset({"text/plain", "text/html", "message/delivery-status"})
_FOLD = re.compile(rb"\r?\n(?=[ \t])")  # RFC 5322 2.2.3 unfolding
# A part: (buffer, start, end, depth, default content type, (structure fields, body
# start) when already read).
_Fields = dict[str, str]
_Node = tuple[bytes, int, int, int, str, "tuple[_Fields, int] | None"]


@dataclass(frozen=True, slots=True)
class MimeLimits:
    """How much of one message is read; past a limit the message is unscannable."""

    max_parts: int = 1000
    max_depth: int = 30  # nested multiparts (and attached messages)
    max_decoded: int = 256 << 20  # decoded bytes of all parts together
    max_header: int = 1 << 20  # one header field; longer ones are cut
    # Content-* fields (RFC 2045) are parsed for structure by code that is quadratic
    # in the number of parameters; a real one is far shorter (RFC 5322 2.1.1: 998).
    max_mime_header: int = 8 * 1024
    max_headers: int = 10_000  # header fields of the message kept
    max_links: int = 10_000
    archive: archives.ArchiveLimits = field(default_factory=archives.ArchiveLimits)


def cut_long_headers(data: bytes, cap: int, mime_cap: int) -> tuple[bytes, list[str]]:
    """Cut every header field longer than ``cap`` bytes (Content-* ones: ``mime_cap``).

    Done before the parser sees the data: a 100 MB header would otherwise be copied
    several times and parsed field by field. Returns the data and a note per cut.
    """
    if len(data) <= min(cap, mime_cap):
        return data, []
    starts = [0]
    starts.extend(m.end() for m in _BOUNDARY_LINE.finditer(data))
    cuts: list[tuple[int, int, int]] = []
    notes: list[str] = []
    quick = min(cap, mime_cap)
    for pos in starts:
        if pos == 0 and data.startswith(b"From "):  # an mbox envelope line (RFC 4155)
            pos = data.find(b"\n") + 1 or len(data)
        blank = _BLANK_LINE.search(data, pos, pos + quick + 2)
        if blank is not None and blank.start() - pos < quick:
            continue  # a header block shorter than any cap holds no field to cut
        while (name := _FIELD_NAME.match(data, pos)) is not None:
            found = _FIELD_END.search(data, pos)
            end = found.start() + 1 if found else len(data)
            if end - pos > quick:  # only a field longer than the lower cap can be cut
                label = name.group(1).decode("ascii").lower()
                limit = mime_cap if label.startswith("content-") else cap
                if end - pos > limit:
                    cuts.append((pos, end, limit))
                    notes.append(f"header {label} longer than {limit} bytes, cut")
            pos = end
    if not cuts:
        return data, []
    pieces: list[bytes] = []
    last = 0
    for pos, end, limit in cuts:
        pieces.append(data[last:pos])
        pieces.append(data[pos : pos + limit].rstrip(b"\r\n \t"))
        pieces.append(b"\r\n" if data[end - 2 : end] == b"\r\n" else b"\n")
        last = end
    pieces.append(data[last:])
    return b"".join(pieces), notes


class _Scan:
    """What one walk over the MIME tree collected."""

    def __init__(self, limits: MimeLimits) -> None:
        self.limits = limits
        self.notes: list[str] = []
        self.texts: list[str] = []
        self.htmls: list[str] = []
        self.links: list[Link] = []
        self.attachments: list[Attachment] = []
        self.decoded = 0

    def walk(self, data: bytes, headers: _Fields, body: int) -> None:
        """Visit the parts depth first, in order, without recursion.

        A node is (buffer, start, end, depth, default type, fields and body start when
        already read); a ``message/*`` part whose content is transfer-encoded is decoded
        into a buffer of its own.
        """
        stack: list[_Node] = [(data, 0, len(data), 0, "text/plain", (headers, body))]
        count = 0
        while stack:
            buf, start, end, depth, default, known = stack.pop()
            count += 1
            if count > self.limits.max_parts:
                self.notes.append(f"more than {self.limits.max_parts} MIME parts")
                return
            if known is None:
                stop, body = mime_tree.header_block(buf, start, end)
                head = _structure_fields(buf, start, stop)
            else:
                head, body = known
            ctype = mime_tree.content_type(head.get("content-type", ""), default)
            maintype, _, subtype = ctype.partition("/")
            encoding = head.get("content-transfer-encoding", "").strip().lower()
            children: list[_Node] = []
            if maintype == "multipart":
                boundary = mime_tree.params(head.get("content-type", "")).get("boundary")
                if boundary is None or not boundary.rstrip():
                    self.notes.extend((mime_tree.NO_BOUNDARY, mime_tree.NO_PARTS))
                else:
                    split = mime_tree.split_multipart(
                        buf, body, end, _boundary_bytes(boundary), self.limits.max_parts
                    )
                    self.notes.extend(split.notes)
                    inner = "message/rfc822" if subtype == "digest" else "text/plain"
                    children = [(buf, s, e, depth + 1, inner, None) for s, e in split.parts]
            elif maintype == "message" and subtype != "delivery-status":
                # RFC 2046 5.2: the content is a whole message (7bit/8bit/binary only;
                # a transfer-encoded one is decoded first: senders do it, and it hides).
                inner_buf, inner_start, inner_end = buf, body, end
                if encoding in ("base64", "quoted-printable"):
                    inner_buf = self.payload(buf[body:end], encoding)
                    inner_start, inner_end = 0, len(inner_buf)
                children = [(inner_buf, inner_start, inner_end, depth + 1, "text/plain", None)]
            if not children:
                self.leaf(head, ctype, buf[body:end], encoding, count)
            elif depth >= self.limits.max_depth:
                self.notes.append(f"MIME nesting deeper than {self.limits.max_depth} levels")
            else:
                stack.extend(reversed(children))

    def payload(self, raw: bytes, encoding: str) -> bytes:
        data, lost = mime_tree.transfer_decode(raw, encoding)
        if lost:
            self.notes.append(mime_tree.BAD_BASE64)
        return data

    def leaf(self, head: dict[str, str], ctype: str, raw: bytes, encoding: str, n: int) -> None:
        """One part that holds content: body text, HTML, or an attachment."""
        disposition = head.get("content-disposition", "")
        # RFC 2183 filename, else the older Content-Type name (RFC 2045 7.3 / 1341)
        filename = mime_tree.params(disposition).get("filename")
        if filename is None:
            filename = mime_tree.params(head.get("content-type", "")).get("name")
        if filename is not None:  # RFC 2047 words in a name are not standard, but common
            filename = decode_header_value("filename", filename.strip(), self.notes)
        data = self.payload(raw, encoding)
        if self.decoded + len(data) > self.limits.max_decoded:
            self.notes.append(f"decoded MIME parts larger than {self.limits.max_decoded} bytes")
            return
        self.decoded += len(data)
        inline = disposition.partition(";")[0].strip().lower() != "attachment"
        if filename is None and inline and ctype in _TEXT_TYPES:
            charset = mime_tree.params(head.get("content-type", "")).get("charset")
            if charset is not None and not charset.isascii():
                charset = None
            where = f"part {n}"
            text = decode_text(data, charset.lower() if charset else None, where, self.notes)
            if ctype == "text/html":
                self.htmls.append(text)
                visible, links = html_to_text(text)
                self.texts.append(visible)
                self.links.extend(links)
            else:
                self.texts.append(text)
            return
        name, unsafe = safe_name(filename or "")
        self.attachments.append(
            Attachment(
                name=name,
                path=name or f"part{n}",
                depth=0,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                declared_type=ctype,
                true_type=filetype.true_type(data, name),
                data=data,
                problems=("unsafe file name",) if unsafe else (),
            )
        )

    def unpack(self, text: str) -> None:
        """Open the archives, then the encrypted Office files (MS-OFFCRYPTO) among the
        attachments and their members, with the passwords of the text."""
        if not any(att.true_type in ARCHIVE_TYPES | {"ole"} for att in self.attachments):
            return  # the password search reads the whole text: only when needed
        passwords = passwords_in(text)
        for att in list(self.attachments):
            if att.true_type in ARCHIVE_TYPES:
                members, reasons = archives.unpack(
                    att, passwords=passwords, limits=self.limits.archive
                )
                self.attachments.extend(members)
                self.notes.extend(reasons)
        for i, att in enumerate(list(self.attachments)):
            if att.true_type == "ole" and office_crypto.is_encrypted_office(att.data):
                self.attachments[i], members, reasons = office_crypto.open_encrypted(att, passwords)
                self.attachments.extend(members)
                self.notes.extend(reasons)

    def link_list(self) -> tuple[Link, ...]:
        """HTML links, then bare URLs of the text not already linked; at most ``max_links``."""
        seen: set[Link] = set()
        urls: set[str] = set()
        out: list[Link] = []
        bare = (Link(url) for text in self.texts for url in bare_urls(text))
        for link in (*self.links, *bare):
            if link in seen or (not link.text and link.url in urls):
                continue
            if len(out) >= self.limits.max_links:
                self.notes.append(f"more than {self.limits.max_links} links")
                break
            seen.add(link)
            urls.add(link.url)
            out.append(link)
        return tuple(out)


def _parseaddr(value: str) -> tuple[str, str]:
    """``email.utils.parseaddr``, with a fast path for the plain forms most mail uses
    (``a@b.c``, ``<a@b.c>``, ``Name <a@b.c>``, ``"Name" <a@b.c>``): the stdlib parser
    is pure Python and walks the value character by character (RFC 5322 3.4)."""
    plain = _PLAIN_ADDRESS.fullmatch(value)
    if plain is not None:
        name = plain.group("quoted") or plain.group("name") or ""
        return name, plain.group("addr") or plain.group("bare")
    return parseaddr(value[:_ADDRESS_CAP])


def _addresses(values: list[str]) -> tuple[str, ...]:
    found: list[str] = []
    for value in values:
        plain = _PLAIN_ADDRESS.fullmatch(value)
        if plain is not None:
            found.append(plain.group("addr") or plain.group("bare"))
        else:
            found.extend(addr for _, addr in getaddresses([value[:_ADDRESS_CAP]]))
    return tuple(addr.lower() for addr in found if addr)


def _structure_fields(data: bytes, start: int, stop: int) -> dict[str, str]:
    """The first Content-Type, -Disposition and -Transfer-Encoding of a part's headers."""
    found: dict[str, str] = {}
    for name, value in mime_tree.fields(data, start, stop, 10_000):
        if name in mime_tree.STRUCTURE_FIELDS and name not in found:
            found[name] = _FOLD.sub(b"", value).decode("latin-1").strip()
    return found


def _boundary_bytes(boundary: str) -> bytes:
    # RFC 2046 5.1.1: boundaries are 7-bit; 8-bit ones were read as Latin-1 and match so
    return boundary.rstrip().encode("latin-1", "replace")


def _build(raw: RawMail, data: bytes, notes: list[str], limits: MimeLimits) -> MailMessage:
    """Parse ``data`` (headers already cut) and collect every field of the message."""
    stop, body = mime_tree.header_block(data, 0, len(data))
    headers: list[tuple[str, str]] = []
    structure: dict[str, str] = {}
    for name, value in mime_tree.fields(data, 0, stop, limits.max_headers + 1):
        if len(headers) >= limits.max_headers:
            notes.append(f"more than {limits.max_headers} header fields")
            break
        decoded, unreadable = mime_tree.decode_header_bytes(value)
        if unreadable:
            notes.append(f"invalid 8-bit bytes in header {name[:60]}")
        headers.append((name, decode_header_value(name, decoded, notes)))
        if name in mime_tree.STRUCTURE_FIELDS and name not in structure:
            structure[name] = _FOLD.sub(b"", value).decode("latin-1").strip()
    if not headers and raw.data.strip():
        notes.append("no header fields (not a mail message)")
    scan = _Scan(limits)
    scan.walk(data, structure, body)
    values: dict[str, list[str]] = {}
    for label, text in headers:
        values.setdefault(label, []).append(text)

    def first(name: str) -> str:
        return values.get(name, [""])[0]

    from_name, from_addr = _parseaddr(first("from"))
    text = "\n".join(scan.texts)
    scan.unpack(text)
    links = scan.link_list()
    return MailMessage(
        origin=raw.origin,
        message_id=first("message-id"),
        sha256=hashlib.sha256(raw.data).hexdigest(),
        headers=tuple(headers),
        from_addr=from_addr.lower(),
        from_name=from_name,
        reply_to=_addresses(values.get("reply-to", [])),
        return_path=_parseaddr(first("return-path"))[1].lower(),
        to=_addresses(values.get("to", []) + values.get("cc", [])),
        subject=first("subject"),
        text=text,
        html="\n".join(scan.htmls),
        links=links,
        attachments=tuple(scan.attachments),
        unscannable=tuple(dict.fromkeys(notes + scan.notes)),
    )


def parse_message(raw: RawMail, *, limits: MimeLimits = MimeLimits()) -> MailMessage:
    """The ``MailMessage`` of one raw message; never raises.

    Anything unexpected becomes a message with ``unscannable=("cannot parse: ...",)``.
    """
    notes: list[str] = []
    try:
        if raw.truncated:
            notes.append(f"message larger than {len(raw.data)} bytes")
        if not raw.data.strip():
            notes.append("empty message")
        data, cut = cut_long_headers(raw.data, limits.max_header, limits.max_mime_header)
        notes.extend(cut)
        return _build(raw, data, notes, limits)
    except RecursionError:
        reason = "cannot parse: MIME nesting too deep for the parser"
    except Exception as exc:
        reason = f"cannot parse: {type(exc).__name__}: {exc}"[:300]
    return MailMessage(
        origin=raw.origin,
        message_id="",
        sha256=hashlib.sha256(raw.data).hexdigest(),
        headers=(),
        from_addr="",
        from_name="",
        unscannable=(*notes, reason),
    )
