"""Alerts go in as Findings and come back equal, filtered, counted and fast."""

from __future__ import annotations

import dataclasses
import math
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from floodwall.ingest.intake import IntakeLog
from floodwall.records import Event, Finding, Observable, Origin, RuleRef, Severity
from floodwall.store.alerts import AlertStore, StoredIntake
from floodwall.store.codec import finding_from_json, finding_to_json
from floodwall.store.db import Store, open_store


def make_finding(
    n: int,
    *,
    severity: Severity = Severity.HIGH,
    rule: str = "5b0e7a4c-0000-4000-8000-000000000001",
    timestamp: str | None = None,
    fields: Any = None,
    host: str = "ws-01.corp.example",
) -> Finding:
    """A Sigma-like finding on an EVTX process-creation event."""
    event = Event(
        origin=Origin(f"/logs/host{n % 7}.evtx", n + 1),
        timestamp=timestamp or f"2024-05-01T10:{n // 60 % 60:02d}:{n % 60:02d}.000000Z",
        host_name=host,
        category="process",
        provider="Microsoft-Windows-Sysmon",
        channel="Microsoft-Windows-Sysmon/Operational",
        event_id=1,
        user_name="CORP\\alice",
        fields=fields
        if fields is not None
        else {
            "EventID": 1,
            "Image": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
            "CommandLine": f"powershell -enc SQBFAFgA {n}",
            "ParentImage": "C:\\Program Files\\Microsoft Office\\WINWORD.EXE",
            "Hashes": {"SHA256": "ab" * 32, "MD5": "cd" * 16},
            "IntegrityLevel": "Medium",
            "Ratio": 0.25,
            "Flags": [True, False, None],
        },
    )
    return Finding(
        id=f"sigma.{rule}",
        title="Suspicious encoded PowerShell from Office",
        severity=severity,
        attack=("T1059.001", "T1566.001"),
        evidence={"Image": "powershell.exe", "CommandLine|contains": ["-enc"]},
        observables=(Observable("sha256", "ab" * 32), Observable("ip", "203.0.113.9")),
        rule=RuleRef(
            id=rule,
            title="Suspicious encoded PowerShell from Office",
            author="Floodwall tests",
            link=f"https://example.org/rules/{rule}.yml",
            license="DRL-1.1",
            tags=("attack.execution", "attack.t1059.001"),
            references=("https://attack.mitre.org/techniques/T1059/001/",),
        ),
        event=event,
        detector="sigma",
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path) as s:
        yield s


@pytest.mark.parametrize(
    "fields",
    [
        {"nan": math.nan, "inf": [math.inf, {"neg": -math.inf}]},
        {"bad utf-8 \udcff": "C:\\Users\\\udce9t\udcffe"},
        types.MappingProxyType({"EventID": 4624, "big": 2**80, "nul": "a\x00b"}),
        {},
    ],
    ids=["non-finite", "surrogates", "mappingproxy", "empty"],
)
def test_codec_round_trips_hostile_values(fields: Any) -> None:
    finding = make_finding(1, fields=fields)
    back = finding_from_json(finding_to_json(finding))
    if "nan" in fields:  # NaN != NaN, so compare the rest whole and NaN by kind.
        assert math.isnan(back.event.fields["nan"])  # type: ignore[union-attr]
        assert back.event.fields["inf"] == fields["inf"]  # type: ignore[union-attr]
        assert back.evidence == finding.evidence
    else:
        assert back == finding
    assert type(back.severity) is Severity
    assert isinstance(back.attack, tuple) and isinstance(back.observables[0], Observable)


def test_codec_round_trips_a_bare_finding() -> None:
    bare = Finding("mail.macro_autoexec", "Macro runs on open", Severity.CRITICAL)
    assert finding_from_json(finding_to_json(bare)) == bare


def test_findings_round_trip_whole(store: Store) -> None:
    alerts = AlertStore(store)
    hunt = alerts.start_hunt(["floodwall", "hunt", "/logs"], [Path("/logs")])
    findings = [make_finding(n) for n in range(5)]
    assert alerts.add_findings(hunt, findings) == 5
    stored = alerts.list_alerts(limit=10)
    # Newest event first.
    assert [a.finding for a in stored] == findings[::-1]
    first = stored[-1]
    assert first.hunt_id == hunt
    assert first.level == "high" and first.severity is Severity.HIGH
    assert first.rule_id == findings[0].id
    assert first.rule_author == "Floodwall tests"
    assert first.attack == ("T1059.001", "T1566.001")
    assert (first.source_path, first.record_id) == ("/logs/host0.evtx", 1)
    assert first.host == "ws-01.corp.example"
    assert first.status == "open"
    assert len({a.id for a in stored}) == 5


def test_finding_without_rule_or_event(store: Store) -> None:
    alerts = AlertStore(store)
    bare = Finding("mail.macro_autoexec", "Macro runs on open", Severity.CRITICAL)
    assert alerts.add_findings(None, [bare]) == 1
    (got,) = alerts.list_alerts()
    assert got.finding == bare
    assert (got.rule_id, got.rule_title, got.rule_author) == (bare.id, bare.title, "")
    assert got.timestamp is None and got.hunt_id is None


