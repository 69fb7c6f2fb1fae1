"""Golden tests for Sigma correlation rules (event_count, value_count, temporal, ordered)."""

from __future__ import annotations

import gc
import itertools
import pickle
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule

from floodwall.detect.sigma.correlation import (
    CorrelationCompileError,
    CorrelationEngine,
    CorrelationMatch,
    CorrelationSpec,
    finding_from_match,
)
from floodwall.detect.sigma.correlation_compile import compile_correlation
from floodwall.records import Event, Observable, Origin, Severity

SAMPLE = Path(__file__).parents[1] / "samples" / "detect" / "sigma_correlation" / "brute_force.yml"
FAILED = "00000000-0000-4000-8000-000000000001"
SUCCESS = "00000000-0000-4000-8000-000000000002"
RECON_A = "00000000-0000-4000-8000-000000000003"
RECON_B = "00000000-0000-4000-8000-000000000004"
RECON_C = "00000000-0000-4000-8000-000000000005"
HTTP500 = "00000000-0000-4000-8000-000000000006"
CONN = "00000000-0000-4000-8000-000000000007"
CORR_ID = "00000000-0000-4000-8000-0000000000c0"
BASE_RULES = [
    (FAILED, "failed_logon", {"EventID": 4625}),
    (SUCCESS, "successful_logon", {"EventID": 4624}),
    (RECON_A, "recon_a", {"Image|endswith": "\\whoami.exe"}),
    (RECON_B, "recon_b", {"Image|endswith": "\\net.exe"}),
    (RECON_C, "recon_c", {"Image|endswith": "\\nltest.exe"}),
    (HTTP500, "internal_error", {"http.response.status_code": 500}),
    (CONN, "new_connection", {"event.category": "network"}),
]
BASE_YAML = "---\n".join(
    yaml.safe_dump(
        {
            "title": f"Base {name}",
            "id": rule_id,
            "name": name,
            "logsource": {"product": "windows"},
            "detection": {"selection": selection, "condition": "selection"},
        }
    )
    for rule_id, name, selection in BASE_RULES
)
T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
_records = itertools.count(1)

Feed = list[tuple[str, Event]]


def correlation(kind: str, rules: list[str], meta: Any = None, **section: Any) -> str:
    """A base-rule collection plus one correlation rule, as multi-document YAML."""
    body = {"type": kind, "rules": rules, "timespan": section.pop("timespan", "5m"), **section}
    rule = {"title": f"Test {kind}", "id": CORR_ID, "level": "high", "correlation": body}
    rule.update(meta or {})
    return BASE_YAML + "---\n" + yaml.safe_dump(rule)


def compile_yaml(text: str) -> list[CorrelationSpec]:
    """Every correlation rule of a YAML text, compiled."""
    collection = SigmaCollection.from_yaml(text)
    return [compile_correlation(r) for r in collection.rules if isinstance(r, SigmaCorrelationRule)]


def ev(second: float, **fields: Any) -> Event:
    """An event ``second`` seconds after T0 with the given original fields."""
    stamp = (T0 + timedelta(seconds=second)).isoformat().replace("+00:00", "Z")
    return Event(origin=Origin("case.evtx", next(_records)), timestamp=stamp, fields=fields)


def at(rule_id: str, seconds: list[float], **fields: Any) -> Feed:
    """One match of ``rule_id`` at each of ``seconds``."""
    return [(rule_id, ev(s, **fields)) for s in seconds]


def run(text: str, feed: Feed) -> tuple[list[CorrelationMatch], CorrelationEngine]:
    """Compile, feed everything, finish."""
    engine = CorrelationEngine(compile_yaml(text))
    for rule_id, event in feed:
        engine.feed(rule_id, event)
    return engine.finish(), engine


def summary(matches: list[CorrelationMatch]) -> list[tuple[Any, int, int]]:
    """(group, measure, contributing events) per match."""
    return [(m.group, m.count, m.events) for m in matches]


