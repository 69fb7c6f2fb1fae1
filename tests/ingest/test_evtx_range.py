"""EVTX files cut into chunk ranges (``split_evtx`` / ``EvtxSource.read_range``) so that
workers share one large file: the ranges together read exactly what one read does,
records and damage alike."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import pytest

from floodwall.ingest.evtx_source import CHUNK_SIZE, HEADER_SIZE, EvtxSource, split_evtx
from floodwall.ingest.intake import IntakeLog

COPIES = 40


Read = tuple[list[tuple[int, object]], list[tuple[str, str]], int]


def whole(path: Path) -> Read:
    log = IntakeLog()
    records = [(r.origin.record_id, r.data) for r in EvtxSource().read(str(path), log)]
    return records, [(p.where, p.reason) for p in log.problems], log.total_received


def in_ranges(path: Path, parts: int) -> tuple[Read, list[tuple[int, int, int]]]:
    ranges = split_evtx(str(path), parts, min_bytes=0)
    records: list[tuple[int, object]] = []
    problems: list[tuple[str, str]] = []
    received = 0
    for start, end, first in ranges:
        log = IntakeLog()
        for r in EvtxSource().read_range(str(path), start, end, first, log):
            records.append((r.origin.record_id, r.data))
        problems += [(p.where, p.reason) for p in log.problems]
        received += log.total_received
    return (records, problems, received), ranges


@pytest.mark.parametrize("parts", [2, 3, 8, 64])
def test_ranges_read_what_one_read_does(
    tmp_path: Path, parts: int, many_chunk_evtx: Callable[[int], bytes]
) -> None:
    path = tmp_path / "big.evtx"
    path.write_bytes(many_chunk_evtx(COPIES))
    (records, problems, received), ranges = in_ranges(path, parts)
    assert len(ranges) == min(parts, COPIES)
    # Contiguous, on chunk boundaries, the first from 0 (it checks the file header).
    assert ranges[0][0] == 0 and ranges[-1][1] == path.stat().st_size
    assert all(a[1] == b[0] for a, b in pairwise(ranges))
    assert all((start - HEADER_SIZE) % CHUNK_SIZE == 0 for start, _, _ in ranges[1:])
    assert (records, problems, received) == whole(path)
    assert received == 6 * COPIES and problems == []


def test_damage_is_reported_once_by_the_range_holding_it(
    tmp_path: Path, many_chunk_evtx: Callable[[int], bytes]
) -> None:
    data = bytearray(many_chunk_evtx(COPIES))
    data[0:8] = b"XXXXXXXX"  # file header damaged: only range 0 says so
    bad_chunk = HEADER_SIZE + 17 * CHUNK_SIZE
    data[bad_chunk : bad_chunk + 8] = b"\xff" * 8  # chunk magic damaged
    path = tmp_path / "damaged.evtx"
    path.write_bytes(bytes(data[: -CHUNK_SIZE // 2]))  # and the last chunk cut in half
    assert split_evtx(str(path), 4, min_bytes=0) == []  # no file header: not split
    data[0:8] = b"ElfFile\x00"
    path.write_bytes(bytes(data[: -CHUNK_SIZE // 2]))
    (records, problems, received), ranges = in_ranges(path, 4)
    assert len(ranges) == 4
    expected = whole(path)
    assert (records, sorted(problems), received) == (expected[0], sorted(expected[1]), expected[2])
    reasons = [reason for _, reason in problems]
    assert "not an EVTX chunk (bad chunk magic)" in reasons
    assert any(reason.startswith("file truncated inside chunk") for reason in reasons)


def test_small_or_foreign_files_are_not_split(
    tmp_path: Path, many_chunk_evtx: Callable[[int], bytes]
) -> None:
    path = tmp_path / "one.evtx"
    path.write_bytes(many_chunk_evtx(1))
    assert split_evtx(str(path), 4, min_bytes=0) == []  # one chunk
    path.write_bytes(many_chunk_evtx(COPIES))
    assert split_evtx(str(path), 4) == []  # under the 4 MiB default
    assert split_evtx(str(path), 1, min_bytes=0) == []
    assert split_evtx(str(tmp_path / "missing.evtx"), 4, min_bytes=0) == []
    (tmp_path / "x.ndjson").write_bytes(b'{"a": 1}\n' * 100_000)
    assert split_evtx(str(tmp_path / "x.ndjson"), 4, min_bytes=0) == []
