"""The hunt's results say how much of their input they stand for, batch by batch, so the
progress bar moves through one large file (with one worker too), not only at its end."""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from floodwall.detect.sigma.engine import SigmaEngine
from floodwall.detect.sigma.loader import RuleDir, load_rules
from floodwall.detect.sigma.logsource import LogSourceMap
from floodwall.hunt.run import HuntPlan, Unit
from floodwall.ingest.base import Source
from floodwall.ingest.evtx_source import EvtxSource, split_evtx
from floodwall.ingest.json_source import NdjsonSource, split_ndjson

RULE = """
title: whoami
id: 5b0bb0b4-0000-4000-8000-000000000001
logsource: {product: windows, category: process_creation}
detection:
  sel: {Image|endswith: '\\\\whoami.exe'}
  condition: sel
"""
SYSMON = "Microsoft-Windows-Sysmon/Operational"


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> HuntPlan:
    rules = tmp_path_factory.mktemp("rules")
    (rules / "whoami.yml").write_text(RULE)
    ruleset = load_rules([RuleDir(rules)], cache_dir=None, workers=1)
    return HuntPlan(SigmaEngine(ruleset.rules, LogSourceMap.load()))


def _lines(n: int) -> bytes:
    # Random text compresses badly, so the .gz file is several reading blocks long too.
    return b"".join(
        b'{"EventID": 1, "Channel": "%s", "Image": "C:\\\\w\\\\%s.exe", "Pad": "%s"}\n'
        % (SYSMON.encode(), b"whoami" if i % 7 == 0 else b"other", os.urandom(300).hex().encode())
        for i in range(n)
    )


def _sizes(plan: HuntPlan, unit: Unit) -> list[int]:
    return [r.size for r in plan.iter_unit(unit, batch=500)]


def _check(sizes: list[int], total: int) -> None:
    assert sum(sizes) == total
    assert all(s >= 0 for s in sizes)
    assert sum(1 for s in sizes[:-1] if s > 0) >= 2  # moves before the end
    assert sizes[-1] < total


@pytest.mark.parametrize("compressed", [False, True])
def test_ndjson_results_stand_for_the_bytes_read(
    plan: HuntPlan, tmp_path: Path, compressed: bool
) -> None:
    data = _lines(8000)  # ~5 MB: several reading blocks
    path = tmp_path / ("logs.ndjson.gz" if compressed else "logs.ndjson")
    path.write_bytes(gzip.compress(data) if compressed else data)
    size = path.stat().st_size
    _check(_sizes(plan, Unit(str(path), NdjsonSource(), size)), size)
    for quick in (True, False):  # the full path reads the same way
        sizes = [r.size for r in plan.iter_unit(Unit(str(path), NdjsonSource(), size), 500, quick)]
        _check(sizes, size)


def test_evtx_results_stand_for_the_bytes_read(
    plan: HuntPlan, tmp_path: Path, many_chunk_evtx: Callable[[int], bytes]
) -> None:
    path = tmp_path / "big.evtx"
    path.write_bytes(many_chunk_evtx(400))  # 400 chunks of 6 records
    size = path.stat().st_size
    _check(_sizes(plan, Unit(str(path), EvtxSource(), size)), size)


@pytest.mark.parametrize(
    ("source", "split"), [(NdjsonSource(), split_ndjson), (EvtxSource(), split_evtx)]
)
def test_ranges_stand_for_their_own_bytes(
    plan: HuntPlan,
    tmp_path: Path,
    many_chunk_evtx: Callable[[int], bytes],
    source: Source,
    split: Callable[[str, int], list[tuple[int, int, int]]],
) -> None:
    path = tmp_path / "big"
    path.write_bytes(_lines(12000) if isinstance(source, NdjsonSource) else many_chunk_evtx(900))
    parts = split(str(path), 3)
    assert len(parts) == 3
    for start, end, line in parts:
        _check(_sizes(plan, Unit(str(path), source, end - start, (start, end, line))), end - start)


def test_stdin_has_no_size_and_moves_nothing(plan: HuntPlan, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    path = tmp_path / "in.ndjson"
    path.write_bytes(_lines(3000))
    with path.open("rb") as stdin:
        monkeypatch.setattr("sys.stdin", type("In", (), {"buffer": stdin})())
        sizes = _sizes(plan, Unit("-", NdjsonSource(), 0))
    assert len(sizes) > 2 and set(sizes) == {0}
