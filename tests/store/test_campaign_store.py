"""Campaigns built from a real store: alerts (hunt) and messages joined by shared
infrastructure, the time window, campaign_id written back, rebuilds replacing rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from floodwall.enrich.campaign_keys import CampaignKeyer, load_campaign_keyer
from floodwall.enrich.campaigns import ClusterLimits
from floodwall.records import Event, Finding, Observable, Origin, Severity
from floodwall.store.alerts import AlertStore
from floodwall.store.campaigns import CampaignStore
from floodwall.store.db import Store, open_store


@pytest.fixture(scope="module")
def keyer() -> CampaignKeyer:
    return load_campaign_keyer()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "data") as s:
        yield s


def alert(ts: str, host: str, ip: str | None, *obs: Observable, rule: str = "sigma.x") -> Finding:
    event = Event(Origin("log.json", 1), timestamp=ts, host_name=host, source_ip=ip)
    return Finding(rule, "t", Severity.HIGH, ("T1110",), {}, tuple(obs), None, event)


def context(ip: str | None, asn: int | None, country: str, origin: str) -> dict[str, object]:
    return {
        "source": {"ip": ip, "geo": {"country_iso_code": country}, "as": {"number": asn}},
        "origin": {"class": origin, "reason": "test"},
    }


def add_message(store: Store, mid: str, scanned: str, ip: str, sender: str) -> None:
    with store.write() as conn:
        conn.execute(
            "INSERT INTO messages (id, scanned, source, path, sha256, from_addr, verdict, score,"
            " source_ip, origin, country, attack) VALUES (?, ?, 'gateway', 'p', ?, ?,"
            " 'quarantine', 9, ?, 'abroad', 'RU', '[\"T1566.001\"]')",
            (mid, scanned, mid * 4, sender, ip),
        )


def test_alerts_and_messages_join_and_campaign_ids_are_written_back(
    store: Store, keyer: CampaignKeyer
) -> None:
    alerts = AlertStore(store)
    findings = [
        alert("2026-05-01T10:00:00Z", "ws1", "45.9.148.3"),
        alert("2026-05-02T10:00:00Z", "ws2", "45.9.148.3"),
        alert("2026-05-03T10:00:00Z", "ws3", "192.0.2.1"),  # documentation range: no key
        alert(
            "2026-05-03T11:00:00Z",
            "ws4",
            None,
            Observable("domain", "beacon.bad-c2.org"),
            rule="intel.domain",
        ),
    ]
    ctx = [context("45.9.148.3", 204428, "RU", "abroad")] * 2 + [
        context(None, None, "", "unknown")
    ] * 2
    alerts.add_findings(None, findings, ctx)
    add_message(store, "m1", "2026-05-02T12:00:00Z", "45.9.148.3", "hr@payroll-update.biz")
    add_message(store, "m2", "2026-05-03T12:00:00Z", "203.0.113.5", "it@beacon.bad-c2.org")
    result = CampaignStore(store, keyer).build()
    assert result.items == 6
    campaigns = CampaignStore(store).list_campaigns()
    assert len(campaigns) == 2
    by_size = sorted(campaigns, key=lambda c: c.alert_count + c.message_count)
    c2, big = by_size
    assert (big.alert_count, big.message_count) == (2, 1)
    assert {"key": "ip:45.9.148.3", "members": 3} in big.shared_keys
    assert big.targets["hosts"] == ["ws1", "ws2"]
    assert big.origin_confidence == "high" and big.origins[0]["origin"] == "abroad/RU"
    assert {t["id"] for t in big.techniques} == {"T1110", "T1566.001"}
    assert [d["day"] for d in big.timeline] == ["2026-05-01", "2026-05-02"]
    # an intel hit on a domain and a message sent from that domain
    assert (c2.alert_count, c2.message_count) == (1, 1)
    assert {k["key"] for k in c2.shared_keys} == {"dom:bad-c2.org"}
    rows = store.connection.execute(
        "SELECT host, campaign_id FROM alerts ORDER BY host").fetchall()  # fmt: skip
    assert rows == [("ws1", big.id), ("ws2", big.id), ("ws3", None), ("ws4", c2.id)]
    assert CampaignStore(store).get(big.id) == big
    assert CampaignStore(store).get("Cmissing") is None
    members = CampaignStore(store).members(big.id)
    assert [m["kind"] for m in members] == ["alert", "alert", "message"]


def test_the_window_bounds_what_joins_and_rebuilds_replace_rows(
    store: Store, keyer: CampaignKeyer
) -> None:
    alerts = AlertStore(store)
    old = [alert("2026-01-01T00:00:00Z", f"old{i}", "45.9.148.9") for i in range(2)]
    new = [alert("2026-04-01T00:00:00Z", f"new{i}", "45.9.148.9") for i in range(2)]
    ctx = [context("45.9.148.9", 204428, "RU", "abroad")] * 2
    alerts.add_findings(None, old, ctx)
    alerts.add_findings(None, new, ctx)
    campaigns = CampaignStore(store, keyer)
    everything = campaigns.build(since="2000-01-01")
    assert [len(c.alert_ids) for c in everything.campaigns] == [4]
    recent = campaigns.build(window_days=30)  # the last 30 days before the newest alert
    assert recent.items == 2 and [len(c.alert_ids) for c in recent.campaigns] == [2]
    (row,) = campaigns.list_campaigns()
    assert row.first_seen.startswith("2026-04-01") and row.alert_count == 2
    in_campaign = store.connection.execute(
        "SELECT count(*) FROM alerts WHERE campaign_id IS NOT NULL").fetchone()  # fmt: skip
    assert in_campaign == (2,)
    # an event dated far in the future (attackers write log timestamps) does not push
    # the window past the real ones; it still joins them by its address
    alerts.add_findings(None, [alert("9999-12-31T00:00:00Z", "forged", "45.9.148.9")], ctx[:1])
    (forged,) = campaigns.build(window_days=30).campaigns
    assert len(forged.alert_ids) == 3 and forged.first_seen.startswith("2026-04-01")


def test_too_common_keys_are_reported_by_name(store: Store, keyer: CampaignKeyer) -> None:
    alerts = AlertStore(store)
    findings = [alert("2026-05-01T10:00:00Z", f"h{i}", f"77.88.8.{i + 1}") for i in range(6)]
    ctx = [context(f"77.88.8.{i + 1}", 13238, "RU", "abroad") for i in range(6)]
    alerts.add_findings(None, findings, ctx)
    result = CampaignStore(store, keyer).build(
        limits=ClusterLimits(caps={"asn": 3, "net": 3, "ip": 3})
    )
    assert result.campaigns == ()
    assert dict(result.too_common) == {"asn:13238": 6, "net:77.88.8.0/24": 6}


def test_hostile_stored_values_do_not_break_a_build(store: Store, keyer: CampaignKeyer) -> None:
    with store.write() as conn:
        for i, (ts, obs) in enumerate([("not a time", "{broken"), (None, "[1, 2, {}]"),
                                       ("2026-13-45T99:99:99", json.dumps([{"kind": "ip"}]))]):  # fmt: skip
            conn.execute(
                "INSERT INTO alerts (id, created, timestamp, level, severity, rule_id, rule_title,"
                " finding, source_ip, asn) VALUES (?, '2026-05-01T00:00:00+00:00', ?, 'high', 3,"
                " 'x', 't', ?, '45.9.148.77', 1)",
                (f"h{i}", ts, json.dumps({"observables": obs})),
            )
    result = CampaignStore(store, keyer).build()
    assert result.items == 3 and len(result.campaigns) == 1
