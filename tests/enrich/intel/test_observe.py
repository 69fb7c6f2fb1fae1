"""Observables of events: which fields are read, in what order, and the memories that keep
extraction and matching cheap (reading plans, parsed Hashes, values seen to match
nothing) giving the same answers as the first time, within bounded memory."""

from __future__ import annotations

import pytest

from floodwall.enrich.intel import inline, observe
from floodwall.enrich.intel.indicator import Indicator
from floodwall.enrich.intel.inline import EventIntelMatcher
from floodwall.enrich.intel.matcher import IntelMatcher
from floodwall.enrich.intel.observe import ObservableExtractor
from floodwall.enrich.intel.tables import IndicatorTables
from floodwall.records import Event, Origin

SHA = "d" * 64
MD5 = "a" * 32


def test_fields_are_read_in_table_order_without_duplicates_or_empties() -> None:
    extract = ObservableExtractor()
    fields = {
        "QueryName": "x.evil.example",
        "DestinationIp": "198.51.100.9",
        "SourceIp": "198.51.100.9",  # the same (kind, value) twice: kept once
        "DestinationHostname": "-",  # Windows' empty
        "Hashes": f"SHA1={'b' * 40},MD5={MD5.upper()},SHA256={SHA},IMPHASH={'c' * 32}",
        "EventID": 3,
        "source.domain": 7,  # not a string: not an observable
    }
    assert extract(fields) == [
        ("ip", "198.51.100.9"),
        ("domain", "x.evil.example"),
        ("sha1", "b" * 40),
        ("md5", MD5.upper()),
        ("sha256", SHA),
    ]
    # The second time comes from the reading plan and the parsed Hashes: same answer.
    assert extract(fields) == extract(dict(reversed(fields.items())))
    assert extract({"Image": "C:\\x.exe"}) == []


def test_two_equal_observables_and_three_with_a_repeat() -> None:
    extract = ObservableExtractor()
    assert extract({"SourceIp": "10.0.0.1", "DestinationIp": "10.0.0.1"}) == [("ip", "10.0.0.1")]
    three = {"src_ip": "10.0.0.1", "dest_ip": "10.0.0.2", "id.orig_h": "10.0.0.1"}
    assert extract(three) == [("ip", "10.0.0.1"), ("ip", "10.0.0.2")]


@pytest.mark.parametrize(
    "hashes",
    ["", "=,=,=", "MD5", "MD5=", "sha256 = " + SHA, ",,,,", "MD5=" + "x" * 100_000, "\udcff=1"],
)
def test_hostile_hashes_fields_never_raise(hashes: str) -> None:
    got = ObservableExtractor()({"Hashes": hashes})
    assert all(kind in ("md5", "sha1", "sha256") and value for kind, value in got)
    if hashes.startswith("sha256 ="):
        assert got == [("sha256", SHA)]  # names are read case- and space-insensitively


def test_plans_and_parsed_hashes_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(observe, "PLAN_LIMIT", 8)
    extract = ObservableExtractor()
    names = list(observe.FIELD_KINDS)[:6]
    for mask in range(1, 64):  # 63 distinct sets of present fields
        fields = {n: f"10.0.0.{i}" for i, n in enumerate(names) if mask >> i & 1}
        fields["Hashes"] = f"MD5={mask:032x}"
        got = extract(fields)
        assert ("md5", f"{mask:032x}") in got
        assert len(extract._plans) <= 8 and len(extract._digests) <= 8


def _matcher() -> IntelMatcher:
    return IntelMatcher(
        IndicatorTables.from_indicators(
            [Indicator("ip", "198.51.100.9", "feed", 90), Indicator("sha256", SHA, "feed", 90)]
        )
    )


def _event(n: int, **fields: str) -> Event:
    return Event(Origin("log.ndjson", n), fields=fields)


def test_values_seen_to_match_nothing_are_not_matched_again() -> None:
    intel = EventIntelMatcher(_matcher())
    bad = _event(1, DestinationIp="198.51.100.9", SourceIp="10.0.0.1")
    good = _event(2, DestinationIp="10.0.0.2", SourceIp="10.0.0.1")
    batch = [(e, intel.observables(e)) for e in (bad, good)]
    assert all(intel.has_unknown(found) for _, found in batch)
    assert [f.evidence["observable"] for f in intel.findings(batch)] == ["198.51.100.9"]
    # The clean event is never matched again; the one with a hit always is.
    assert not intel.has_unknown(intel.observables(good))
    assert intel.has_unknown(intel.observables(bad))
    assert len(intel.findings([(bad, intel.observables(bad))])) == 1
    # A new value next to known-clean ones is matched.
    assert intel.has_unknown(intel.observables(_event(3, SourceIp="10.0.0.1", QueryName="a.b")))
    assert intel.has_unknown(intel.observables(_event(4, Hashes=f"SHA256={SHA}")))


def test_a_clean_hashes_value_is_remembered_whole_and_a_listed_one_never() -> None:
    intel = EventIntelMatcher(_matcher())
    clean = _event(1, Hashes=f"MD5={MD5},SHA256={'e' * 64}")
    listed = _event(2, Hashes=f"MD5={MD5},SHA256={SHA}")
    assert intel.findings([(clean, intel.unknown(clean))]) == []
    assert len(intel.findings([(listed, intel.unknown(listed))])) == 1
    assert intel.unknown(clean) == []  # its digests are known clean: now remembered whole
    assert hash(clean.fields["Hashes"]) in intel._clean_hashes
    for _ in range(3):
        assert intel.unknown(listed) == [("sha256", SHA)]
    assert hash(listed.fields["Hashes"]) not in intel._clean_hashes


