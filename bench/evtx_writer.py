"""EVTX out: records as BinXML TemplateInstances in 64 KiB chunks, as Windows writes them.

The format follows libevtx's "Windows XML Event Log (EVTX)" notes and MS-EVEN6 3.1.4.7
(BinXML): a template (the element tree, with substitution tokens for the values) is
defined inline at its first use in a chunk and referenced by offset after that; a name
is written inline once per chunk and referenced after that; the chunk's string table
(64 hash buckets) and template table (32 buckets) list them, chained through their
"next offset" fields; the file header and every chunk carry their CRC32 checksums.
Used by ``make_evtx.py`` (which says where the records come from).
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CHUNK = 0x10000
RECORDS_START = 512
FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
FILETIME_TICKS_2024 = 133_594_560_000_000_000  # 2024-05-06, the events' day

# BinXML value types (libevtx "Value types").
NULL, STRING, UINT8, UINT16, UINT32, UINT64, INT64, REAL64 = 0, 1, 4, 6, 8, 10, 9, 12
BOOL, GUID, FILETIME, SID, HEX64 = 13, 15, 17, 19, 21


# --- the model: an element tree whose leaves are typed values --------------------------


@dataclass(frozen=True, slots=True)
class Val:
    """A substitution value: its BinXML type and encoded bytes."""

    type: int
    data: bytes
    optional: bool = False


@dataclass(slots=True)
class Node:
    name: str
    attrs: list[tuple[str, Val | str]] = field(default_factory=list)
    children: list[Node | Val | str] = field(default_factory=list)


def u16(n: int) -> bytes:
    return struct.pack("<H", n)


def u32(n: int) -> bytes:
    return struct.pack("<I", n)


def string(text: str) -> Val:
    return Val(STRING, text.encode("utf-16-le", "surrogatepass"))


def number(value: int, kind: int) -> Val:
    fmt = {UINT8: "<B", UINT16: "<H", UINT32: "<I", UINT64: "<Q", HEX64: "<Q", INT64: "<q"}
    return Val(kind, struct.pack(fmt[kind], value))


def scalar(value: Any) -> Val:
    """A JSON value as the type the evtx package renders back as the same JSON."""
    if value is None:
        return Val(NULL, b"", optional=True)
    if type(value) is bool:
        return Val(BOOL, u32(int(value)))
    if type(value) is int:
        if 0 <= value < 1 << 32:
            return number(value, UINT32)
        if 0 <= value < 1 << 64:
            return number(value, UINT64)
        return number(value, INT64)
    if type(value) is float:
        return Val(REAL64, struct.pack("<d", value))
    return string(value if type(value) is str else str(value))


def filetime(text: str) -> Val:
    when = datetime.fromisoformat(text.strip().replace(" ", "T").replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = when - FILETIME_EPOCH
    ticks = (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10
    return Val(FILETIME, u64(ticks))


def u64(n: int) -> bytes:
    return struct.pack("<Q", n)


def guid(text: str) -> Val:
    return Val(GUID, uuid.UUID(text.strip("{}")).bytes_le)


def sid(text: str) -> Val:
    """A SID string (S-1-5-21-...) as MS-DTYP 2.4.2.2 binary; other text stays a string."""
    parts = text.split("-")
    if len(parts) < 3 or parts[0] != "S" or not all(p.isdigit() for p in parts[1:]):
        return string(text)
    subs = [int(p) for p in parts[3:]]
    head = struct.pack("<BB", int(parts[1]), len(subs)) + int(parts[2]).to_bytes(6, "big")
    return Val(SID, head + b"".join(u32(s) for s in subs))


def keywords(value: Any) -> Val:
    if type(value) is int:
        return number(value & 0xFFFFFFFFFFFFFFFF, HEX64)
    text = str(value or "0x8000000000000000")
    return number(int(text, 16) if text.lower().startswith("0x") else int(text) % (1 << 64), HEX64)


def small(value: Any, kind: int, default: int = 0) -> Val:
    text = str(value).strip()
    return number(int(text) if text.lstrip("-").isdigit() else default, kind)


# --- BinXML out -----------------------------------------------------------------------


def name_hash(name: str) -> int:
    """The 16-bit name hash of libevtx's notes: h = h * 65599 + c per UTF-16 unit."""
    h = 0
    for unit in struct.unpack(f"<{len(name.encode('utf-16-le')) // 2}H", name.encode("utf-16-le")):
        h = (h * 65599 + unit) & 0xFFFFFFFF
    return h & 0xFFFF


