"""NdjsonSource: NDJSON, arrays, concatenated objects, gzip, stdin, and hostile lines."""

from __future__ import annotations

import gzip
import io
import json
import sys
from pathlib import Path

import pytest

from floodwall.ingest.base import InputError
from floodwall.ingest.intake import IntakeLog
from floodwall.ingest.json_source import NdjsonSource, gunzip

SAMPLE = Path(__file__).parents[1] / "samples" / "ingest" / "ndjson" / "otrf_bitsadmin.ndjson"
DEEP = b"[" * 10_000 + b"]" * 10_000


def read(path: Path, source: NdjsonSource | None = None) -> tuple[list[int], IntakeLog]:
    log = IntakeLog()
    ids = [r.origin.record_id for r in (source or NdjsonSource()).read(str(path), log)]
    return ids, log


def problems(log: IntakeLog) -> list[tuple[str, str]]:
    return [(p.where, p.reason) for p in log.problems]


def test_sample_lines_become_records() -> None:
    log = IntakeLog()
    records = list(NdjsonSource().read(str(SAMPLE), log))
    assert [r.origin.record_id for r in records] == [1, 2, 3, 4]
    assert all(isinstance(r.data["EventID"], int) for r in records)
    assert log.received[str(SAMPLE)] == 4 and log.problems == []


def test_missing_file_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot open"):
        NdjsonSource().read(str(tmp_path / "absent.json"), IntakeLog())


# name, file content, record ids read, (where, reason fragment) of each problem
CASES: list[tuple[str, bytes, list[int], list[tuple[str, str]]]] = [
    ("plain", b'{"a":1}\n{"b":2}\n', [1, 2], []),
    ("no final newline", b'{"a":1}\n{"b":2}', [1, 2], []),
    ("CRLF and blank lines", b'{"a":1}\r\n\r\n  \n{"b":2}\r\n', [1, 4], []),
    ("UTF-8 BOM", b'\xef\xbb\xbf{"a":1}\n', [1], []),
    ("empty file", b"", [], []),
    ("bad JSON", b'{"a":1}\n{"a":\n{"c":3}\n', [1, 3], [("line 2", "malformed JSON")]),
    ("invalid UTF-8", b'{"a":"\xff\xfe"}\n{"b":2}\n', [2], [("line 1", "invalid UTF-8")]),
    (
        "not an object",
        b'[1,2]\n"text"\n42\nnull\n{"ok":1}\n',
        [5],
        [(f"line {n}", "not a JSON object") for n in range(1, 5)],
    ),
    ("nesting 10,000 deep", b'{"a":' + DEEP + b"}\n" + b'{"b":2}\n', [2], [("line 1", "too deep")]),
    ("NUL bytes", b'{"a":1}\n\x00\x00\x00\n{"b":2}\n', [1, 3], [("line 2", "malformed JSON")]),
    ("array of objects", b'[{"a":1},\n {"b":2}, 3, {"c":3}]\n', [1, 2, 4], [("element 3", "not")]),
    ("array truncated", b'[{"a":1}, {"b":2}, {"c":', [1, 2], [("element 3", "malformed JSON")]),
    ("array nested 10,000 deep", b"[" + DEEP + b"]", [], [("element 1", "")]),
    ("array not closed", b'[{"a":1}', [1], [("element 2", "not closed")]),
    ("pretty objects", b'{\n "a": 1\n}\n{\n "b": {\n  "c": 2}\n}\n', [1, 2], []),
    ("pretty then garbage", b'{\n "a": 1\n}\n{\n "b": }\n', [1], [("element 2", "malformed JSON")]),
    ("garbage", b"\x8a\x01 not json at all\n", [], [("line 1", "")]),
]


