"""WinlogbeatNormalizer: Winlogbeat / ECS records, event data lifted flat."""

from __future__ import annotations

from typing import Any

import normalize_golden as golden

from floodwall.ingest.base import RawRecord
from floodwall.normalize.dispatch import normalizer_for
from floodwall.normalize.winlogbeat import WinlogbeatNormalizer
from floodwall.records import Origin

NAME = "winlogbeat"


def raw(data: dict[str, Any]) -> RawRecord:
    return RawRecord(Origin("t.json", 5), data)


def test_golden_sample() -> None:
    record = golden.sample_input(NAME)
    event = WinlogbeatNormalizer().normalize(record)
    assert golden.event_as_dict(event) == golden.expected(NAME, event)
    assert normalizer_for(record).name == NAME
    # What Sigma's process_creation rules read, under their own names.
    assert event.fields["Image"].endswith("powershell.exe") and event.fields["EventID"] == 1
    assert event.fields["host.os.family"] == "windows"
    assert "winlog.event_data.Image" not in event.fields


def test_minimal_and_odd_records() -> None:
    event = WinlogbeatNormalizer().normalize(raw({"winlog": {}}))
    assert event.event_id is None and event.timestamp is None and event.fields == {}
    event = WinlogbeatNormalizer().normalize(
        raw(
            {
                "@timestamp": "2024-03-01T10:00:00+01:00",
                "winlog": {
                    "event_id": "four",
                    "event_data": {"IpAddress": "10.1.1.1", "TargetUserName": "eve"},
                    "user_data": {"Param1": "p"},
                    "process": {"pid": 4, "thread": 8},
                },
                "host": {"name": "h1"},
                "source": {"ip": "192.0.2.1"},
            }
        )
    )
    assert event.event_id is None and event.timestamp == "2024-03-01T09:00:00Z"
    assert (event.host_name, event.user_name, event.source_ip) == ("h1", "eve", "10.1.1.1")
    assert event.fields["Param1"] == "p" and event.fields["ProcessID"] == 4
    assert event.fields["ThreadID"] == 8 and event.fields["source.ip"] == "192.0.2.1"


def test_deep_nesting_is_capped() -> None:
    deep: Any = "x"
    for _ in range(10_000):
        deep = {"d": deep}
    event = WinlogbeatNormalizer().normalize(
        raw({"winlog": {"event_data": {"Deep": deep}}, "x": deep})
    )
    assert all(not isinstance(v, dict) for v in event.fields.values())


def test_is_handled() -> None:
    handles = WinlogbeatNormalizer().is_handled
    assert handles({"winlog": {}}) and not handles({"winlog": "x"}) and not handles({"EventID": 1})
