"""The engine on whole events: log-source mapping, the 4688 field aliases, the prefilter,
and generic logs. One table of events that must and must not match the sample rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from floodwall.detect.sigma.engine import SigmaEngine
from floodwall.detect.sigma.loader import RuleDir, load_rules
from floodwall.detect.sigma.logsource import LogSourceMap
from floodwall.ingest.base import RawRecord
from floodwall.normalize.dispatch import normalize
from floodwall.records import Origin

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "detect" / "sigma"
SYSMON = "Microsoft-Windows-Sysmon/Operational"


@pytest.fixture(scope="module")
def engine() -> SigmaEngine:
    ruleset = load_rules([RuleDir(SAMPLE)], cache_dir=None, workers=1)
    assert not ruleset.problems
    return SigmaEngine(ruleset.rules, LogSourceMap.load())


def fires(engine: SigmaEngine, record: dict[str, Any]) -> bool:
    return bool(engine.match(normalize(RawRecord(Origin("t", 1), record))))


WHOAMI = "C:\\Windows\\System32\\whoami.exe"
CASES = [
    ({"EventID": 1, "Channel": SYSMON, "Image": WHOAMI, "User": "NT AUTHORITY\\SYSTEM"}, True),
    ({"EventID": 1, "Channel": SYSMON, "Image": WHOAMI.upper(), "User": "nt authority\\system"}, True),
    ({"EventID": 1, "Channel": SYSMON, "Image": WHOAMI, "User": "CORP\\alice"}, False),
    ({"EventID": 1, "Channel": SYSMON, "Image": WHOAMI + ".bak", "User": "NT AUTHORITY\\SYSTEM"}, False),
    # Sysmon's other events are other categories
    ({"EventID": 3, "Channel": SYSMON, "Image": WHOAMI, "User": "NT AUTHORITY\\SYSTEM"}, False),
    # Security 4688 is process_creation too; NewProcessName reads as Image
    ({"EventID": 4688, "Channel": "Security", "NewProcessName": WHOAMI, "User": "NT AUTHORITY\\x"}, True),
    ({"EventID": 4689, "Channel": "Security", "NewProcessName": WHOAMI, "User": "NT AUTHORITY\\x"}, False),
    # a Windows rule never fires on a generic log, whatever its fields
    ({"Image": WHOAMI, "User": "NT AUTHORITY\\SYSTEM"}, False),
    # nested Event.EventData records are the same event
    ({"Event": {"System": {"EventID": 1, "Channel": SYSMON, "Computer": "h"},
                "EventData": {"Image": WHOAMI, "User": "NT AUTHORITY\\SYSTEM"}}}, True),
    # Winlogbeat records too
    ({"winlog": {"channel": SYSMON, "event_id": 1,
                 "event_data": {"Image": WHOAMI, "User": "NT AUTHORITY\\SYSTEM"}}}, True),
]  # fmt: skip


@pytest.mark.parametrize(("record", "expected"), CASES)
def test_sample_rule(engine: SigmaEngine, record: dict[str, Any], expected: bool) -> None:
    assert fires(engine, record) is expected


def test_sample_events_file(engine: SigmaEngine) -> None:
    from floodwall.ingest.intake import IntakeLog
    from floodwall.ingest.json_source import NdjsonSource

    hits = [
        bool(engine.match(normalize(raw)))
        for raw in NdjsonSource().read(str(SAMPLE / "events.ndjson"), IntakeLog())
    ]
    assert hits == [True, False, True]


def test_generic_log_needs_the_rules_fields(tmp_path: Path) -> None:
    (tmp_path / "zeek.yml").write_text(
        "title: Public RDP\nid: 11111111-2222-4333-8444-555555555555\n"
        "logsource: {product: zeek, service: rdp}\n"
        "detection:\n  sel: {id.orig_h|cidr: '10.0.0.0/8'}\n  condition: not sel\n"
    )
    ruleset = load_rules([RuleDir(tmp_path)], cache_dir=None, workers=1)
    eng = SigmaEngine(ruleset.rules, LogSourceMap.load())
    rdp = {"_path": "rdp", "id": {"orig_h": "8.8.8.8"}}
    cloudtrail = {"eventName": "GetObject", "sourceIPAddress": "8.8.8.8"}
    assert eng.match(normalize(RawRecord(Origin("t", 1), rdp)))
    assert not eng.match(normalize(RawRecord(Origin("t", 2), cloudtrail)))