@pytest.mark.parametrize(
    ("content", "expected_ids", "expected_problems"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_bad_input_is_reported_and_skipped(
    tmp_path: Path,
    content: bytes,
    expected_ids: list[int],
    expected_problems: list[tuple[str, str]],
) -> None:
    for name, data in (("plain.json", content), ("packed.json.gz", gzip.compress(content))):
        path = tmp_path / name
        path.write_bytes(data)
        ids, log = read(path)
        assert ids == expected_ids, name
        assert log.received[str(path)] == len(expected_ids)
        found = problems(log)
        assert len(found) == len(expected_problems), found
        for (where, reason), (got_where, got_reason) in zip(expected_problems, found, strict=True):
            assert got_where == where and reason in got_reason, found


def test_over_long_lines_are_skipped_without_reading_them_whole(tmp_path: Path) -> None:
    long = b'{"a":"' + b"x" * 300_000 + b'"}'
    path = tmp_path / "long.ndjson"
    path.write_bytes(b'{"a":1}\n' + long + b'\n{"b":2}\n' + long)
    ids, log = read(path, NdjsonSource(max_line=100_000))
    assert ids == [1, 3]
    reason = "line longer than 100000 bytes"
    assert problems(log) == [("line 2", reason), ("line 4", reason)]


def test_gzip_is_streamed_and_multi_member(tmp_path: Path) -> None:
    path = tmp_path / "two.gz"
    path.write_bytes(gzip.compress(b'{"a":1}\n') + gzip.compress(b'{"b":2}\n') + b"\x00" * 8)
    ids, log = read(path)
    assert ids == [1, 2] and log.problems == []
    chunks = list(gunzip([gzip.compress(b"x" * 5_000_000)]))
    assert len(chunks) > 1 and sum(map(len, chunks)) == 5_000_000


def test_truncated_gzip_keeps_what_it_read(tmp_path: Path) -> None:
    lines = b"".join(b'{"n":%d,"pad":"%s"}\n' % (i, b"y" * 200) for i in range(20_000))
    packed = gzip.compress(lines)
    path = tmp_path / "cut.json.gz"
    path.write_bytes(packed[: len(packed) // 2])
    ids, log = read(path)
    assert len(ids) > 1000 and ids == list(range(1, len(ids) + 1))
    assert problems(log) == [
        (f"line {len(ids) + 1}", "gzip stream truncated (no end-of-stream marker)")
    ]


def test_corrupt_gzip_is_reported(tmp_path: Path) -> None:
    packed = bytearray(gzip.compress(b'{"a":1}\n' * 1000))
    packed[20:60] = b"\xff" * 40
    path = tmp_path / "bad.gz"
    path.write_bytes(bytes(packed))
    ids, log = read(path)
    assert ids == [] and "corrupt gzip data" in problems(log)[0][1]


def test_dash_reads_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(gzip.compress(b'{"a":1}\nbad\n{"b":2}\n')))
    monkeypatch.setattr(sys, "stdin", stdin)
    log = IntakeLog()
    records = list(NdjsonSource().read("-", log))
    assert [(r.origin.path, r.origin.record_id) for r in records] == [("-", 1), ("-", 3)]
    assert problems(log)[0][0] == "line 2"
    assert not stdin.closed  # stdin belongs to the process, not to the source


def test_otrf_datasets_read_without_problems(shared_data: Path) -> None:
    folder = shared_data / "log_samples" / "otrf_security_datasets"
    for path in sorted(folder.glob("*.json.gz")):
        ids, log = read(path)
        assert log.problems == [], path
        with gzip.open(path, "rt", encoding="utf-8") as text:
            expected = sum(1 for line in text if line.strip() and json.loads(line))
        assert len(ids) == expected, path


@pytest.mark.parametrize("packed", [False, True], ids=["plain", "gzip"])
def test_lines_spanning_read_blocks(tmp_path: Path, packed: bool) -> None:
    big = b'{"a":"' + b"x" * 2_500_000 + b'"}'  # longer than one 1 MiB read block
    content = b'{"n":1}\n' + big + b"\n" + big + b'\n{"n":4}'
    path = tmp_path / "big.json"
    path.write_bytes(gzip.compress(content) if packed else content)
    ids, log = read(path)
    assert ids == [1, 2, 3, 4] and log.problems == []
    ids, log = read(path, NdjsonSource(max_line=1_500_000))
    assert ids == [1, 4]
    assert [where for where, _ in problems(log)] == ["line 2", "line 3"]


@pytest.mark.parametrize("parts", [2, 3, 7])
def test_split_ranges_read_the_same_records_with_the_same_line_numbers(
    tmp_path: Path, parts: int
) -> None:
    from floodwall.ingest.json_source import split_ndjson

    lines = [b'{"n": %d, "pad": "%s"}' % (i, b"x" * (i % 37)) for i in range(1, 501)]
    lines[100] = b"{broken"
    path = tmp_path / "big.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    whole_log, part_log = IntakeLog(), IntakeLog()
    whole = [(r.origin.record_id, r.data) for r in NdjsonSource().read(str(path), whole_log)]
    ranges = split_ndjson(str(path), parts, min_bytes=0)
    assert len(ranges) == parts and ranges[0][0] == 0 and ranges[-1][1] == path.stat().st_size
    pieces = [
        (r.origin.record_id, r.data)
        for start, end, first in ranges
        for r in NdjsonSource().read_range(str(path), start, end, first, part_log)
    ]
    assert pieces == whole and len(whole) == 499
    assert (
        [p.where for p in part_log.problems]
        == [p.where for p in whole_log.problems]
        == ["line 101"]
    )


def test_split_refuses_gzip_and_small_files(tmp_path: Path) -> None:
    from floodwall.ingest.json_source import split_ndjson

    small = tmp_path / "small.ndjson"
    small.write_bytes(b'{"a": 1}\n' * 10)
    gz = tmp_path / "big.ndjson.gz"
    gz.write_bytes(gzip.compress(b'{"a": 1}\n' * 10))
    assert split_ndjson(str(small), 4) == []
    assert split_ndjson(str(gz), 4, min_bytes=0) == []