def test_without_a_matcher_nothing_is_unknown() -> None:
    intel = EventIntelMatcher(None)
    e = _event(1, DestinationIp="198.51.100.9")
    assert not intel.has_unknown(intel.observables(e)) and intel.unknown(e) == []


def test_unknown_observables_give_the_findings_of_all_observables() -> None:
    """The hunt matches only ``unknown(event)``: the findings must be those of matching
    every observable every time."""
    events = [
        _event(1, DestinationIp="198.51.100.9", SourceIp="10.0.0.1", QueryName="a.example"),
        _event(2, DestinationIp="10.0.0.1", SourceIp="10.0.0.1"),
        _event(3, Hashes=f"MD5={MD5},SHA256={SHA.upper()}", DestinationIp="10.0.0.3"),
        Event(Origin("x", 4), source_ip="198.51.100.9", fields={"SourceIp": "10.0.0.1"}),
        Event(Origin("x", 5), destination_ip="10.0.0.1", fields={"SourceIp": "10.0.0.1"}),
        _event(6, Hashes=f"MD5={MD5},SHA256={SHA.upper()}", QueryName="a.example"),
    ] * 3
    every = EventIntelMatcher(_matcher())
    expected = [every.findings([(e, every.observables(e))]) for e in events]
    assert sum(map(len, expected)) == 12  # hits in 1, 3, 4 and 6, in each of three rounds
    intel = EventIntelMatcher(_matcher())
    first = intel.unknown(events[0])
    assert first == intel.observables(events[0])  # nothing is known before it is seen
    got = [intel.findings([(e, u)]) if (u := intel.unknown(e)) else [] for e in events]
    assert got == expected
    # After one round only the values with a hit are left to match.
    assert [intel.unknown(e) for e in events[6:12]] == [
        [("ip", "198.51.100.9")], [], [("sha256", SHA.upper())], [("ip", "198.51.100.9")],
        [], [("sha256", SHA.upper())],
    ]  # fmt: skip


def test_the_clean_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inline, "CLEAN_LIMIT", 10)
    intel = EventIntelMatcher(_matcher())
    for n in range(100):
        e = _event(n, DestinationIp=f"10.1.{n}.1", SourceIp=f"10.2.{n}.1")
        assert intel.findings([(e, intel.observables(e))]) == []
        assert intel._clean_size <= 10
    e = _event(200, DestinationIp="198.51.100.9")
    assert len(intel.findings([(e, intel.observables(e))])) == 1


SYSMON = observe.SYSMON
FORGED = {"DestinationIp": "198.51.100.9", "QueryName": "evil.example", "Hashes": f"MD5={MD5}"}


@pytest.mark.parametrize(
    ("channel", "event_id", "fields", "expected"),
    [
        # A listed Sysmon id is read by its schema's fields alone.
        (SYSMON, 1, {**FORGED, "Image": "x.exe"}, [("md5", MD5)]),
        (SYSMON, 3, FORGED, [("ip", "198.51.100.9")]),
        (SYSMON, 22, FORGED, [("domain", "evil.example")]),
        (SYSMON, 11, FORGED, []),  # FileCreate defines none of them
        (SYSMON, 15, {"Hash": f"SHA256={SHA}"}, [("sha256", SHA)]),  # the stream's digests
        (SYSMON, 3, {"SourceIp": "-"}, []),  # absent or empty fields: nothing
        # An id the schema table does not list, or another channel, is probed in full.
        (SYSMON, 99, FORGED, [("ip", "198.51.100.9"), ("domain", "evil.example"), ("md5", MD5)]),
        (None, None, {"dns.question.name": "evil.example"}, [("domain", "evil.example")]),
        ("Application", 1000, {"src_ip": "198.51.100.9"}, [("ip", "198.51.100.9")]),
        # Security's addresses are the event's source/destination, matched on their own.
        ("Security", 4624, {"IpAddress": "198.51.100.9", **FORGED}, []),
    ],
)  # fmt: skip
def test_schema_fields_of_known_channels(
    channel: str | None, event_id: int | None, fields: dict[str, str], expected: list[object]
) -> None:
    assert ObservableExtractor()(fields, channel, event_id) == expected


def test_schema_plans_read_what_a_full_probe_reads_on_real_logs() -> None:
    """On the bundled Sysmon and Security logs (OTRF), reading by schema finds exactly the
    observables that probing every name of the table finds."""
    from floodwall.ingest.intake import IntakeLog
    from floodwall.ingest.paths import expand_inputs
    from floodwall.normalize.dispatch import normalize
    from floodwall.settings import bundled_data

    extract = ObservableExtractor()
    by_schema = 0
    for path, source in expand_inputs([str(bundled_data() / "samples" / "logs")]):
        for raw in source.read(path, IntakeLog()):
            event = normalize(raw)
            full = extract(event.fields)
            assert extract(event.fields, event.channel, event.event_id) == full
            by_schema += event.channel in (SYSMON, "Security")
    assert by_schema > 1000
