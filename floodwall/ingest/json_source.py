"""JSON logs: NDJSON lines (the hot path), a JSON array, or concatenated objects.

Gzip is detected by its magic bytes and decompressed as a stream, so no file is
ever held whole. Attackers write the input (DESIGN.md, "Bad input and faults"):
every line that cannot be read is reported to the intake log with its line number
and skipped, and the rest of the file is still read.
"""

from __future__ import annotations

import codecs
import json
import os
import sys
import zlib
from collections.abc import Iterable, Iterator
from itertools import chain, pairwise
from typing import Any, BinaryIO, ClassVar

import msgspec

from floodwall.ingest.base import Decoded, InputError, RawRecord, raw_records
from floodwall.ingest.intake import IntakeLog

BLOCK = 1 << 20  # read size; lines are split per block, not per readline call
MAX_LINE = 16 << 20  # a longer line (or array element) is damage, not a record
MAX_DEPTH = 128  # arrays and documents: deeper nesting is damage; no real log nests this deep
GZIP_MAGIC = b"\x1f\x8b"
_BOM = codecs.BOM_UTF8
# One decoder for the module: sources travel to worker processes, and a msgspec
# Decoder cannot be pickled.
_decode = msgspec.json.Decoder().decode


class StreamDamage(Exception):
    """The byte stream itself is damaged (a truncated or corrupt gzip member)."""


def gunzip(blocks: Iterable[bytes]) -> Iterator[bytes]:
    """Decompress gzip blocks as they come, each output at most ``BLOCK`` bytes.

    Handles concatenated members. Raises ``StreamDamage`` after yielding all the
    data that could be recovered, so that a truncated file keeps what it read.
    """
    inflater = zlib.decompressobj(wbits=31)
    fed = False
    for block in blocks:
        data = block
        while data:
            fed = True
            try:
                out = inflater.decompress(data, BLOCK)
            except zlib.error as exc:
                raise StreamDamage(f"corrupt gzip data: {exc}") from exc
            if out:
                yield out
            if inflater.eof:
                data = inflater.unused_data
                if not data.strip(b"\x00"):  # zero padding after the last member is allowed
                    fed = False
                    break
                inflater = zlib.decompressobj(wbits=31)
            else:
                data = inflater.unconsumed_tail
    if fed and not inflater.eof:
        tail = inflater.flush()
        if tail:
            yield tail
        raise StreamDamage("gzip stream truncated (no end-of-stream marker)")


def open_blocks(path: str) -> tuple[Iterator[bytes], BinaryIO | None]:
    """The decompressed blocks of ``path`` (``-`` is stdin) and the file to close."""
    if path == "-":
        stream: BinaryIO = sys.stdin.buffer
        owned = None
    else:
        try:
            stream = open(path, "rb")  # noqa: SIM115 - the caller closes it
        except OSError as exc:
            raise InputError(f"cannot open {path!r}: {exc.strerror or exc}") from exc
        owned = stream
    first = stream.read(BLOCK)
    raw = chain([first], iter(lambda: stream.read(BLOCK), b""))
    blocks = gunzip(raw) if first.startswith(GZIP_MAGIC) else raw
    return blocks, owned


def tracked(
    blocks: Iterator[bytes], stream: BinaryIO, start: int, intake: IntakeLog
) -> Iterator[bytes]:
    """``blocks``, noting in ``intake.position`` how far into ``stream`` (from
    ``start``) each one was read."""
    for block in blocks:
        intake.position = stream.tell() - start
        yield block


def depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """Nesting depth of a decoded value, without recursion, stopping past ``limit``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if level > deepest:
            deepest = level
            if deepest > limit:
                break
        children = item.values() if type(item) is dict else item if type(item) is list else ()
        stack.extend((child, level + 1) for child in children if type(child) in (dict, list))
    return deepest


class NdjsonSource:
    """Reads NDJSON (one object per line), a JSON array of objects, or JSON objects.

    ``.gz`` is read transparently and ``-`` is stdin. ``record_id`` is the 1-based
    line number for NDJSON and the 1-based element number for arrays and
    concatenated (pretty-printed) objects. Bad lines are reported and skipped.
    """

    name: ClassVar[str] = "ndjson"

    def __init__(self, max_line: int = MAX_LINE, max_depth: int = MAX_DEPTH) -> None:
        self.max_line = max_line
        self.max_depth = max_depth

    def read(self, path: str, intake: IntakeLog) -> Iterator[RawRecord]:
        return raw_records(path, self.read_decoded(path, intake))

    def read_decoded(
        self, path: str, intake: IntakeLog, part: tuple[int, int, int] | None = None
    ) -> Iterator[Decoded]:
        """``(record_id, text, object)`` per record: what ``read`` (or ``read_range``
        with ``part``) gives, without the records, plus each NDJSON line's own bytes
        (``None`` for a record of a JSON document). For the hunt's quick path, which
        makes records only of the events it reports."""
        if part is not None:
            return self._range_lines(path, *part, intake)
        blocks, owned = open_blocks(path)
        if owned is not None:
            blocks = tracked(blocks, owned, 0, intake)
        return self._read(blocks, owned, path, intake)

    def _read(
        self, blocks: Iterator[bytes], owned: BinaryIO | None, path: str, intake: IntakeLog
    ) -> Iterator[Decoded]:
        try:
            try:
                first = next(blocks, b"")  # the first block decides the mode
            except StreamDamage as exc:
                intake.problem(path, "line 1", str(exc))
                return
            if first.startswith(_BOM):
                first = first[len(_BOM) :]
            head = first.lstrip()
            rest = chain([first], blocks)
            if head.startswith((b"[", b"{")) and not self._is_line(head):
                yield from self._documents(rest, path, intake, array=head.startswith(b"["))
            else:
                yield from self._lines(rest, path, intake)
        finally:
            if owned is not None:
                owned.close()

    def _is_line(self, head: bytes) -> bool:
        """Whether ``head`` starts NDJSON rather than a document (an array, pretty objects).

        NDJSON: the first line is a whole JSON value and more lines follow, or it is
        an object on its own line. Otherwise the first line only opens a document.
        """
        end = head.find(b"\n")
        if end < 0:
            return head.startswith(b"{")  # one line, or a line too long for a block
        line = head[:end].rstrip()
        try:
            value = _decode(line)
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
            # A damaged first line of NDJSON still ends like an object.
            return line.startswith(b"{") and line.endswith(b"}")
        return isinstance(value, dict) or bool(head[end:].strip())

    def read_range(
        self, path: str, start: int, end: int, first_line: int, intake: IntakeLog
    ) -> Iterator[RawRecord]:
        """The NDJSON lines of a plain file's byte range ``[start, end)``, which starts at
        line ``first_line``. Lets workers share one large file (see ``split_ndjson``)."""
        return raw_records(path, self._range_lines(path, start, end, first_line, intake))

    def _range_lines(
        self, path: str, start: int, end: int, first_line: int, intake: IntakeLog
    ) -> Iterator[Decoded]:
        try:
            stream = open(path, "rb")  # noqa: SIM115 - closed in the generator below
        except OSError as exc:
            raise InputError(f"cannot open {path!r}: {exc.strerror or exc}") from exc

        def blocks() -> Iterator[bytes]:
            with stream:
                stream.seek(start)
                left = end - start
                while left > 0:
                    block = stream.read(min(BLOCK, left))
                    if not block:
                        return
                    left -= len(block)
                    yield block

        return self._lines(tracked(blocks(), stream, start, intake), path, intake, first_line)

    def _lines(
        self, blocks: Iterator[bytes], path: str, intake: IntakeLog, first_line: int = 1
    ) -> Iterator[Decoded]:
        decode, cap = _decode, self.max_line
        lineno = first_line - 1
        delivered = 0
        tail: list[bytes] = []
        tail_len = 0
        skipping = False  # inside an over-long line, dropping bytes up to its newline
        try:
            try:
                # The extra newline ends a last line that has none (writers often omit it);
                # after a final newline it is one blank line, which is skipped quietly.
                for block in chain(blocks, [b"\n"]):
                    if skipping:
                        nl = block.find(b"\n")
                        if nl < 0:
                            continue
                        block = block[nl + 1 :]
                        skipping = False
                    lines = block.split(b"\n")
                    if len(lines) == 1:  # no line ends here: collect, join once at its end
                        tail.append(block)
                        tail_len += len(block)
                        lines.clear()
                    else:
                        if tail:
                            lines[0] = b"".join((*tail, lines[0]))
                        last = lines.pop()
                        tail, tail_len = ([last], len(last)) if last else ([], 0)
                    for line in lines:
                        lineno += 1
                        if len(line) > cap:
                            intake.problem(path, f"line {lineno}", f"line longer than {cap} bytes")
                            continue
                        try:
                            obj = decode(line)
                        except msgspec.DecodeError as exc:
                            if line.strip():  # blank lines are layout, not damage
                                intake.problem(path, f"line {lineno}", f"malformed JSON: {exc}")
                            continue
                        except UnicodeDecodeError as exc:
                            intake.problem(path, f"line {lineno}", f"invalid UTF-8: {exc.reason}")
                            continue
                        except RecursionError:
                            # msgspec's own guard (the interpreter's recursion limit, ~1000)
                            # is the depth cap of the hot path: counting brackets per line
                            # would cost a third of the throughput. Normalizers flatten only
                            # to a shallow depth and keep the rest as a JSON string.
                            intake.problem(path, f"line {lineno}", "nesting too deep")
                            continue
                        if type(obj) is not dict:
                            intake.problem(path, f"line {lineno}", "line is not a JSON object")
                            continue
                        delivered += 1
                        yield lineno, line, obj
                    if tail_len > cap:
                        lineno += 1
                        intake.problem(path, f"line {lineno}", f"line longer than {cap} bytes")
                        tail, tail_len, skipping = [], 0, True
            except StreamDamage as exc:
                intake.problem(path, f"line {lineno + 1}", str(exc))
                return  # the cut last line is not a record
        finally:
            intake.count(path, delivered)

    def _documents(
        self, blocks: Iterator[bytes], path: str, intake: IntakeLog, array: bool
    ) -> Iterator[Decoded]:
        """A JSON array of objects, or objects one after another (pretty-printed)."""
        decoder = json.JSONDecoder()
        utf8 = codecs.getincrementaldecoder("utf-8")()
        text, pos, n, done, opened, delivered = "", 0, 0, False, not array, 0

        def more() -> str:
            nonlocal done
            for block in blocks:
                piece = utf8.decode(block)
                if piece:
                    return piece
            done = True
            return utf8.decode(b"", final=True)

        try:
            while True:
                while pos < len(text) and (text[pos] in " \t\r\n" or (opened and text[pos] == ",")):
                    pos += 1
                if pos == len(text):
                    if done:
                        if not opened or array:
                            intake.problem(path, f"element {n + 1}", "JSON array not closed")
                        break
                    text, pos = text[pos:] + more(), 0
                    continue
                if not opened:
                    opened, pos = True, pos + 1  # the opening '['
                    continue
                if array and text[pos] == "]":
                    array = False  # closed; anything after it is treated as more objects
                    pos += 1
                    continue
                try:
                    obj, end = decoder.raw_decode(text, pos)
                except json.JSONDecodeError as exc:
                    if not done and len(text) - pos <= self.max_line:
                        text, pos = text[pos:] + more(), 0
                        continue
                    intake.problem(path, f"element {n + 1}", f"malformed JSON: {exc.msg}")
                    break  # a document cannot be resynchronised after a syntax error
                if end == len(text) and not done:
                    text, pos = text[pos:] + more(), 0  # a number may continue in the next block
                    continue
                n += 1
                pos = end
                if type(obj) is not dict:
                    intake.problem(path, f"element {n}", "element is not a JSON object")
                elif depth(obj, self.max_depth) > self.max_depth:
                    intake.problem(path, f"element {n}", f"nesting deeper than {self.max_depth}")
                else:
                    delivered += 1
                    yield n, None, obj
        except UnicodeDecodeError as exc:
            intake.problem(path, f"element {n + 1}", f"invalid UTF-8: {exc.reason}")
        except RecursionError:
            intake.problem(path, f"element {n + 1}", "nesting too deep")
        except StreamDamage as exc:
            intake.problem(path, f"element {n + 1}", str(exc))
        finally:
            intake.count(path, delivered)


def split_ndjson(path: str, parts: int, min_bytes: int = 4 << 20) -> list[tuple[int, int, int]]:
    """Cut a plain NDJSON file into up to ``parts`` ranges ``(start, end, first_line)``
    that begin at line starts; ``[]`` when the file is small, gzipped, or not line-based.
    """
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            head = fh.read(BLOCK)
            if size < min_bytes or parts < 2 or head.startswith(GZIP_MAGIC):
                return []
            if not head.lstrip().startswith(b"{") or not NdjsonSource()._is_line(head.lstrip()):
                return []
            cuts = [0]
            for i in range(1, parts):
                fh.seek(size * i // parts)
                fh.readline()  # finish the line the cut fell in
                pos = fh.tell()
                if cuts[-1] < pos < size:
                    cuts.append(pos)
            cuts.append(size)
            # Line numbers of each cut: count newlines block by block (memchr speed).
            ranges = []
            fh.seek(0)
            line, pos = 1, 0
            for start, end in pairwise(cuts):
                while pos < start:
                    block = fh.read(min(BLOCK, start - pos))
                    line += block.count(b"\n")
                    pos += len(block)
                ranges.append((start, end, line))
            return ranges
    except OSError:
        return []
