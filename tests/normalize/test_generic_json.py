"""GenericJsonNormalizer (the fallback), the shared helpers, and the dispatch."""

from __future__ import annotations

from typing import Any

import normalize_golden as golden
import pytest

from floodwall.ingest.base import RawRecord
from floodwall.normalize.dispatch import NORMALIZERS, normalize, normalizer_for
from floodwall.normalize.generic_json import GenericJsonNormalizer, flatten, iso_z
from floodwall.records import Origin

NAME = "generic_json"


def raw(data: Any) -> RawRecord:
    return RawRecord(Origin("t.json", 9), data)


def test_golden_sample() -> None:
    record = golden.sample_input(NAME)
    event = GenericJsonNormalizer().normalize(record)
    assert golden.event_as_dict(event) == golden.expected(NAME, event)
    assert normalizer_for(record).name == NAME
    assert event.fields["userIdentity.sessionContext.attributes.mfaAuthenticated"] == "false"
    assert isinstance(event.fields["resources"], list)  # lists are kept as lists


def test_flatten_joins_with_dots_and_keeps_lists() -> None:
    data = {"a": {"b": {"c": 1}, "l": [{"x": 1}]}, "e": {}, "n": None}
    assert flatten(data) == {"a.b.c": 1, "a.l": [{"x": 1}], "e": {}, "n": None}


def test_flatten_caps_depth_on_hostile_nesting() -> None:
    deep: Any = "x"
    for _ in range(10_000):
        deep = {"d": deep}
    fields = flatten({"root": deep})
    ((key, value),) = fields.items()
    assert key.count(".") == 32 and isinstance(value, str)
    shallow: Any = "x"
    for _ in range(40):
        shallow = {"d": shallow}
    (value,) = flatten(shallow).values()
    assert value == '{"d":' * 7 + '"x"' + "}" * 7  # 33 levels flattened, 7 kept as JSON


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2020-09-14T01:00:33.000Z", "2020-09-14T01:00:33.000Z"),
        ("2020-10-18 07:50:06.220", "2020-10-18T07:50:06.220Z"),
        ("2020-09-04T20:09:40+02:00", "2020-09-04T18:09:40Z"),
        ("2025-12-06T21:11:02.649150Z UTC", "2025-12-06T21:11:02.649150Z"),
        (1600000000, "2020-09-13T12:26:40Z"),
        (1600000000.5, "2020-09-13T12:26:40.500000Z"),
        (1600000000123, "2020-09-13T12:26:40.123000Z"),
        ("yesterday", None),
        (None, None),
        (True, None),
        (1e300, None),
        (10**400, None),  # past float's range
        ("0001-01-01T00:00:00+05:00", None),  # before year 1 in UTC
        ("9999-12-31T23:59:59-05:00", None),  # after year 9999 in UTC
        ({"t": 1}, None),
    ],
)
def test_iso_z(value: Any, expected: str | None) -> None:
    assert iso_z(value) == expected


@pytest.mark.parametrize(
    ("data", "timestamp", "host"),
    [
        (
            {"@timestamp": "2021-01-01T00:00:00Z", "time": 5, "host": {"name": "h"}},
            "2021-01-01T00:00:00Z",
            "h",
        ),
        ({"ts": 1600000000, "hostname": "web1"}, "2020-09-13T12:26:40Z", "web1"),
        (
            {"timestamp": "bad", "eventTime": "2021-02-03T04:05:06Z", "Computer": "c"},
            "2021-02-03T04:05:06Z",
            "c",
        ),
        ({"host": "plain"}, None, "plain"),
    ],
)
def test_common_fields_from_well_known_keys(
    data: dict[str, Any], timestamp: Any, host: Any
) -> None:
    event = GenericJsonNormalizer().normalize(raw(data))
    assert (event.timestamp, event.host_name) == (timestamp, host)


def test_non_dict_root_is_kept() -> None:
    event = GenericJsonNormalizer().normalize(raw([1, 2]))
    assert event.fields == {"value": [1, 2]}


def test_dispatch_order_and_choice() -> None:
    assert [n.name for n in NORMALIZERS] == ["windows_flat", "windows_xml", "winlogbeat", NAME]
    for name in ("windows_xml", "windows_flat", "winlogbeat", NAME):
        record = golden.sample_input(name)
        assert normalizer_for(record).name == name
        assert golden.event_as_dict(normalize(record)) == golden.expected(name, normalize(record))
    assert normalizer_for(raw({})).name == NAME


def test_every_normalizer_has_docstring_and_sample() -> None:
    for plugin in NORMALIZERS:
        assert plugin.__doc__ and plugin.__doc__.strip()
        assert (golden.SAMPLES / plugin.name / "input.json").is_file()
        assert (golden.SAMPLES / plugin.name / "expected.json").is_file()
