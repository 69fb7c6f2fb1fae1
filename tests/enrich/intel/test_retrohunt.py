"""Retro-hunt: values archived before their indicator was imported become ONE
retrospective alert per (indicator, value), through a real archive and a real store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from floodwall.enrich.intel.indicator import Indicator, IndicatorType
from floodwall.enrich.intel.retrohunt import RetroHuntError
from floodwall.enrich.intel.retrorun import (
    IndicatorSelection,
    RetroHuntReport,
    load_indicators,
    run_retrohunt,
)
from floodwall.enrich.intel.suffixes import PublicSuffixes
from floodwall.enrich.intel.warninglists import WarninglistIndex
from floodwall.store.archive import ArchivedObservable, ObservableArchive
from floodwall.store.db import Store, open_store
from floodwall.store.intel import IntelStore

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def ind(itype: IndicatorType, value: str, source: str = "feed", **kw: object) -> Indicator:
    return Indicator(itype, value, source, 90, **kw)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "data") as s:
        yield s


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "archive"


def archive(root: Path, *rows: tuple[str, str, str, str]) -> None:
    """``(ts, host, kind, value)`` rows, written as the pipeline writes them."""
    with ObservableArchive(root).writer() as writer:
        writer.add_many(
            ArchivedObservable(ts, "logs", host, kind, value, f"/logs/{host}.evtx#{n}")
            for n, (ts, host, kind, value) in enumerate(rows, 1)
        )


def hunt(
    store: Store,
    root: Path,
    suffixes: PublicSuffixes,
    warninglists: WarninglistIndex,
    **selection: object,
) -> RetroHuntReport:
    return run_retrohunt(
        store, root, selection=IndicatorSelection(**selection),  # type: ignore[arg-type]
        suffixes=suffixes, warninglists=lambda: warninglists,
    )  # fmt: skip


def seen(report: RetroHuntReport) -> set[tuple[str, str]]:
    return {(h.indicator.value, h.value) for h in report.hits}


def retro_alerts(store: Store) -> list[tuple[str, str, int, str, str]]:
    rows = store.connection.execute(
        "SELECT rule_id, timestamp, retrospective, host, enrichment FROM alerts ORDER BY id"
    ).fetchall()
    return [tuple(r) for r in rows]


def test_value_archived_before_the_import_is_found_with_first_and_last_seen(
    store: Store, root: Path, suffixes: PublicSuffixes, warninglists: WarninglistIndex
) -> None:
    archive(
        root,
        ("2026-03-02T08:00:00Z", "pc2", "ip", "45.155.205.77"),
        ("2026-01-15T09:30:00Z", "pc1", "ip", "45.155.205.77"),
        ("2026-02-01T10:00:00Z", "pc1", "ip", "45.155.205.77"),
        ("2026-02-01T10:00:00Z", "pc1", "ip", "45.155.205.78"),  # the neighbour: no indicator
    )
    IntelStore(store).add([ind("ip", "45.155.205.77")], now=T0)
    report = hunt(store, root, suffixes, warninglists)
    assert report.rows == 4 and report.indicators == 1
    (hit,) = report.hits
    assert (hit.first_seen, hit.last_seen, hit.count) == (
        "2026-01-15T09:30:00Z", "2026-03-02T08:00:00Z", 3
    )  # fmt: skip
    assert hit.hosts == ("pc1", "pc2") and hit.host_count == 2
    assert hit.refs[0] == "/logs/pc1.evtx#2" and hit.last_ref == "/logs/pc2.evtx#1"
    assert report.alerts_new == 1
    ((rule_id, timestamp, retro, host, enrichment),) = retro_alerts(store)
    assert (rule_id, timestamp, retro, host) == ("intel.ip", "2026-01-15T09:30:00Z", 1, "pc1")
    doc = json.loads(enrichment)["retrohunt"]
    assert doc["first_seen"] == "2026-01-15T09:30:00Z" and doc["last_seen"] == hit.last_seen
    assert doc["count"] == 3 and doc["sources"] == ["feed"] and doc["indicator"] == "45.155.205.77"


def test_cidr_indicators_v4_and_v6(
    store: Store, root: Path, suffixes: PublicSuffixes, warninglists: WarninglistIndex
) -> None:
    archive(
        root,
        ("2026-05-01T00:00:00Z", "a", "ip", "185.220.100.200"),  # inside /24
        ("2026-05-01T00:00:00Z", "a", "ip", "185.220.101.1"),  # outside
        ("2026-05-01T00:00:00Z", "a", "url", "http://185.220.100.3/gate.php"),  # URL host
        ("2026-05-01T00:00:00Z", "a", "ip", "2a0e:1d80:aa::1"),  # inside /48
        ("2026-05-01T00:00:00Z", "a", "ip", "2a0e:1d80:ab::1"),  # outside
        ("2026-05-01T00:00:00Z", "a", "ip", "2c0f:fb50::5"),  # inside a /12 (no bucket)
        ("2026-05-01T00:00:00Z", "a", "ip", "10.9.255.255"),  # last address of 10.8.0.0/15
        ("2026-05-01T00:00:00Z", "a", "ip", "10.10.0.0"),  # first one after it
    )
    IntelStore(store).add(
        [ind("cidr", "185.220.100.0/24"), ind("cidr", "2a0e:1d80:aa::/48"),
         ind("cidr", "2c00::/12"), ind("cidr", "10.8.0.0/15")], now=T0,
    )  # fmt: skip
    report = hunt(store, root, suffixes, warninglists)
    assert seen(report) == {
        ("185.220.100.0/24", "185.220.100.200"),
        ("185.220.100.0/24", "http://185.220.100.3/gate.php"),
        ("2a0e:1d80:aa::/48", "2a0e:1d80:aa::1"),
        ("2c00::/12", "2c0f:fb50::5"),
    }
    # inside 10.8.0.0/15, but private space is on a warninglist: never an alert
    assert {(h.indicator.value, h.value) for h, _ in report.suppressed} == {
        ("10.8.0.0/15", "10.9.255.255")
    }


def test_domains_match_themselves_and_their_subdomains(
    store: Store, root: Path, suffixes: PublicSuffixes, warninglists: WarninglistIndex
) -> None:
    archive(
        root,
        ("2026-05-01T00:00:00Z", "a", "domain", "evil-retro.example"),
        ("2026-05-01T00:00:00Z", "a", "domain", "a.b.evil-retro.example"),
        ("2026-05-01T00:00:00Z", "a", "domain", "notevil-retro.example"),
        ("2026-05-01T00:00:00Z", "a", "url", "https://cdn.evil-retro.example/x.js"),
        ("2026-05-01T00:00:00Z", "a", "email", "boss@mail.evil-retro.example"),
        ("2026-05-01T00:00:00Z", "a", "domain", "x.y.c2.bad-retro.example"),  # 3-label parent
        ("2026-05-01T00:00:00Z", "a", "domain", "bad-retro.example"),  # parent of an indicator
        ("2026-05-01T00:00:00Z", "a", "domain", "victim.duckdns.org"),  # public suffix below
        ("2026-05-01T00:00:00Z", "a", "domain", "duckdns.org"),
    )
    IntelStore(store).add(
        [ind("domain", "evil-retro.example"), ind("domain", "c2.bad-retro.example"),
         ind("domain", "duckdns.org")], now=T0,
    )  # fmt: skip
    report = hunt(store, root, suffixes, warninglists)
    assert seen(report) == {
        ("evil-retro.example", "evil-retro.example"),
        ("evil-retro.example", "a.b.evil-retro.example"),
        ("evil-retro.example", "https://cdn.evil-retro.example/x.js"),
        ("evil-retro.example", "boss@mail.evil-retro.example"),
        ("c2.bad-retro.example", "x.y.c2.bad-retro.example"),
    }
    # a public suffix names itself only (not victim.duckdns.org), and is warninglisted
    assert [(h.indicator.value, h.value) for h, _ in report.suppressed] == [
        ("duckdns.org", "duckdns.org")
    ]


def test_exact_values_urls_hashes_and_addresses(
    store: Store, root: Path, suffixes: PublicSuffixes, warninglists: WarninglistIndex
) -> None:
    sha = "ab" * 32
    archive(
        root,
        ("2026-05-01T00:00:00Z", "a", "url", "http://evil-retro.example/pay.php?id=1"),
        ("2026-05-01T00:00:00Z", "a", "url", "http://evil-retro.example/pay.php?id=2"),
        ("2026-05-01T00:00:00Z", "a", "sha256", sha),
        ("2026-05-01T00:00:00Z", "a", "md5", "cd" * 16),
        ("2026-05-01T00:00:00Z", "a", "email", "ceo@phish-retro.example"),
    )
    IntelStore(store).add(
        [ind("url", "http://evil-retro.example/pay.php?id=1"), ind("sha256", sha),
         ind("email", "ceo@phish-retro.example"), ind("md5", "ef" * 16)], now=T0,
    )  # fmt: skip
    report = hunt(store, root, suffixes, warninglists)
    assert seen(report) == {
        ("http://evil-retro.example/pay.php?id=1", "http://evil-retro.example/pay.php?id=1"),
        (sha, sha), ("ceo@phish-retro.example", "ceo@phish-retro.example"),
    }  # fmt: skip
    rules = sorted(r[0] for r in retro_alerts(store))
    assert rules == ["intel.email", "intel.hash", "intel.url"]


def test_warninglisted_value_never_alerts(
    store: Store, root: Path, suffixes: PublicSuffixes, warninglists: WarninglistIndex
) -> None:
    assert warninglists.suppressed_by("ip", "8.8.8.8")
    archive(
        root,
        ("2026-05-01T00:00:00Z", "a", "ip", "8.8.8.8"),
        ("2026-05-01T00:00:00Z", "a", "ip", "8.8.77.1"),
    )
    # The network is not on a list, its well-known resolver is.
    IntelStore(store).add([ind("cidr", "8.8.0.0/16")], warninglists=warninglists, now=T0)
    report = hunt(store, root, suffixes, warninglists)
    assert seen(report) == {("8.8.0.0/16", "8.8.77.1")}
    ((hit, names),) = report.suppressed
    assert hit.value == "8.8.8.8" and "public-dns-v4" in names
    assert len(retro_alerts(store)) == 1
    # An indicator that is itself on a list is never searched.
    IntelStore(store).add([ind("ip", "1.1.1.1")], warninglists=warninglists, now=T0)
    assert load_indicators(store, IndicatorSelection(all=True))[0].value == "8.8.0.0/16"
    assert len(load_indicators(store, IndicatorSelection(all=True))) == 1


def test_rerun_updates_the_alert_instead_of_adding_one(
    store: Store, root: Path, suffixes: PublicSuffixes, warninglists: WarninglistIndex
) -> None:
    archive(root, ("2026-05-01T00:00:00Z", "pc1", "domain", "evil-retro.example"))
    IntelStore(store).add([ind("domain", "evil-retro.example")], now=T0)
    first = hunt(store, root, suffixes, warninglists)
    store.connection.execute("UPDATE alerts SET status = 'closed'")
    again = hunt(store, root, suffixes, warninglists)
    assert (first.alerts_new, first.alerts_updated) == (1, 0)
    assert (again.alerts_new, again.alerts_updated) == (0, 1)
    # new sightings later: still one alert, with the new last seen and count; triage kept
    archive(root, ("2026-06-09T00:00:00Z", "pc9", "domain", "evil-retro.example"))
    third = hunt(store, root, suffixes, warninglists)
    assert (third.alerts_new, third.alerts_updated) == (0, 1)
    rows = store.connection.execute("SELECT status, enrichment FROM alerts").fetchall()
    assert len(rows) == 1 and rows[0][0] == "closed"
    doc = json.loads(rows[0][1])["retrohunt"]
    assert (doc["count"], doc["last_seen"], doc["hosts"]) == (
        2, "2026-06-09T00:00:00Z", ["pc1", "pc9"]
    )  # fmt: skip


def test_selection_latest_import_since_source_and_all(store: Store) -> None:
    intel = IntelStore(store)
    intel.add([ind("ip", "45.155.205.1", "old")], now=T0)
    intel.add([ind("ip", "45.155.205.2", "new")], now=T0 + timedelta(days=1))
    values = lambda **kw: [i.value for i in load_indicators(store, IndicatorSelection(**kw))]  # type: ignore[arg-type]  # noqa: E731
    assert values() == ["45.155.205.2"]
    assert values(all=True) == ["45.155.205.1", "45.155.205.2"]
    assert values(source="old") == ["45.155.205.1"]
    assert values(since="2026-11-01T12:00:00Z") == ["45.155.205.1", "45.155.205.2"]
    assert values(since="2026-11-02T00:00:00Z") == ["45.155.205.2"]


def test_sightings_after_the_indicator_expired_do_not_count(
    store: Store, root: Path, suffixes: PublicSuffixes, warninglists: WarninglistIndex
) -> None:
    archive(
        root,
        ("2026-05-01T00:00:00Z", "a", "ip", "45.155.205.5"),
        ("2026-07-01T00:00:00Z", "a", "ip", "45.155.205.5"),
    )
    IntelStore(store).add(
        [ind("ip", "45.155.205.5", valid_until=datetime(2026, 6, 1, tzinfo=UTC))], now=T0
    )
    (hit,) = hunt(store, root, suffixes, warninglists).hits
    assert (hit.count, hit.last_seen) == (1, "2026-05-01T00:00:00Z")


def test_empty_archive_and_no_indicators(
    store: Store, root: Path, suffixes: PublicSuffixes, warninglists: WarninglistIndex
) -> None:
    report = hunt(store, root, suffixes, warninglists)
    assert (report.rows, report.indicators, report.hits) == (0, 0, ())
    archive(root, ("2026-05-01T00:00:00Z", "a", "ip", "45.155.205.5"))
    assert hunt(store, root, suffixes, warninglists).hits == ()


def test_a_damaged_archive_file_is_a_clear_error(
    store: Store, root: Path, suffixes: PublicSuffixes, warninglists: WarninglistIndex
) -> None:
    archive(root, ("2026-05-01T00:00:00Z", "a", "ip", "45.155.205.5"))
    (path,) = ObservableArchive(root).files()
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # truncated
    (root / "date=2026-05-02").mkdir()
    (root / "date=2026-05-02" / "part-x.parquet").write_bytes(b"\xff\xfe not parquet")
    IntelStore(store).add([ind("ip", "45.155.205.5")], now=T0)
    with pytest.raises(RetroHuntError, match="archive not searched"):
        hunt(store, root, suffixes, warninglists)


def test_retrospective_alert_carries_the_origin_of_its_address(
    store: Store, root: Path, suffixes: PublicSuffixes, warninglists: WarninglistIndex
) -> None:
    from floodwall.enrich.context import AlertContextEnricher
    from floodwall.enrich.geoip import GeoIPEnricher, load_geo_data
    from floodwall.enrich.origin import OriginEnricher
    from floodwall.settings import bundled_data

    geo = GeoIPEnricher(load_geo_data(bundled_data() / "geo"))
    context = AlertContextEnricher(OriginEnricher(geo, home_country="DE", hosting_asns={}))
    archive(
        root,
        ("2026-01-15T09:30:00Z", "pc1", "ip", "95.108.213.1"),  # Yandex, RU: on no warninglist
        ("2026-01-15T09:31:00Z", "pc1", "domain", "evil.example"),
    )
    IntelStore(store).add([ind("ip", "95.108.213.1"), ind("domain", "evil.example")], now=T0)
    report = run_retrohunt(
        store, root, selection=IndicatorSelection(), suffixes=suffixes,
        warninglists=lambda: warninglists, contexts=context.for_addresses,
    )  # fmt: skip
    assert report.alerts_new == 2
    rows = store.connection.execute(
        "SELECT rule_id, source_ip, country, asn, origin FROM alerts ORDER BY rule_id"
    ).fetchall()
    assert [tuple(r) for r in rows] == [
        ("intel.domain", None, None, None, "unknown"),
        ("intel.ip", "95.108.213.1", "RU", 13238, "abroad"),
    ]