def test_undecodable_host_is_stored_readably_and_exactly(store: Store) -> None:
    alerts = AlertStore(store, batch_size=2)
    findings = [make_finding(n, host="srv-\udcff") for n in range(3)]
    assert alerts.add_findings(None, findings) == 3
    assert alerts.count_alerts() == 3
    got = alerts.list_alerts()
    assert {a.host for a in got} == {"srv-\\udcff"}
    assert sorted((a.finding for a in got), key=lambda f: f.event.origin.record_id) == findings  # type: ignore[union-attr]


def test_record_id_beyond_int64_is_kept_in_the_finding(store: Store) -> None:
    alerts = AlertStore(store)
    base = make_finding(0)
    assert base.event is not None
    forged = dataclasses.replace(base.event, origin=Origin("forged.evtx", 2**64 - 1))
    huge = dataclasses.replace(base, event=forged)
    alerts.add_findings(None, [huge])
    (got,) = alerts.list_alerts()
    assert got.record_id is None and got.finding == huge


def test_filters(store: Store) -> None:
    alerts = AlertStore(store, batch_size=3)
    hunt = alerts.start_hunt([], [])
    findings = [
        make_finding(0, severity=Severity.LOW, rule="r-low", timestamp="2024-04-30T23:59:59Z"),
        make_finding(1, severity=Severity.MEDIUM, rule="r-med", timestamp="2024-05-01T00:00:00Z"),
        make_finding(2, severity=Severity.HIGH, rule="r-high", timestamp="2024-05-02T08:00:00Z"),
        make_finding(
            3, severity=Severity.CRITICAL, rule="r-high", timestamp="2024-05-03T08:00:00Z"
        ),
    ]
    alerts.add_findings(hunt, findings)

    def ids(**kw: Any) -> list[int]:
        return [a.record_id or 0 for a in alerts.list_alerts(**kw)]

    assert ids() == [4, 3, 2, 1]
    assert ids(limit=2) == [4, 3]
    assert ids(level_at_least=Severity.HIGH) == [4, 3]
    assert ids(level_at_least=Severity.INFORMATIONAL) == [4, 3, 2, 1]
    assert ids(rule_id="sigma.r-high") == [4, 3]
    assert ids(rule_id="sigma.none") == []
    assert ids(since="2024-05-01") == [4, 3, 2]
    assert ids(since="2024-05-02T08:00:00Z") == [4, 3]
    assert ids(level_at_least=Severity.MEDIUM, rule_id="sigma.r-med", since="2024-05") == [2]
    assert alerts.count_alerts() == 4
    assert alerts.count_alerts(hunt_id=hunt) == 4
    assert alerts.count_alerts(hunt_id="other") == 0


def test_hunt_lifecycle_records_intake(store: Store) -> None:
    alerts = AlertStore(store)
    hunt = alerts.start_hunt(["floodwall", "hunt", "a.evtx"], ["a.evtx", Path("b.ndjson")])
    running = alerts.get_hunt(hunt)
    assert running is not None and running.status == "running" and running.finished is None
    intake = IntakeLog()
    intake.count("a.evtx", 120)
    intake.count("b.ndjson", 7)
    intake.problem("b.ndjson", "line 3", "invalid JSON")
    intake.problem("c.evtx", "chunk 2", "bad checksum")
    alerts.add_findings(hunt, [make_finding(0)])
    alerts.finish_hunt(
        hunt, events=127, matches=1, rules_loaded=900, rules_failed=2, intake=intake, status="ok"
    )
    done = alerts.get_hunt(hunt)
    assert done is not None
    assert done.argv == ("floodwall", "hunt", "a.evtx")
    assert done.paths == ("a.evtx", "b.ndjson")
    assert (done.events, done.matches, done.rules_loaded, done.rules_failed) == (127, 1, 900, 2)
    assert done.status == "ok" and done.finished is not None
    assert done.intake == (
        StoredIntake("a.evtx", 120, 0, ()),
        StoredIntake("b.ndjson", 7, 1, (("line 3", "invalid JSON"),)),
        StoredIntake("c.evtx", 0, 1, (("chunk 2", "bad checksum"),)),
    )
    assert alerts.get_hunt("missing") is None
    with pytest.raises(KeyError):
        alerts.finish_hunt(
            "missing", events=0, matches=0, rules_loaded=0, rules_failed=0, intake=intake
        )


def test_findings_for_unknown_hunt_are_rejected_atomically(store: Store) -> None:
    import sqlite3

    alerts = AlertStore(store)
    with pytest.raises(sqlite3.IntegrityError):
        alerts.add_findings("no-such-hunt", [make_finding(0), make_finding(1)])
    assert alerts.count_alerts() == 0


def test_insert_100k_findings_timing(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    alerts = AlertStore(store)
    hunt = alerts.start_hunt(["bench"], [])
    n = 100_000
    findings = [make_finding(i) for i in range(n)]
    began = time.perf_counter()
    assert alerts.add_findings(hunt, findings) == n
    took = time.perf_counter() - began
    assert alerts.count_alerts() == n
    with capsys.disabled():
        print(f"\nadd_findings: {n} findings in {took:.2f} s = {n / took:,.0f} findings/s")
