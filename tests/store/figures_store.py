"""A hand-built store with known daily figures (tests/store/test_figures.py and
tests/cli/test_stats_cli.py use it; the expected numbers are worked out in EXPECTED).

Log alerts go in through AlertStore, the writer ``hunt`` uses; mail verdicts are
inserted as rows, because MessageStore takes scan results and does not write the
enrichment columns (origin, country, attack) the figures split by.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from floodwall.ingest.intake import IntakeLog
from floodwall.records import Event, Finding, Origin, Severity
from floodwall.store.alerts import AlertStore
from floodwall.store.db import Store, open_store

DAY = date(2026, 3, 10)
RULE_A = "sigma.aaaaaaaa-0000-4000-8000-000000000001"
RULE_B = "sigma.bbbbbbbb-0000-4000-8000-000000000002"


def ctx(country: str | None, origin: str) -> dict[str, Any]:
    source: dict[str, Any] = {"ip": "203.0.113.7"}
    if country:
        source["geo"] = {"country_iso_code": country}
    return {"source": source, "origin": {"class": origin, "reason": "test"}}


def finding(rule: str, host: str | None, ts: str | None, attack: tuple[str, ...]) -> Finding:
    event = Event(origin=Origin("/logs/x.evtx", 1), timestamp=ts, host_name=host)
    return Finding(rule, "test rule", Severity.HIGH, attack, event=event)


# (rule, host, event time, techniques, country, origin class)
LOG_ALERTS: list[tuple[str, str | None, str | None, tuple[str, ...], str | None, str]] = [
    # rule A on h1: 10:05, 10:40 and 10:59 fold into one attack (window 10:00-10:59),
    # 11:01 is the next window: 2 attacks, both taking the first alert's origin (RU).
    (RULE_A, "h1", "2026-03-10T10:05:00.000Z", ("T1059.001",), "RU", "abroad"),
    (RULE_A, "h1", "2026-03-10T10:40:00.000Z", ("T1059.001",), "DE", "domestic"),
    (RULE_A, "h1", "2026-03-10T10:59:59.999Z", ("T1059.001",), "DE", "domestic"),
    (RULE_A, "h1", "2026-03-10T11:01:00.000Z", ("T1059.001",), "RU", "abroad"),
    # Same rule, another host: its own attack. Internal address.
    (RULE_A, "h2", "2026-03-10T10:10:00.000Z", ("T1059.001",), None, "internal"),
    # Another rule on h1: its own attack, two techniques, no address.
    (RULE_B, "h1", "2026-03-10T10:10:00.000Z", ("T1003.001", "T1078"), None, "unknown"),
    # The day before: not counted on DAY.
    (RULE_A, "h1", "2026-03-09T23:59:00.000Z", ("T1059.001",), "RU", "abroad"),
]

# (id, scanned, source, recipients, verdict, country, origin, attack, unscannable)
MESSAGES: list[tuple[str, str, str, int, str, str | None, str, list[str], list[str]]] = [
    ("m1", "2026-03-10T08:00:00Z", "gateway", 3, "reject", "CN", "abroad",
     ["T1566.001", "T1204.002"], []),
    ("m2", "2026-03-10T09:00:00Z", "gateway", 1, "quarantine", "DE", "domestic",
     ["T1566.002"], []),
    ("m3", "2026-03-10T12:00:00Z", "gateway", 2, "tag", None, "unknown", [], []),
    ("m4", "2026-03-10T13:00:00Z", "gateway", 5, "accept", "US", "abroad", [], []),
    ("m5", "2026-03-11T00:00:00Z", "gateway", 1, "reject", "CN", "abroad", ["T1566.001"], []),
    ("m6", "2026-03-10T14:00:00Z", "scan", 1, "accept", None, "unknown", [], ["zip bomb"]),
]  # fmt: skip

# Worked out by hand from the rows above (fold window 60 minutes).
EXPECTED = {
    "mail": {"seen": 6, "blocked": 4, "got_through": 2},  # m1 x3 + m2 blocked, m3 x2
    "logs": {"seen": 4, "blocked": 0, "got_through": 4},  # A/h1 x2, A/h2, B/h1
    "seen": 10,
    "blocked": 4,
    "got_through": 6,
    "log_alerts": 6,
}


def insert_message(store: Store, row: tuple[Any, ...]) -> None:
    mid, scanned, source, n, verdict, cc, origin, attack, unscannable = row
    with store.write() as conn:
        conn.execute(
            "INSERT INTO messages (id, scanned, source, path, sha256, recipients, verdict,"
            " score, country, origin, attack, unscannable)"
            " VALUES (?, ?, ?, '-', ?, ?, ?, 1.0, ?, ?, ?, ?)",
            (mid, scanned, source, "ab" * 32, n, verdict, cc, origin, json.dumps(attack),
             json.dumps(unscannable)),
        )  # fmt: skip


def build_store(data_dir: Path) -> Store:
    """The store above, plus one finished and one crashed hunt started today."""
    store = open_store(data_dir)
    alerts = AlertStore(store)
    hunt = alerts.start_hunt(["hunt"], ["/logs/x.evtx", "/logs/y.json"])
    findings = [finding(r, h, ts, att) for r, h, ts, att, _, _ in LOG_ALERTS]
    contexts = [ctx(cc, o) for _, _, _, _, cc, o in LOG_ALERTS]
    alerts.add_findings(hunt, findings, contexts)
    intake = IntakeLog()
    intake.count("/logs/x.evtx", 120)
    intake.count("/logs/y.json", 40)
    intake.problem("/logs/y.json", "line 3", "invalid JSON")
    intake.problem("/logs/y.json", "line 9", "invalid UTF-8")
    alerts.finish_hunt(hunt, events=160, matches=7, rules_loaded=2, rules_failed=0, intake=intake)
    alerts.start_hunt(["hunt"], ["/logs/z.evtx"])  # never finished: a crash
    for row in MESSAGES:
        insert_message(store, row)
    return store