def shape(node: Node | Val | str) -> Any:
    """The template key: the tree with literal text, and substitutions by type only."""
    if isinstance(node, Val):
        return (node.type, node.optional)
    if isinstance(node, str):
        return node
    return (
        node.name,
        tuple((k, shape(v)) for k, v in node.attrs),
        tuple(shape(c) for c in node.children),
    )


def values(node: Node | Val | str, out: list[Val]) -> list[Val]:
    """The substitution values in document order (the template numbers them so)."""
    if isinstance(node, Val):
        out.append(node)
    elif isinstance(node, Node):
        for _, v in node.attrs:
            values(v, out)
        for c in node.children:
            values(c, out)
    return out


class Encoder:
    """Encodes one template body at a known chunk offset; collects the names' offsets."""

    def __init__(self, known: dict[str, int]) -> None:
        self.index = 0
        self.known = known  # names already in the chunk: referenced, as Windows does
        self.names: list[tuple[int, int, str]] = []  # (offset, hash, name) written inline

    def name_offset(self, text: str, pos: int) -> int:
        """Where the name is: an earlier copy in the chunk, else inline at ``pos``."""
        at = self.known.get(text)
        if at is None:
            for offset, _, seen in self.names:
                if seen == text:
                    return offset
        return pos if at is None else at

    def name(self, text: str, pos: int) -> bytes:
        if self.name_offset(text, pos) != pos:
            return b""
        h = name_hash(text)
        self.names.append((pos, h, text))
        raw = text.encode("utf-16-le")
        return u32(0) + u16(h) + u16(len(raw) // 2) + raw + b"\0\0"

    def value(self, v: Val | str) -> bytes:
        if isinstance(v, str):
            raw = v.encode("utf-16-le", "surrogatepass")
            return b"\x05\x01" + u16(len(raw) // 2) + raw
        self.index += 1
        token = 0x0E if v.optional or v.type == NULL else 0x0D
        return bytes([token]) + u16(self.index - 1) + bytes([v.type])

    def element(self, node: Node, pos: int) -> bytes:
        token = 0x41 if node.attrs else 0x01
        name_pos = pos + 11  # token, dependency id (u16), data size, name offset
        name_at = self.name_offset(node.name, name_pos)
        body = bytearray(self.name(node.name, name_pos))
        cur = name_pos + len(body)
        if node.attrs:
            attrs = bytearray()
            at = cur + 4
            for i, (key, v) in enumerate(node.attrs):
                more = 0x46 if i < len(node.attrs) - 1 else 0x06
                key_at = self.name_offset(key, at + 5)
                piece = bytes([more]) + u32(key_at) + self.name(key, at + 5) + self.value(v)
                attrs += piece
                at += len(piece)
            body += u32(len(attrs)) + attrs
            cur = at
        if node.children:
            body += b"\x02"
            cur += 1
            for child in node.children:
                piece = self.element(child, cur) if isinstance(child, Node) else self.value(child)
                body += piece
                cur += len(piece)
            body += b"\x04"
        else:
            body += b"\x03"
        data = u32(name_at) + bytes(body)
        return bytes([token]) + u16(0xFFFF) + u32(len(data)) + data


class Chunk:
    """One 64 KiB chunk being filled with records."""

    def __init__(self) -> None:
        self.buf = bytearray(CHUNK)
        self.pos = RECORDS_START
        self.first = self.last = 0
        self.last_offset = 0
        self.templates: dict[Any, int] = {}
        self.strings = [0] * 64
        self.names: dict[str, int] = {}
        self.template_heads = [0] * 32

    def add(self, node: Node, record_id: int, written: int) -> bool:
        """Append one record; ``False`` (nothing written) when it does not fit."""
        key = shape(node)
        r = self.pos
        tid = zlib.crc32(repr(key).encode())
        known = self.templates.get(key)
        enc = Encoder(self.names)
        head = b"\x0f\x01\x01\x00" + b"\x0c\x01" + u32(tid)
        definition = b""
        def_pos = r + 24 + 4 + 10
        if known is None:
            body = enc.element(node, def_pos + 24 + 4)
            data = b"\x0f\x01\x01\x00" + body + b"\x00"
            guid_bytes = tid.to_bytes(4, "little") + bytes(12)
            definition = u32(0) + guid_bytes + u32(len(data)) + data
        vals = values(node, [])
        subs = u32(len(vals)) + b"".join(u16(len(v.data)) + bytes([v.type, 0]) for v in vals)
        binxml = head + u32(def_pos if known is None else known) + definition + subs
        binxml += b"".join(v.data for v in vals) + b"\x00"
        size = 24 + len(binxml) + 4
        if r + size > CHUNK:
            return False
        record = b"**\x00\x00" + u32(size) + u64(record_id) + u64(written) + binxml + u32(size)
        self.buf[r : r + size] = record
        if known is None:
            self.templates[key] = def_pos
            bucket = tid % 32
            self.buf[def_pos : def_pos + 4] = u32(self.template_heads[bucket])
            self.template_heads[bucket] = def_pos
            for offset, h, text in enc.names:
                self.buf[offset : offset + 4] = u32(self.strings[h % 64])
                self.strings[h % 64] = offset
                self.names[text] = offset
        self.first = self.first or record_id
        self.last = record_id
        self.last_offset = r
        self.pos = r + size
        return True

    def bytes(self) -> bytes:
        """The finished chunk: header, tables and checksums (libevtx "Chunk header")."""
        b = self.buf
        b[0:8] = b"ElfChnk\x00"
        b[8:40] = struct.pack("<QQQQ", self.first, self.last, self.first, self.last)
        b[40:52] = struct.pack("<III", 128, self.last_offset, self.pos)
        b[52:56] = u32(zlib.crc32(b[RECORDS_START : self.pos]))
        b[120:124] = u32(1)
        b[128:384] = b"".join(u32(o) for o in self.strings)
        b[384:512] = b"".join(u32(o) for o in self.template_heads)
        b[124:128] = u32(zlib.crc32(b[128:512], zlib.crc32(b[:120])))
        return bytes(b)


def file_header(chunks: int, next_record: int) -> bytes:
    """The 4 KiB file header (libevtx "File header"), checksum over its first 120 bytes."""
    head = struct.pack(
        "<8sQQQIHHHH", b"ElfFile\x00", 0, chunks - 1, next_record, 128, 2, 3, 4096, chunks
    )
    head = head.ljust(120, b"\x00")
    head += u32(0) + u32(zlib.crc32(head))
    return head.ljust(4096, b"\x00")


def write(path: Path, nodes: Iterator[Node]) -> tuple[int, int]:
    """Write every record to ``path``; returns (records, chunks)."""
    chunks: list[bytes] = []
    chunk = Chunk()
    count = 0
    for node in nodes:
        count += 1
        written = FILETIME_TICKS_2024 + count * 100_000
        if not chunk.add(node, count, written):
            chunks.append(chunk.bytes())
            chunk = Chunk()
            if not chunk.add(node, count, written):
                raise ValueError(f"record {count} is larger than a chunk")
    if chunk.first:
        chunks.append(chunk.bytes())
    with path.open("wb") as out:
        out.write(file_header(len(chunks), count + 1))
        for data in chunks:
            out.write(data)
    return count, len(chunks)
