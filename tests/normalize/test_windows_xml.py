"""WindowsXmlNormalizer: the {"Event": {"System", "EventData"|"UserData"}} shape, flattened."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import normalize_golden as golden
import pytest

from floodwall.ingest.base import RawRecord
from floodwall.ingest.evtx_source import EvtxSource
from floodwall.ingest.intake import IntakeLog
from floodwall.normalize.dispatch import normalizer_for
from floodwall.normalize.windows_xml import WindowsXmlNormalizer
from floodwall.records import Origin

NAME = "windows_xml"


def raw(event: dict[str, Any]) -> RawRecord:
    return RawRecord(Origin("t.evtx", 7), {"Event": event})


def test_golden_sample() -> None:
    record = golden.sample_input(NAME)
    event = WindowsXmlNormalizer().normalize(record)
    assert golden.event_as_dict(event) == golden.expected(NAME, event)
    assert normalizer_for(record).name == NAME


def test_evtx_sample_records_are_handled_and_flat() -> None:
    path = (
        Path(__file__).parents[1] / "samples" / "ingest" / "evtx" / "sysmon_process_creation.evtx"
    )
    for record in EvtxSource().read(str(path), IntakeLog()):
        event = WindowsXmlNormalizer().normalize(record)
        assert event.event_id == 1 and event.fields["EventID"] == 1
        assert event.timestamp is not None and event.timestamp.endswith("Z")
        assert event.fields["Image"] and event.fields["Provider_Name"] == "Microsoft-Windows-Sysmon"
        assert not any(isinstance(v, dict) for v in event.fields.values())


SYSTEM = {
    "Provider": {"#attributes": {"Name": "Service Control Manager", "Guid": "{555908d1}"}},
    "EventID": {"#attributes": {"Qualifiers": 16384}, "#text": 7045},
    "TimeCreated": {"#attributes": {"SystemTime": "2024-01-02T03:04:05.123456Z"}},
    "Execution": {"#attributes": {"ProcessID": 600, "ThreadID": 700}},
    "Security": {"#attributes": {"UserID": "S-1-5-18"}},
    "EventRecordID": 99,
    "Channel": "System",
    "Computer": "dc01.corp",
}

# name, EventData (or None), UserData (or None), fields expected among the result
SHAPES: list[tuple[str, Any, Any, dict[str, Any]]] = [
    (
        "named dict",
        {"ServiceName": "evil", "ImagePath": "c:\\x.exe"},
        None,
        {"ServiceName": "evil"},
    ),
    (
        "Data list with #attributes Name",
        {"Data": [{"#attributes": {"Name": "ServiceName"}, "#text": "evil"}]},
        None,
        {"ServiceName": "evil"},
    ),
    ("Data list with @Name", {"Data": [{"@Name": "A", "#text": "1"}]}, None, {"A": "1"}),
    ("unnamed Data list", {"Data": ["a", "b"]}, None, {"Data": ["a", "b"]}),
    ("unnamed Data #text list", {"Data": {"#text": ["a", "b"]}}, None, {"Data": ["a", "b"]}),
    ("lone unnamed Data", {"Data": "only"}, None, {"Data": "only"}),
    ("value wrapped in #text", {"X": {"#attributes": {"k": 1}, "#text": "v"}}, None, {"X": "v"}),
    ("EventData attributes dropped", {"#attributes": {"Name": "T"}, "A": 1}, None, {"A": 1}),
    (
        "UserData leaves by name",
        None,
        {
            "LogFileCleared": {
                "#attributes": {"xmlns": "x"},
                "SubjectUserName": "bob",
                "Inner": {"Channel2": "c"},
            }
        },
        {"SubjectUserName": "bob", "Channel2": "c"},
    ),
    (
        "System wins a clash",
        {"EventID": 1, "Channel": "fake"},
        None,
        {"EventID": 7045, "Channel": "System"},
    ),
]


@pytest.mark.parametrize(
    ("event_data", "user_data", "expected"), [s[1:] for s in SHAPES], ids=[s[0] for s in SHAPES]
)
def test_event_and_user_data_shapes(
    event_data: Any, user_data: Any, expected: dict[str, Any]
) -> None:
    body: dict[str, Any] = {"System": SYSTEM}
    if event_data is not None:
        body["EventData"] = event_data
    if user_data is not None:
        body["UserData"] = user_data
    event = WindowsXmlNormalizer().normalize(raw(body))
    for key, value in expected.items():
        assert event.fields[key] == value
    assert event.event_id == 7045 and event.channel == "System" and event.host_name == "dc01.corp"
    assert event.provider == "Service Control Manager"
    assert event.timestamp == "2024-01-02T03:04:05.123456Z"
    assert {
        k: event.fields[k] for k in ("Provider_Guid", "Security_UserID", "ProcessID", "ThreadID")
    } == {
        "Provider_Guid": "{555908d1}",
        "Security_UserID": "S-1-5-18",
        "ProcessID": 600,
        "ThreadID": 700,
    }


@pytest.mark.parametrize(
    ("data", "user", "source_ip", "destination_ip"),
    [
        (
            {"SubjectUserName": "-", "TargetUserName": "alice", "IpAddress": "10.0.0.5"},
            "alice",
            "10.0.0.5",
            None,
        ),
        (
            {"User": "CORP\\bob", "SourceIp": "1.2.3.4", "DestinationIp": "5.6.7.8"},
            "CORP\\bob",
            "1.2.3.4",
            "5.6.7.8",
        ),
        ({"SourceAddress": "::1", "DestAddress": "fe80::1"}, None, "::1", "fe80::1"),
        ({"IpAddress": "-"}, None, None, None),
    ],
)
def test_user_and_addresses(
    data: dict[str, Any], user: Any, source_ip: Any, destination_ip: Any
) -> None:
    event = WindowsXmlNormalizer().normalize(raw({"System": SYSTEM, "EventData": data}))
    assert (event.user_name, event.source_ip, event.destination_ip) == (
        user,
        source_ip,
        destination_ip,
    )


def test_hostile_records_do_not_crash() -> None:
    deep: dict[str, Any] = {"leaf": "x"}
    for _ in range(10_000):
        deep = {"n": deep}
    event = WindowsXmlNormalizer().normalize(raw({"System": {"EventID": "x"}, "UserData": deep}))
    assert event.event_id is None
    assert isinstance(event.fields["n"], str)  # kept whole (as JSON text) below the depth cap
    event = WindowsXmlNormalizer().normalize(raw({"System": None, "EventData": 5}))
    assert event.fields == {"Data": 5}


def test_is_handled() -> None:
    handles = WindowsXmlNormalizer().is_handled
    assert handles({"Event": {"System": {}}})
    assert not handles({"Event": "text"}) and not handles({"EventID": 1}) and not handles({})


def test_regression_evtx_normalize_flat(shared_data: Path) -> None:
    folder = shared_data / "sigmahq" / "regression_data"
    normalizer = WindowsXmlNormalizer()
    count = 0
    for path in sorted(folder.rglob("*.evtx")):
        for record in EvtxSource().read(str(path), IntakeLog()):
            event = normalizer.normalize(record)
            assert isinstance(event.event_id, int) and event.channel and event.host_name, path
            assert event.timestamp and event.timestamp.endswith("Z"), path
            assert not any(isinstance(v, dict) for v in event.fields.values()), path
            count += 1
    assert count > 200
