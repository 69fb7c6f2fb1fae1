"""load_brands_cached: the brands built from the bundled lists, kept as JSON between runs."""

from __future__ import annotations

from pathlib import Path

import mail_util as util

from floodwall.detect.mail import reference


def test_cache_gives_the_same_brands_and_survives_damage(tmp_path: Path) -> None:
    fresh = util.brands()
    first = reference.load_brands_cached(util.psl(), tmp_path)
    (cache,) = tmp_path.glob("brands-*.json")
    assert first == fresh
    cache.write_text('{"domains": {"paypal": ["evil.example"]}, "known": []}', "utf-8")
    assert reference.load_brands_cached(util.psl(), tmp_path).domains == {
        "paypal": frozenset({"evil.example"})
    }  # read back from the file: the cache is really used
    cache.write_bytes(b"\xff{ truncated")
    assert reference.load_brands_cached(util.psl(), tmp_path) == fresh  # rebuilt
    assert reference.load_brands_cached(util.psl(), tmp_path) == fresh  # and rewritten


def test_unwritable_cache_dir_still_builds(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", "utf-8")
    assert reference.load_brands_cached(util.psl(), blocker / "cache") == util.brands()
