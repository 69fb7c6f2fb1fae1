"""WindowsFlatNormalizer: flat Windows exports (OTRF, NXLog), kept as they are."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import msgspec
import normalize_golden as golden
import pytest

from floodwall.ingest.base import RawRecord
from floodwall.normalize.dispatch import normalizer_for
from floodwall.normalize.windows_flat import WindowsFlatNormalizer
from floodwall.records import Origin

NAME = "windows_flat"


def raw(data: dict[str, Any]) -> RawRecord:
    return RawRecord(Origin("t.json", 3), data)


def test_golden_sample() -> None:
    record = golden.sample_input(NAME)
    event = WindowsFlatNormalizer().normalize(record)
    assert golden.event_as_dict(event) == golden.expected(NAME, event)
    assert normalizer_for(record).name == NAME


# name, record, (event_id, provider, host, timestamp), fields expected among the result
CASES: list[tuple[str, dict[str, Any], tuple[Any, ...], dict[str, Any]]] = [
    (
        "NXLog with EventTime and @timestamp",
        {
            "EventID": 5158,
            "SourceName": "Microsoft-Windows-Security-Auditing",
            "EventTime": "2020-09-04 16:09:38",
            "@timestamp": "2020-09-04T20:09:40.845Z",
            "Hostname": "WORKSTATION5.theshire.local",
            "host": "wec.internal.cloudapp.net",
            "Channel": "Security",
        },
        (
            5158,
            "Microsoft-Windows-Security-Auditing",
            "WORKSTATION5.theshire.local",
            "2020-09-04T20:09:40.845Z",
        ),
        {"Computer": "WORKSTATION5.theshire.local"},
    ),
    (
        "EventID as text, ProviderName, no offset",
        {
            "EventID": "4688",
            "ProviderName": "P",
            "TimeCreated": "2020-10-18 07:50:06.220",
            "Channel": "Security",
        },
        (4688, "P", None, "2020-10-18T07:50:06.220Z"),
        {"EventID": 4688, "Provider_Name": "P"},
    ),
    (
        "aliases already present are kept",
        {
            "EventID": 1,
            "Channel": "c",
            "Provider_Name": "A",
            "SourceName": "B",
            "Computer": "X",
            "Hostname": "Y",
        },
        (1, "A", "X", None),
        {"Provider_Name": "A", "Computer": "X"},
    ),
    (
        "EventID not a number",
        {"EventID": "n/a", "Channel": "c"},
        (None, None, None, None),
        {"EventID": "n/a"},
    ),
]


@pytest.mark.parametrize(
    ("data", "common", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_flat_records(
    data: dict[str, Any], common: tuple[Any, ...], expected: dict[str, Any]
) -> None:
    event = WindowsFlatNormalizer().normalize(raw(data))
    assert (event.event_id, event.provider, event.host_name, event.timestamp) == common
    for key, value in expected.items():
        assert event.fields[key] == value
    assert data.get("Computer") != "never"  # the raw record itself is not changed
    assert "Provider_Name" not in data or data["Provider_Name"] == "A"


def test_hostile_values_are_kept_without_recursion() -> None:
    deep: Any = "x"
    for _ in range(10_000):
        deep = {"d": deep}
    event = WindowsFlatNormalizer().normalize(
        raw({"EventID": 1, "Channel": "c", "X": deep, "Y": "z" * 10**7})
    )
    assert event.fields["X"] is deep and len(event.fields["Y"]) == 10**7


def test_is_handled() -> None:
    handles = WindowsFlatNormalizer().is_handled
    assert handles({"EventID": 1, "Channel": "Security"}) and handles(
        {"EventID": 1, "SourceName": "s"}
    )
    assert not handles({"EventID": 1}) and not handles({"Channel": "Security"})


def test_otrf_windows_records(shared_data: Path) -> None:
    folder = shared_data / "log_samples" / "otrf_security_datasets"
    decode = msgspec.json.Decoder().decode
    seen = 0
    for path in sorted(folder.glob("*.json.gz")):
        with gzip.open(path) as lines:
            for n, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                record = raw(decode(line))
                if normalizer_for(record).name != NAME:
                    continue
                event = WindowsFlatNormalizer().normalize(record)
                assert isinstance(event.event_id, int), (path, n)
                assert event.timestamp and event.timestamp.endswith("Z"), (path, n)
                assert event.channel and event.host_name and event.provider, (path, n)
                seen += 1
    assert seen > 9000
