"""EvtxSource: real EVTX files, and copies damaged in every way the issue lists."""

from __future__ import annotations

import random
import struct
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from floodwall.ingest.base import InputError
from floodwall.ingest.evtx_source import CHUNK_SIZE, HEADER_SIZE, EvtxSource
from floodwall.ingest.intake import IntakeLog
from floodwall.ingest.json_source import NdjsonSource

SAMPLE = Path(__file__).parents[1] / "samples" / "ingest" / "evtx" / "sysmon_process_creation.evtx"


@pytest.fixture(scope="module")
def regression_data(shared_data: Path) -> Path:
    """``shared_data`` (tests/conftest.py) skips when ../shared/data is absent."""
    return shared_data / "sigmahq" / "regression_data"


def read(path: Path) -> tuple[list[int], IntakeLog]:
    log = IntakeLog()
    ids = [record.origin.record_id for record in EvtxSource().read(str(path), log)]
    return ids, log


def three_chunks() -> bytes:
    """A valid file with three copies of the sample's chunk (records 1..6 each)."""
    data = SAMPLE.read_bytes()
    header = bytearray(data[:HEADER_SIZE])
    struct.pack_into("<QQ", header, 8, 0, 2)
    struct.pack_into("<H", header, 42, 3)
    struct.pack_into("<I", header, 124, zlib.crc32(bytes(header[:120])))
    chunk = data[HEADER_SIZE : HEADER_SIZE + CHUNK_SIZE]
    return bytes(header) + chunk * 3


def record_offsets(chunk: bytes) -> list[int]:
    """Offsets of the records inside one chunk."""
    offsets, off = [], 512
    free = struct.unpack_from("<I", chunk, 48)[0]
    while off < free:
        offsets.append(off)
        off += struct.unpack_from("<I", chunk, off + 4)[0]
    return offsets


def test_sample_yields_every_record_as_event_json() -> None:
    ids, log = read(SAMPLE)
    assert ids == [1, 2, 3, 4, 5, 6]
    assert log.problems == [] and log.received[str(SAMPLE)] == 6
    record = next(iter(EvtxSource().read(str(SAMPLE), IntakeLog())))
    assert record.data["Event"]["System"]["Channel"] == "Microsoft-Windows-Sysmon/Operational"
    assert "Image" in record.data["Event"]["EventData"]


def test_missing_file_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot open"):
        EvtxSource().read(str(tmp_path / "absent.evtx"), IntakeLog())


CHUNK2 = HEADER_SIZE + CHUNK_SIZE  # file offset of the second chunk (chunk 1)


def _flip(data: bytes, start: int, stop: int, step: int = 1) -> bytes:
    out = bytearray(data)
    for i in range(start, stop, step):
        out[i] ^= 0xFF
    return bytes(out)


def _record3() -> int:
    return CHUNK2 + record_offsets(SAMPLE.read_bytes()[HEADER_SIZE:])[2]