ADMIN = (("TargetUserName", "admin"),)
EC = {"group-by": ["TargetUserName"], "condition": {"gte": 5}}
VC = {"group-by": ["IpAddress"], "timespan": "10m", "condition": {"gte": 3, "field": "User"}}
TEMP = {"group-by": ["Computer"]}
ORD = {"group-by": ["TargetUserName"], "timespan": "10m"}
RECON = ["recon_a", "recon_b", "recon_c"]
LOGON = ["failed_logon", "successful_logon"]
ALIAS = {
    "group-by": ["internal_ip"],
    "timespan": "10s",
    "aliases": {"internal_ip": {"internal_error": "destination.ip", "new_connection": "source.ip"}},
}
IP1 = {"IpAddress": "10.0.0.5"}

CASES: list[tuple[str, str, Feed, list[tuple[Any, int, int]]]] = [
    # event_count (spec "Event Count"): matches per group within the timespan
    ("ec-fires", correlation("event_count", ["failed_logon"], **EC),
     at(FAILED, [0, 60, 120, 180, 240], TargetUserName="admin"), [(ADMIN, 5, 5)]),
    ("ec-exact-span-fires", correlation("event_count", ["failed_logon"], **EC),
     at(FAILED, [0, 75, 150, 225, 300], TargetUserName="admin"), [(ADMIN, 5, 5)]),
    ("ec-span-one-second-too-long", correlation("event_count", ["failed_logon"], **EC),
     at(FAILED, [0, 75, 150, 225, 301], TargetUserName="admin"), []),
    ("ec-count-one-short", correlation("event_count", ["failed_logon"], **EC),
     at(FAILED, [0, 60, 120, 180], TargetUserName="admin"), []),
    ("ec-different-groups", correlation("event_count", ["failed_logon"], **EC),
     at(FAILED, [0, 1, 2], TargetUserName="admin") + at(FAILED, [3, 4], TargetUserName="bob"), []),
    ("ec-two-groups-fire", correlation("event_count", ["failed_logon"], **EC),
     at(FAILED, [0, 1, 2, 3, 4], TargetUserName="admin")
     + at(FAILED, [5, 6, 7, 8, 9], TargetUserName="bob"),
     [(ADMIN, 5, 5), ((("TargetUserName", "bob"),), 5, 5)]),
    ("ec-no-group-by", correlation("event_count", ["failed_logon"], condition={"gte": 5}),
     at(FAILED, [0, 1, 2], TargetUserName="admin") + at(FAILED, [3, 4], TargetUserName="bob"),
     [((), 5, 5)]),
    ("ec-no-group-by-one-short", correlation("event_count", ["failed_logon"], condition={"gte": 5}),
     at(FAILED, [0, 1, 2], TargetUserName="admin") + at(FAILED, [3], TargetUserName="bob"), []),
    ("ec-by-id-unsorted-feed", correlation("event_count", [FAILED], **EC),
     at(FAILED, [240, 0, 180, 60, 120], TargetUserName="admin"), [(ADMIN, 5, 5)]),
    ("ec-gt-fires", correlation("event_count", ["failed_logon"], condition={"gt": 4}),
     at(FAILED, [0, 1, 2, 3, 4]), [((), 5, 5)]),
    ("ec-gt-equal-is-not-greater",
     correlation("event_count", ["failed_logon"], condition={"gt": 5}),
     at(FAILED, [0, 1, 2, 3, 4]), []),
    ("ec-lt-only-quiet-group",
     correlation("event_count", ["failed_logon"], **{**EC, "condition": {"lt": 3}}),
     at(FAILED, [0, 1], TargetUserName="admin") + at(FAILED, [2, 3, 4], TargetUserName="bob"),
     [(ADMIN, 2, 2)]),
    ("ec-eq", correlation("event_count", ["failed_logon"], **{**EC, "condition": {"eq": 3}}),
     at(FAILED, [0, 1, 2], TargetUserName="admin") + at(FAILED, [3, 4], TargetUserName="bob"),
     [(ADMIN, 3, 3)]),
    # value_count (spec "Value Count"): distinct values of `field` per group
    ("vc-fires", correlation("value_count", ["failed_logon"], **VC),
     at(FAILED, [0], User="a", **IP1) + at(FAILED, [10], User="b", **IP1)
     + at(FAILED, [20], User="c", **IP1), [((("IpAddress", "10.0.0.5"),), 3, 3)]),
    ("vc-distinct-one-short", correlation("value_count", ["failed_logon"], **VC),
     at(FAILED, [0, 20, 40], User="a", **IP1) + at(FAILED, [10, 30], User="b", **IP1), []),
    ("vc-different-groups", correlation("value_count", ["failed_logon"], **VC),
     at(FAILED, [0], User="a", **IP1) + at(FAILED, [10], User="b", **IP1)
     + at(FAILED, [20], User="c", IpAddress="10.0.0.6"), []),
    ("vc-span-too-long", correlation("value_count", ["failed_logon"], **VC),
     at(FAILED, [0], User="a", **IP1) + at(FAILED, [300], User="b", **IP1)
     + at(FAILED, [601], User="c", **IP1), []),
    ("vc-no-group-by",
     correlation("value_count", ["failed_logon"], condition={"gte": 3, "field": "User"}),
     at(FAILED, [0], User="a", **IP1) + at(FAILED, [10], User="b", **IP1)
     + at(FAILED, [20], User="c", IpAddress="10.0.0.6") + at(FAILED, [30], User="a"),
     [((), 3, 4)]),
    # temporal (spec "Temporal Proximity"): all rules, any order
    ("t-fires-any-order", correlation("temporal", RECON, **TEMP),
     at(RECON_C, [0], Computer="ws1") + at(RECON_A, [100], Computer="ws1")
     + at(RECON_B, [200], Computer="ws1"), [((("Computer", "ws1"),), 3, 3)]),
    ("t-one-rule-missing", correlation("temporal", RECON, **TEMP),
     at(RECON_A, [0, 50], Computer="ws1") + at(RECON_B, [100], Computer="ws1"), []),
    ("t-span-too-long", correlation("temporal", RECON, **TEMP),
     at(RECON_A, [0], Computer="ws1") + at(RECON_B, [100], Computer="ws1")
     + at(RECON_C, [301], Computer="ws1"), []),
    ("t-different-groups", correlation("temporal", RECON, **TEMP),
     at(RECON_A, [0], Computer="ws1") + at(RECON_B, [1], Computer="ws1")
     + at(RECON_C, [2], Computer="ws2"), []),
    ("t-no-group-by", correlation("temporal", RECON),
     at(RECON_A, [0], Computer="ws1") + at(RECON_B, [1], Computer="ws1")
     + at(RECON_C, [2], Computer="ws2"), [((), 3, 3)]),
    ("t-condition-two-of-three", correlation("temporal", RECON, condition={"gte": 2}),
     at(RECON_B, [0]) + at(RECON_C, [1]), [((), 2, 2)]),
    # temporal_ordered (spec "Ordered Temporal Proximity"): in the listed order
    ("to-fires", correlation("temporal_ordered", LOGON, **ORD),
     at(FAILED, [0], TargetUserName="admin") + at(SUCCESS, [60], TargetUserName="admin"),
     [(ADMIN, 2, 2)]),
    ("to-wrong-order", correlation("temporal_ordered", LOGON, **ORD),
     at(SUCCESS, [0], TargetUserName="admin") + at(FAILED, [60], TargetUserName="admin"), []),
    ("to-span-too-long", correlation("temporal_ordered", LOGON, **ORD),
     at(FAILED, [0], TargetUserName="admin") + at(SUCCESS, [601], TargetUserName="admin"), []),
    ("to-different-groups", correlation("temporal_ordered", LOGON, **ORD),
     at(FAILED, [0], TargetUserName="admin") + at(SUCCESS, [60], TargetUserName="bob"), []),
    ("to-no-group-by", correlation("temporal_ordered", LOGON),
     at(FAILED, [0], TargetUserName="admin") + at(SUCCESS, [60], TargetUserName="bob"),
     [((), 2, 2)]),
    ("to-three-steps-interleaved", correlation("temporal_ordered", RECON),
     at(RECON_A, [0]) + at(RECON_C, [1]) + at(RECON_B, [2]) + at(RECON_C, [3]), [((), 3, 4)]),
    ("to-three-steps-last-out-of-order", correlation("temporal_ordered", RECON),
     at(RECON_A, [0]) + at(RECON_C, [1]) + at(RECON_B, [2]), []),
    # aliases (spec "Field Name Aliases"): one group key from different fields per rule
    ("alias-same-address", correlation("temporal", ["internal_error", "new_connection"], **ALIAS),
     at(HTTP500, [0], **{"destination.ip": "10.1.1.1"})
     + at(CONN, [5], **{"source.ip": "10.1.1.1", "destination.ip": "10.9.9.9"}),
     [((("internal_ip", "10.1.1.1"),), 2, 2)]),
    ("alias-other-address", correlation("temporal", ["internal_error", "new_connection"], **ALIAS),
     at(HTTP500, [0], **{"destination.ip": "10.1.1.1"})
     + at(CONN, [5], **{"source.ip": "10.1.1.2", "destination.ip": "10.1.1.1"}), []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "feed", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_golden(text: str, feed: Feed, expected: list[tuple[Any, int, int]]) -> None:
    matches, _ = run(text, feed)
    assert summary(matches) == expected
    for m in matches:
        assert m.spec_id == CORR_ID and m.level == "high"
        assert m.first <= m.last and len(m.origins) == m.events


def test_value_count_reports_distinct_values_and_window() -> None:
    feed = at(FAILED, [0], User="c", **IP1) + at(FAILED, [10, 20], User="a", **IP1)
    feed += at(FAILED, [30.5], User="b", **IP1)
    [m], _ = run(correlation("value_count", ["failed_logon"], **VC), feed)
    assert (m.values, m.events, m.rules) == (("a", "b", "c"), 4, (FAILED,))
    assert (m.first, m.last) == ("2024-05-01T10:00:00Z", "2024-05-01T10:00:30.500000Z")


def test_dedup_one_match_per_satisfied_window() -> None:
    """A fired window consumes its matches; the next window starts after its last one."""
    text = correlation("event_count", ["failed_logon"], **EC)
    burst, _ = run(text, at(FAILED, list(range(12)), TargetUserName="admin"))
    assert summary(burst) == [(ADMIN, 12, 12)]
    feed = at(FAILED, [0, 10, 20, 30, 40, 400, 410, 420, 430, 440], TargetUserName="admin")
    twice, _ = run(text, feed)
    assert summary(twice) == [(ADMIN, 5, 5), (ADMIN, 5, 5)]
    assert twice[1].first == "2024-05-01T10:06:40Z"
    # a steady stream, one failure every 10 s for an hour, 5 minute windows of 31 matches
    stream, _ = run(text, at(FAILED, list(range(0, 3600, 10)), TargetUserName="admin"))
    assert [m.events for m in stream] == [31] * 11 + [19]
    spans = [datetime.fromisoformat(m.last) - datetime.fromisoformat(m.first) for m in stream]
    assert max(spans) == timedelta(minutes=5)


def test_unusable_and_unreferenced_matches_are_counted() -> None:
    engine = CorrelationEngine(compile_yaml(correlation("event_count", ["failed_logon"], **EC)))
    assert engine.referenced_rule_ids() == frozenset({FAILED})
    engine.feed(
        FAILED, Event(origin=Origin("x", 1), timestamp=None, fields={"TargetUserName": "a"})
    )
    engine.feed(FAILED, Event(origin=Origin("x", 2), timestamp="yesterday", fields={}))
    engine.feed(FAILED, ev(0))  # no TargetUserName: no group
    engine.feed(SUCCESS, ev(0, TargetUserName="a"))
    assert engine.finish() == []
    stats = engine.stats()
    assert (stats.fed, stats.untimed, stats.ungrouped, stats.unreferenced) == (3, 2, 1, 1)


def test_finish_forgets_the_batch() -> None:
    engine = CorrelationEngine(compile_yaml(correlation("event_count", ["failed_logon"], **EC)))
    for rule_id, event in at(FAILED, [0, 1, 2, 3, 4], TargetUserName="admin"):
        engine.feed(rule_id, event)
    assert len(engine.finish()) == 1
    assert engine.finish() == []


def test_origins_are_capped_counts_exact() -> None:
    matches, _ = run(correlation("event_count", ["failed_logon"], condition={"gte": 5}),
                     at(FAILED, [i / 10 for i in range(150)]))  # fmt: skip
    assert [(m.events, len(m.origins)) for m in matches] == [(150, 100)]


def test_spec_is_plain_and_picklable() -> None:
    [spec] = compile_yaml(correlation("temporal", ["internal_error", "new_connection"], **ALIAS))
    assert pickle.loads(pickle.dumps(spec)) == spec
    assert spec.rule_refs == (HTTP500, CONN)
    assert spec.aliases == (("internal_ip", ((HTTP500, "destination.ip"), (CONN, "source.ip"))),)
    assert (spec.type, spec.op, spec.count, spec.timespan_seconds) == ("temporal", "gte", 2, 10)
    hash(spec)


NOT_SUPPORTED = [
    ("metric-type", correlation("value_sum", ["failed_logon"], condition={"gte": 5, "field": "X"})),
    ("extended-condition",
     correlation("temporal", RECON, condition="recon_a and (recon_b or recon_c)")),
    ("fractional-count", correlation("event_count", ["failed_logon"], condition={"gte": 2.5})),
    ("alias-unreferenced", correlation("temporal", ["internal_error"], **ALIAS)),
    ("chained", correlation("event_count", ["failed_logon"], condition={"gte": 2},
                            meta={"name": "inner", "id": "00000000-0000-4000-8000-0000000000c1"})
     + "---\n" + yaml.safe_dump({"title": "outer", "id": CORR_ID, "correlation": {
         "type": "temporal", "rules": ["inner", "successful_logon"], "timespan": "1h"}})),
    ("no-id", correlation("event_count", ["failed_logon"], **EC).replace(f"id: {CORR_ID}\n", "")),
]  # fmt: skip


@pytest.mark.parametrize("text", [c[1] for c in NOT_SUPPORTED], ids=[c[0] for c in NOT_SUPPORTED])
def test_unsupported_rules_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(CorrelationCompileError, match=r"\S"):
        compile_yaml(text)


def test_sample_brute_force_and_finding() -> None:
    collection = SigmaCollection.load_ruleset([SAMPLE])
    [rule] = [r for r in collection.rules if isinstance(r, SigmaCorrelationRule)]
    spec = compile_correlation(rule)
    assert spec.group_by == ("TargetUserName",) and not spec.generate
    base = spec.rule_refs[0]
    engine = CorrelationEngine([spec])
    for i in range(10):
        engine.feed(base, ev(i * 20, EventID=4625, TargetUserName="Administrator"))
    for i in range(9):
        engine.feed(base, ev(i * 20, EventID=4625, TargetUserName="svc_backup"))
    [match] = engine.finish()
    finding = finding_from_match(match, spec)
    assert finding.id == f"sigma.{spec.id}" and finding.severity is Severity.HIGH
    assert finding.attack == ("T1110", "T1110.001")
    assert finding.rule is not None and finding.rule.link.endswith("brute_force.yml")
    evidence = finding.evidence
    assert evidence["group"] == {"TargetUserName": "Administrator"}
    assert (evidence["count"], evidence["events"], len(evidence["origins"])) == (10, 10, 10)
    assert (evidence["first"], evidence["last"]) == ("2024-05-01T10:00:00Z", "2024-05-01T10:03:00Z")
    assert evidence["condition"] == {"gte": 10}


def test_finding_observables_from_ip_groups() -> None:
    [spec] = compile_yaml(correlation("value_count", ["failed_logon"], **VC))
    feed = [(FAILED, ev(i, User=u, **IP1)) for i, u in enumerate("abc")]
    [match], _ = run(correlation("value_count", ["failed_logon"], **VC), feed)
    finding = finding_from_match(match, spec)
    assert finding.observables == (Observable("ip", "10.0.0.5"),)
    assert finding.severity is Severity.HIGH and finding.attack == ()


def _flood(count: int) -> Iterator[Event]:
    for i in range(count):  # one failed logon per second, made lazily
        stamp = (T0 + timedelta(seconds=i)).isoformat()
        yield Event(origin=Origin("flood.evtx", i), timestamp=stamp, fields={"TargetUserName": "x"})


def _feed_seconds(n: int) -> float:
    engine = CorrelationEngine(compile_yaml(correlation("event_count", ["failed_logon"], **EC)))
    events = list(_flood(n))
    gc.collect()
    gc.disable()  # the collector's passes grow with the live heap; time the engine only
    try:
        started = time.perf_counter()
        for event in events:
            engine.feed(FAILED, event)
        engine.finish()
        return time.perf_counter() - started
    finally:
        gc.enable()


def test_hostile_flood_is_bounded() -> None:
    """200,000 matches of one rule for one account: memory is the compact backlog only."""
    engine = CorrelationEngine(compile_yaml(correlation("event_count", ["failed_logon"], **EC)))
    events = list(_flood(200_000))  # made before tracing: only the engine is measured
    tracemalloc.start()
    for event in events:
        engine.feed(FAILED, event)
    matches = engine.finish()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert sum(m.events for m in matches) == 200_000 and len(matches) == 665
    assert engine.stats().max_window == 301  # only one timespan of matches held
    print(f"peak {peak / 200_000:.0f} bytes per match")
    assert peak < 250 * 200_000  # bytes per fed match (about 155), sorting included


def test_hostile_flood_costs_linear_time() -> None:
    """Ten times the flood costs about ten times the time, not a hundred (quadratic).

    A ratio, measured back to back, rather than a wall-clock limit: the machines that
    run the tests are shared, and only the growth tells quadratic work apart."""
    small = min(_feed_seconds(20_000) for _ in range(3))
    large = min(_feed_seconds(200_000) for _ in range(2))
    print(f"flood: {small:.3f} s -> {large:.3f} s")
    assert large / small < 45, (small, large)


def _ordered_finish_seconds(n: int) -> float:
    engine = CorrelationEngine(compile_yaml(correlation("temporal_ordered", LOGON, timespan="1d")))
    for event in _flood(n):
        engine.feed(FAILED, event)
    gc.collect()
    gc.disable()  # the collector's passes grow with the live heap; time the engine only
    try:
        started = time.perf_counter()
        assert engine.finish() == []
        return time.perf_counter() - started
    finally:
        gc.enable()


def test_hostile_ordered_window_is_not_quadratic() -> None:
    """50,000 first-step matches inside one window, second step never comes: ten times
    the matches cost about ten times the time (a ratio, not a wall-clock limit)."""
    small = min(_ordered_finish_seconds(5_000) for _ in range(3))
    large = min(_ordered_finish_seconds(50_000) for _ in range(2))
    print(f"ordered: {small:.4f} s -> {large:.4f} s")
    assert large / max(small, 1e-4) < 45, (small, large)
