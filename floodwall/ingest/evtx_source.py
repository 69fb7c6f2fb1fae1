"""EVTX files, read chunk by chunk so that damage stays local and is reported.

The ``evtx`` package (Rust) is used behind this thin adapter (DESIGN.md: outside
libraries sit behind adapters). Left to itself it silently drops a truncated
chunk, drops every chunk after an unreadable one unless ``skip_errors`` is set,
refuses a file whose header is damaged, and fills the missing tail of a cut record
with zeros. So each 64 KiB chunk is handed to its own parser behind a fresh file
header, and truncation, checksums and the record ranges are checked here. A
corrupted EVTX chunk must give a clear verdict and never a crash (DESIGN.md, "Bad
input and faults").
"""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib
from collections.abc import Iterator
from itertools import pairwise
from typing import BinaryIO, ClassVar

import evtx
import msgspec

from floodwall.ingest.base import Decoded, InputError, RawRecord, raw_records
from floodwall.ingest.intake import IntakeLog

FILE_MAGIC = b"ElfFile\x00"
CHUNK_MAGIC = b"ElfChnk\x00"
RECORD_MAGIC = b"**\x00\x00"
HEADER_SIZE = 4096
CHUNK_SIZE = 65536
_CHUNK_HEADER = 512  # chunk header + string and template tables precede the records

_decode = msgspec.json.Decoder().decode


def _file_header() -> bytes:
    """A valid one-chunk file header, put in front of each chunk read on its own."""
    head = struct.pack("<8sQQQIHHHH", FILE_MAGIC, 0, 0, 1, 128, 2, 3, HEADER_SIZE, 1)
    head = head.ljust(120, b"\x00") + struct.pack("<I", 0)
    head += struct.pack("<I", zlib.crc32(head[:120]))
    return head.ljust(HEADER_SIZE, b"\x00")


_HEADER = _file_header()


def _where(chunk: int, offset: int = 0) -> str:
    return f"offset 0x{HEADER_SIZE + chunk * CHUNK_SIZE + offset:x} (chunk {chunk})"


def _record_spans(chunk: bytes, end: int) -> dict[int, int]:
    """EventRecordID → end offset of each record whose header is readable before ``end``."""
    spans: dict[int, int] = {}
    off = _CHUNK_HEADER
    while off + 24 <= end and chunk[off : off + 4] == RECORD_MAGIC:
        size, record_id = struct.unpack_from("<IQ", chunk, off + 4)
        if size < 24:
            break
        spans[record_id] = off + size
        off += size
    return spans