ALL = [1, 2, 3, 4, 5, 6]
# name, damage, record ids still read, (where, reason) fragments expected among the problems
DAMAGE: list[tuple[str, Callable[[bytes], bytes], list[int], list[tuple[str, str]]]] = [
    ("intact", lambda d: d, ALL * 3, []),
    (
        "truncated mid-chunk",
        lambda d: d[: _record3() + 50],
        [*ALL, 1, 2],
        [("(chunk 1)", "truncated inside chunk"), ("record 3", "cut off"), ("(chunk 1)", "lost")],
    ),
    (
        "truncated in chunk header",
        lambda d: d[: CHUNK2 + 300],
        ALL,
        [("(chunk 1)", "truncated inside chunk"), ("(chunk 1)", "6 of 6 record(s)")],
    ),
    (
        "bytes flipped in the string table",
        lambda d: _flip(d, CHUNK2 + 600, CHUNK2 + 2000, 7),
        ALL * 2,
        [("(chunk 1)", "checksum mismatch"), ("(chunk 1)", "lost")],
    ),
    (
        "record body damaged",
        lambda d: _flip(d, _record3() + 50, _record3() + 52),
        [*ALL, 1, 2, 4, 5, 6, *ALL],
        [("(chunk 1)", "checksum mismatch"), ("record 3", "")],
    ),
    (
        "record magic damaged",
        lambda d: _flip(d, _record3(), _record3() + 1),
        [*ALL, 1, 2, *ALL],
        [("(chunk 1)", "record header magic"), ("(chunk 1)", "4 of 6 record(s)")],
    ),
    (
        "file header zeroed",
        lambda d: bytes(HEADER_SIZE) + d[HEADER_SIZE:],
        ALL * 3,
        [("file header", "")],
    ),
    (
        "chunk zeroed (unused)",
        lambda d: d[:CHUNK2] + bytes(CHUNK_SIZE) + d[CHUNK2 + CHUNK_SIZE :],
        ALL * 2,
        [],
    ),
    (
        "chunk magic damaged",
        lambda d: _flip(d, CHUNK2, CHUNK2 + 1),
        ALL * 2,
        [("(chunk 1)", "bad chunk magic")],
    ),
    ("header only", lambda d: d[:HEADER_SIZE], [], []),
    ("random bytes", lambda d: random.Random(7).randbytes(200_000), [], [("", "not an EVTX file")]),
    ("empty file", lambda d: b"", [], [("offset 0x0", "empty file")]),
    ("shorter than a header", lambda d: d[:100], [], [("offset 0x64", "inside header")]),
    ("not EVTX, shorter than a header", lambda d: b"MZ" * 20, [], [("file header", "")]),
]


@pytest.mark.parametrize(
    ("damage", "expected_ids", "expected_problems"),
    [c[1:] for c in DAMAGE],
    ids=[c[0] for c in DAMAGE],
)
def test_damaged_file_yields_every_readable_record(
    tmp_path: Path,
    damage: Callable[[bytes], bytes],
    expected_ids: list[int],
    expected_problems: list[tuple[str, str]],
) -> None:
    path = tmp_path / "damaged.evtx"
    path.write_bytes(damage(three_chunks()))
    ids, log = read(path)
    assert ids == expected_ids
    assert log.received[str(path)] == len(expected_ids)
    for where, reason in expected_problems:
        assert any(where in p.where and reason in p.reason for p in log.problems), log.problems
    if not expected_problems:
        assert log.problems == []


def test_random_damage_never_raises_nor_hangs(tmp_path: Path) -> None:
    rnd = random.Random(2024)
    pristine = three_chunks()
    path = tmp_path / "fuzz.evtx"
    started = time.monotonic()
    for round_ in range(150):
        data = bytearray(pristine)
        for _ in range(rnd.choice([1, 8, 64, 512])):
            data[rnd.randrange(len(data))] = rnd.randrange(256)
        if round_ % 3 == 0:
            data = data[: rnd.randrange(len(data))]
        path.write_bytes(bytes(data))
        ids, log = read(path)
        assert len(ids) <= 18
        assert log.received[str(path)] == len(ids)
    assert time.monotonic() - started < 60


def test_regression_evtx_match_their_json(regression_data: Path) -> None:
    """Every SigmaHQ regression EVTX reads whole, and equals the JSON kept beside it."""
    files = sorted(regression_data.rglob("*.evtx"))
    assert len(files) > 100
    differ: list[str] = []
    for path in files:
        log = IntakeLog()
        records = [r.data for r in EvtxSource().read(str(path), log)]
        assert log.problems == [], path
        twin = path.with_suffix(".json")
        if not twin.exists():
            continue
        twin_log = IntakeLog()
        # The JSON twins hold pretty-printed objects one after another.
        docs = [r.data for r in NdjsonSource().read(str(twin), twin_log)]
        assert twin_log.problems == [], twin
        # The twins were written by a tool that strips trailing spaces from values; the
        # EVTX keeps them (e.g. ParentCommandLine '"C:\\WINDOWS\\system32\\cmd.exe" ').
        if _rstripped(docs) != _rstripped(records):
            differ.append(path.stem)
    # This twin was edited by hand ("Explorer.exe" for the EVTX's "Explorer.EXE").
    assert differ == ["ad691d92-15f2-4181-9aa4-723c74f9ddc3"]


def _rstripped(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _rstripped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rstripped(v) for v in value]
    return value.rstrip() if isinstance(value, str) else value
