"""Reading feed files defensively: attackers can write intel feeds too.

- JSON must be UTF-8 (RFC 8259 §8.1). Bytes that are not are kept as lone surrogates
  (``surrogateescape``), so one bad attribute is skipped by the normalizer while the
  rest of the event imports.
- Nesting deep enough to exhaust the parser's recursion is a clear ``FeedError``.
- Lines longer than ``MAX_LINE`` are skipped in bounded memory, never read whole.
- ``.gz`` files are decompressed as a stream.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, cast

from floodwall.enrich.intel.indicator import FeedError

#: Largest JSON feed file read (a MISP event or STIX bundle is parsed whole).
MAX_JSON_BYTES = 512 * 1024 * 1024
#: Longest list line kept; longer ones are skipped and counted.
MAX_LINE = 64 * 1024
_CHUNK = 1024 * 1024


def open_feed(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed when it is gzip (by its magic, not its name)."""
    fh = path.open("rb")
    if fh.read(2) == b"\x1f\x8b":
        fh.close()
        # Opened by name: closing the GzipFile closes the file too (with fileobj= it
        # would stay open until the garbage collector found it).
        return cast(IO[bytes], gzip.GzipFile(filename=path, mode="rb"))
    fh.seek(0)
    return fh


def read_bytes(path: Path, limit: int = MAX_JSON_BYTES) -> bytes:
    """The whole (decompressed) file, refusing more than ``limit`` bytes."""
    try:
        with open_feed(path) as fh:
            data = fh.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise FeedError(f"{path}: cannot read: {exc}") from None
    if len(data) > limit:
        raise FeedError(f"{path}: larger than {limit // (1024 * 1024)} MiB")
    return data


def parse_json(data: bytes, where: str) -> object:
    """Parse JSON text; a clear ``FeedError`` for every way it can be broken."""
    text = data.decode("utf-8", "surrogateescape").lstrip("\ufeff")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        reason = "truncated" if exc.pos >= len(text.rstrip()) else "not valid JSON"
        raise FeedError(
            f"{where}: {reason}: {exc.msg} (line {exc.lineno} col {exc.colno})"
        ) from None
    except RecursionError:
        raise FeedError(f"{where}: JSON nested too deeply") from None


def read_json(path: Path) -> object:
    """Read and parse one JSON feed file."""
    return parse_json(read_bytes(path), str(path))


def iter_lines(fh: IO[bytes], max_line: int = MAX_LINE) -> Iterator[tuple[int, bytes | None]]:
    """``(line number, line without EOL)``; ``None`` for a line longer than ``max_line``.

    The rest of an over-long line is consumed in chunks, so a 100 MB line costs 1 MB of
    memory at a time.
    """
    number = 0
    while True:
        try:
            line = fh.readline(max_line + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise FeedError(f"cannot read line {number + 1}: {exc}") from None
        if not line:
            return
        number += 1
        if len(line) > max_line and not line.endswith(b"\n"):
            while True:
                rest = fh.readline(_CHUNK)
                if not rest or rest.endswith(b"\n"):
                    break
            yield number, None
            continue
        yield number, line.rstrip(b"\r\n")
