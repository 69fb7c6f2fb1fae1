"""Cache files are marked when used and pruned when long unused (floodwall/cachefiles.py)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from floodwall.cachefiles import KEEP_DAYS, mark_used, prune_unused
from floodwall.detect.sigma.loader import RuleDir, load_rules
from floodwall.detect.sigma.prefilter import HyperscanCache

RULE = """title: Whoami
id: 0b8e3e1a-6c8a-4d3e-9a51-000000000001
status: test
logsource: {product: windows, category: process_creation}
detection:
    sel: {Image|endswith: '\\\\whoami.exe'}
    condition: sel
level: low
"""


def _age(path: Path, days: float) -> None:
    then = time.time() - days * 86400
    os.utime(path, (then, then))


@pytest.mark.parametrize(
    ("age_days", "kept"),
    [(0, True), (KEEP_DAYS - 1, True), (KEEP_DAYS + 1, False)],
)
def test_prune_unused_by_age(tmp_path: Path, age_days: float, kept: bool) -> None:
    old = tmp_path / "sigma-x.pickle"
    old.write_bytes(b"x")
    other = tmp_path / "notes.txt"  # not of the kind pruned: never touched
    other.write_text("keep")
    _age(old, age_days)
    _age(other, KEEP_DAYS * 10)
    assert prune_unused(tmp_path, "sigma-*.pickle") == (0 if kept else 1)
    assert old.exists() is kept
    assert other.exists()


def test_mark_used_renews(tmp_path: Path) -> None:
    path = tmp_path / "a.hsdb"
    path.write_bytes(b"x")
    _age(path, KEEP_DAYS + 5)
    mark_used(path)
    assert prune_unused(tmp_path, "*.hsdb") == 0
    mark_used(tmp_path / "missing.hsdb")  # best effort: no error


def test_rule_cache_write_prunes_stale_and_load_marks(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yml").write_text(RULE)
    cache = tmp_path / "cache"
    cache.mkdir()
    stale = cache / "sigma-0000.pickle"
    stale.write_bytes(b"old")
    _age(stale, KEEP_DAYS + 1)
    load_rules([RuleDir(rules)], cache_dir=cache, workers=1)
    assert not stale.exists()
    (current,) = cache.glob("sigma-*.pickle")
    _age(current, KEEP_DAYS - 1)
    again = load_rules([RuleDir(rules)], cache_dir=cache, workers=1)
    assert again.from_cache
    assert time.time() - current.stat().st_mtime < 3600  # marked as used just now


def test_hyperscan_cache_write_prunes_stale(tmp_path: Path) -> None:
    folder = tmp_path / "hyperscan"
    folder.mkdir()
    stale = folder / "deadbeef.hsdb"
    stale.write_bytes(b"old")
    _age(stale, KEEP_DAYS + 1)
    db = HyperscanCache(tmp_path).patterns([b"abc"])
    assert db is not None
    assert not stale.exists()
    assert len(list(folder.glob("*.hsdb"))) == 1
