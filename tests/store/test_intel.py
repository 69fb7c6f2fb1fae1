"""The intel store (migration 0004): de-duplication across sources, re-imports, removal,
look-ups, expiry, warninglist marks, open proxies, and the matcher's compact cache."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from floodwall.enrich.intel import cache
from floodwall.enrich.intel.indicator import Indicator, IndicatorType
from floodwall.enrich.intel.warninglists import Warninglist, WarninglistIndex
from floodwall.store.db import Store, open_store
from floodwall.store.intel import IntelStore

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def ind(
    itype: IndicatorType,
    value: str,
    source: str = "a",
    conf: int = 70,
    **kw: object,
) -> Indicator:
    return Indicator(itype, value, source, conf, **kw)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "data") as s:
        yield s


@pytest.fixture
def intel(store: Store) -> IntelStore:
    return IntelStore(store)


def test_dedup_across_sources_and_within_an_import(intel: IntelStore) -> None:
    counts = intel.add(
        [ind("ip", "198.51.100.1", "a"), ind("ip", "198.51.100.1", "a"),
         ind("ip", "198.51.100.1", "b", 90), ind("domain", "evil.com", "a")],
        now=NOW,
    )  # fmt: skip
    assert (counts.received, counts.new_values, counts.imported, counts.updated) == (4, 2, 3, 0)
    (rec,) = intel.find("198.51.100.1")
    assert [s.source for s in rec.sources] == ["a", "b"] and rec.confidence == 90
    again = intel.add([ind("ip", "198.51.100.1", "a", 10)], now=NOW)
    assert (again.new_values, again.imported, again.updated) == (0, 0, 1)
    (rec,) = intel.find("198.51.100.1")
    assert {s.source: s.confidence for s in rec.sources} == {"a": 10, "b": 90}  # latest wins


def test_first_seen_keeps_the_earliest_and_last_seen_the_latest(intel: IntelStore) -> None:
    early, late = NOW - timedelta(days=30), NOW - timedelta(days=1)
    intel.add([ind("domain", "evil.com", first_seen=late, last_seen=late)], now=NOW)
    intel.add([ind("domain", "evil.com", first_seen=early, last_seen=early)], now=NOW)
    (rec,) = intel.find("evil.com")
    (src,) = rec.sources
    assert (src.first_seen, src.last_seen) == ("2026-10-02T12:00:00Z", "2026-10-31T12:00:00Z")


def test_find_covers_cidrs_and_parent_domains(intel: IntelStore) -> None:
    intel.add(
        [ind("cidr", "198.51.100.0/24"), ind("cidr", "2001:db8::/32"),
         ind("domain", "evil.com"), ind("domain", "b.notbad.org")],
        now=NOW,
    )  # fmt: skip
    assert [r.value for r in intel.find("198.51.100.77")] == ["198.51.100.0/24"]
    assert [r.value for r in intel.find("2001:DB8::5")] == ["2001:db8::/32"]
    assert [r.value for r in intel.find("x.y.evil.com")] == ["evil.com"]
    assert intel.find("notbad.org") == []
    assert intel.find("198.51.101.1") == []
    assert intel.find("\udcff garbage") == []


def test_find_exact_gives_the_value_itself_only(intel: IntelStore) -> None:
    intel.add(
        [ind("cidr", "198.51.100.0/24"), ind("ip", "198.51.100.77"), ind("domain", "evil.com")],
        now=NOW,
    )
    assert [r.value for r in intel.find_exact("198.51.100.77")] == ["198.51.100.77"]
    assert [r.value for r in intel.find_exact("198.51.100.0/24")] == ["198.51.100.0/24"]
    assert [r.value for r in intel.find_exact("EVIL.com")] == ["evil.com"]
    assert intel.find_exact("x.evil.com") == []  # a parent is not the value itself
    assert intel.find_exact("198.51.100.78") == []
    assert intel.find_exact("\udcff garbage") == []


def test_remove_source_drops_orphans_only(intel: IntelStore) -> None:
    intel.add([ind("ip", "203.0.113.1", "a"), ind("ip", "203.0.113.1", "b")], now=NOW)
    intel.add([ind("ip", "203.0.113.2", "a")], now=NOW)
    gen = intel.generation()
    assert intel.remove_source("a") == 2
    assert intel.generation() > gen
    assert [r.value for r in intel.list_indicators()] == ["203.0.113.1"]
    assert intel.remove_values(["203.0.113.1", "not a value"]) == 1
    assert intel.stats(NOW).indicators == 0


def test_expiry_stats_tables_and_next_expiry(intel: IntelStore) -> None:
    soon, later = NOW + timedelta(hours=1), NOW + timedelta(days=2)
    intel.add(
        [ind("ip", "203.0.113.1", valid_until=soon), ind("ip", "203.0.113.2", valid_until=later),
         ind("ip", "203.0.113.3")],
        now=NOW,
    )  # fmt: skip
    assert sorted(intel.tables(NOW).values) == ["203.0.113.1", "203.0.113.2", "203.0.113.3"]
    assert intel.next_expiry(NOW) == "2026-11-01T13:00:00Z"
    after = NOW + timedelta(hours=2)
    assert sorted(intel.tables(after).values) == ["203.0.113.2", "203.0.113.3"]
    assert intel.stats(after).expired == 1
    assert [e[1] for e in intel.expired(after)] == ["203.0.113.1"]


def test_warninglisted_values_are_kept_marked_and_left_out_of_matching(
    intel: IntelStore,
) -> None:
    lists = WarninglistIndex(
        [Warninglist("public-dns-v4", "DNS", "cidr", frozenset({"ip"}), ("8.8.8.8/32",))]
    )
    counts = intel.add([ind("ip", "8.8.8.8"), ind("ip", "203.0.113.9")], warninglists=lists)
    assert counts.suppressed == 1
    (rec,) = intel.list_indicators(suppressed=True)
    assert (rec.value, rec.suppressed_by) == ("8.8.8.8", ("public-dns-v4",))
    assert list(intel.tables().values) == ["203.0.113.9"]


def test_open_proxies_come_from_tags_and_comments(intel: IntelStore) -> None:
    intel.add(
        [ind("ip", "203.0.113.5", comment="Open Proxy on 8080"),
         ind("cidr", "198.51.100.0/28", tags=("misp:proxy",)),
         ind("ip", "203.0.113.6", comment="C2"),
         ind("domain", "proxy.example.com", comment="proxy"),  # not an address
         ind("ip", "203.0.113.7", comment="proxy", valid_until=NOW - timedelta(days=1))],
        now=NOW - timedelta(days=2),
    )  # fmt: skip
    assert intel.proxy_addresses(NOW) == ["198.51.100.0/28", "203.0.113.5"]


def test_hostile_text_is_stored(intel: IntelStore) -> None:
    intel.add([ind("ip", "203.0.113.8", comment="bad \udcff bytes", origin_info="x" * 100_000)])
    (rec,) = intel.find("203.0.113.8")
    assert rec.sources[0].comment.startswith("bad ")


def test_matcher_cache_is_used_and_invalidated(store: Store, tmp_path: Path) -> None:
    intel = IntelStore(store)
    intel.add([ind("ip", "203.0.113.1", valid_until=NOW + timedelta(hours=1))], now=NOW)
    cache_dir = tmp_path / "cache"
    m1, hit1 = cache.load_matcher(intel, store.path, cache_dir, now=NOW)
    m2, hit2 = cache.load_matcher(intel, store.path, cache_dir, now=NOW)
    assert (hit1, hit2) == (False, True) and len(m1) == 1
    assert m2.match_ip("203.0.113.1")[0].sources == ("a",)
    intel.add([ind("domain", "evil.com")], now=NOW)  # a new generation
    m3, hit3 = cache.load_matcher(intel, store.path, cache_dir, now=NOW)
    assert not hit3 and m3.match_domain("a.evil.com")
    later = NOW + timedelta(hours=2)  # past the first indicator's expiry
    m4, hit4 = cache.load_matcher(intel, store.path, cache_dir, now=later)
    assert not hit4 and m4.match_ip("203.0.113.1") == []
    path = cache.cache_path(cache_dir, store.path)
    path.write_bytes(b"PK\x03\x04 damaged")
    m5, hit5 = cache.load_matcher(intel, store.path, cache_dir, now=later)
    assert not hit5 and m5.match_domain("evil.com")