class EvtxSource:
    """Reads Windows event log files (``.evtx``) into ``{"Event": {...}}`` raw records.

    Every readable record is yielded, also from a file with a damaged header, a
    truncated tail or damaged chunks; each damaged piece goes to ``intake.problem``
    with ``where`` = ``"offset 0x… (chunk N)"`` (N counted from 0) or ``"record N"``.
    A chunk whose checksum does not match is read, and reported as possibly altered.
    """

    name: ClassVar[str] = "evtx"

    def read(self, path: str, intake: IntakeLog) -> Iterator[RawRecord]:
        return raw_records(path, self.read_decoded(path, intake))

    def read_range(
        self, path: str, start: int, end: int, first: int, intake: IntakeLog
    ) -> Iterator[RawRecord]:
        """The chunks in bytes ``start``..``end`` of a file cut by ``split_evtx``, so that
        workers share one large file; ``first`` is unused (EVTX records carry their ids).
        Only the range at 0 checks and reports the file header."""
        return raw_records(path, self.read_decoded(path, intake, (start, end, first)))

    def read_decoded(
        self, path: str, intake: IntakeLog, part: tuple[int, int, int] | None = None
    ) -> Iterator[Decoded]:
        """``(EventRecordID, JSON text, object)`` per record: what ``read`` (or
        ``read_range`` with ``part``) gives, without the records, plus the JSON text the
        parser wrote for each (UTF-8). For the hunt's quick path."""
        if part is None:
            return self._read(self._open(path), path, intake)
        return self._read(self._open(path), path, intake, part[0], part[1])

    @staticmethod
    def _open(path: str) -> BinaryIO:
        try:
            return open(path, "rb")  # closed by the generator that reads it
        except OSError as exc:
            raise InputError(f"cannot open EVTX file {path!r}: {exc.strerror or exc}") from exc

    def _read(
        self, stream: BinaryIO, path: str, intake: IntakeLog, start: int = 0, end: int = -1
    ) -> Iterator[Decoded]:
        with stream:
            header = stream.read(HEADER_SIZE)
            if not header:
                intake.problem(path, "offset 0x0", "empty file, no EVTX header")
                return
            header_ok = header.startswith(FILE_MAGIC) and len(header) == HEADER_SIZE
            if len(header) < HEADER_SIZE and header.startswith(FILE_MAGIC):
                intake.problem(path, f"offset 0x{len(header):x}", "file truncated inside header")
                return
            if not header_ok and start == 0:
                # Keep going: the chunks carry the records, the header only counts them.
                intake.problem(path, "offset 0x0 (file header)", "EVTX file header damaged")
            index = max(0, start - HEADER_SIZE) // CHUNK_SIZE
            stop = -(-(end - HEADER_SIZE) // CHUNK_SIZE) if end >= 0 else 1 << 62
            if index:
                stream.seek(HEADER_SIZE + index * CHUNK_SIZE)
            found = 0
            while index < stop and (chunk := stream.read(CHUNK_SIZE)):
                intake.position = stream.tell() - start
                if chunk.startswith(CHUNK_MAGIC):
                    found += 1
                    yield from self._chunk(chunk, index, path, intake)
                elif chunk.strip(b"\x00") and header_ok:
                    # All-zero chunks are preallocated and unused, not damage.
                    intake.problem(path, _where(index), "not an EVTX chunk (bad chunk magic)")
                index += 1
            if not header_ok and not found and start == 0:
                intake.problem(path, "offset 0x1000", "no EVTX chunk found: not an EVTX file")

    def _chunk(self, chunk: bytes, index: int, path: str, intake: IntakeLog) -> Iterator[Decoded]:
        cut = len(chunk)
        expected = _expected_count(chunk)
        if cut < CHUNK_SIZE:
            intake.problem(path, _where(index, cut), f"file truncated inside chunk ({cut} bytes)")
            chunk = chunk.ljust(CHUNK_SIZE, b"\x00")
        else:
            self._check_sums(chunk, index, path, intake)
        free = min(struct.unpack_from("<I", chunk, 48)[0], cut)
        spans = _record_spans(chunk, free)
        expected = max(expected, len(spans))
        records, messages = self._parse(chunk, path) if cut >= _CHUNK_HEADER else ([], [])
        per_record = 0
        for message in messages:
            where = _where_message(message, index)
            per_record += where.startswith("record ")
            intake.problem(path, where, message)
        if cut < CHUNK_SIZE:
            whole = []
            for record in records:
                record_id = record[0]
                if spans.get(record_id, CHUNK_SIZE + 1) > cut:
                    # The parser reads the zero padding as values: a cut record is not one.
                    intake.problem(path, f"record {record_id}", "record cut off by truncation")
                    per_record += 1
                else:
                    whole.append(record)
            records = whole
        delivered = len(records)
        yield from records
        intake.count(path, delivered)
        lost = expected - delivered - per_record
        if lost > 0:
            intake.problem(path, _where(index), f"{lost} of {expected} record(s) in chunk lost")

    @staticmethod
    def _check_sums(chunk: bytes, index: int, path: str, intake: IntakeLog) -> None:
        """Report checksum mismatches: the records are still read but may be altered."""
        free = min(struct.unpack_from("<I", chunk, 48)[0], CHUNK_SIZE)
        (expected_head,) = struct.unpack_from("<I", chunk, 124)
        actual_head = zlib.crc32(chunk[128:_CHUNK_HEADER], zlib.crc32(chunk[:120]))
        (expected_data,) = struct.unpack_from("<I", chunk, 52)
        actual_data = zlib.crc32(chunk[_CHUNK_HEADER:free]) if free > _CHUNK_HEADER else 0
        if expected_head != actual_head or expected_data != actual_data:
            part = "header" if expected_head != actual_head else "records"
            intake.problem(path, _where(index), f"chunk {part} checksum mismatch: may be altered")

    @staticmethod
    def _parse(chunk: bytes, path: str) -> tuple[list[Decoded], list[str]]:
        """Parse one chunk; returns its records and the parser's error messages."""
        records: list[Decoded] = []
        append = records.append
        messages: list[str] = []
        # The parser turns recoverable errors into RuntimeWarnings with skip_errors;
        # they are collected here, inside the chunk, so no warning state crosses a yield.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                parser = evtx.PyEvtxParser(
                    io.BytesIO(_HEADER + chunk), number_of_threads=1, skip_errors=True
                )
                for item in parser.records_json():
                    if type(item) is not dict:  # typed Optional[Any] by evtx's stubs
                        continue
                    text = item["data"].encode("utf-8", "surrogatepass")
                    try:
                        data = _decode(text)
                    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
                        messages.append(f"record {item['event_record_id']}: bad JSON: {exc}")
                        continue
                    if type(data) is dict:
                        append((int(item["event_record_id"]), text, data))
            except Exception as exc:  # any parser failure is damage, never a crash
                messages.append(f"{type(exc).__name__}: {exc}")
        prefix = "Skipping EVTX data: "
        messages[:0] = [str(w.message).removeprefix(prefix) for w in caught]
        return records, messages


def split_evtx(path: str, parts: int, min_bytes: int = 4 << 20) -> list[tuple[int, int, int]]:
    """Cut an EVTX file into up to ``parts`` ranges ``(start, end, 0)`` of whole chunks for
    ``EvtxSource.read_range``; ``[]`` when the file is small or has no EVTX file header."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            magic = fh.read(len(FILE_MAGIC))
    except OSError:
        return []
    chunks = -(-(size - HEADER_SIZE) // CHUNK_SIZE)
    if size < min_bytes or parts < 2 or magic != FILE_MAGIC or chunks < 2:
        return []
    parts = min(parts, chunks)
    cuts = [HEADER_SIZE + chunks * i // parts * CHUNK_SIZE for i in range(parts)]
    cuts[0] = 0  # the first range reads (and checks) the file header
    return [(a, b, 0) for a, b in pairwise([*cuts, size])]


def _expected_count(chunk: bytes) -> int:
    """How many records the chunk header says it holds (0 when the range is not sane)."""
    if len(chunk) < 40:
        return 0
    first, last = struct.unpack_from("<QQ", chunk, 24)
    count = last - first + 1
    # A record takes at least 24 bytes, so a larger range is itself damage.
    return count if 0 < count <= (CHUNK_SIZE - _CHUNK_HEADER) // 24 else 0


def _where_message(message: str, index: int) -> str:
    """``record N`` when the parser names the record, else the chunk's offset."""
    marker = "record number "
    at = message.find(marker)
    if at >= 0:
        digits = message[at + len(marker) :].split(":", 1)[0].strip()
        if digits.isdigit():
            return f"record {digits}"
    return _where(index)
