"""The hunt's quick path (NDJSON or EVTX without intel: a Windows record becomes an
event only when a rule matches it) gives the same results as the full path, record for
record: findings, correlation feed, event counts and damage, on the bundled real logs
with the default rules, mixed with records of other shapes and broken lines, and on
SigmaHQ's regression EVTX files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from floodwall.detect.sigma.engine import SigmaEngine
from floodwall.detect.sigma.loader import load_rules
from floodwall.detect.sigma.logsource import LogSourceMap
from floodwall.detect.sigma.prefilter import HyperscanCache
from floodwall.enrich.intel.indicator import Indicator
from floodwall.enrich.intel.inline import EventIntelMatcher
from floodwall.enrich.intel.matcher import IntelMatcher
from floodwall.enrich.intel.observe import parse_digests
from floodwall.enrich.intel.tables import IndicatorTables
from floodwall.hunt.run import HuntPlan, Unit, UnitResult
from floodwall.ingest.evtx_source import EvtxSource
from floodwall.ingest.intake import IntakeLog
from floodwall.ingest.json_source import NdjsonSource, split_ndjson
from floodwall.normalize.generic_json import MAX_DEPTH
from floodwall.normalize.windows_xml import WindowsXmlNormalizer
from floodwall.settings import bundled_data, default_rule_dirs

SYSMON = "Microsoft-Windows-Sysmon/Operational"
ODD_LINES = [
    b'{"EventID": "1", "Channel": "' + SYSMON.encode() + b'", "Image": "C:\\\\w\\\\whoami.exe",'
    b' "User": "NT AUTHORITY\\\\SYSTEM", "CommandLine": "whoami /priv"}',  # EventID as text
    b'{"Event": {"System": {"EventID": 1, "Channel": "' + SYSMON.encode() + b'"},'
    b' "EventData": {"Image": "C:\\\\w\\\\whoami.exe", "CommandLine": "whoami /all"}}}',
    b'{"EventID": 1, "Channel": "' + SYSMON.encode() + b'", "CommandLine": ["a", "b"]}',
    b'{"EventID": {"x": 1}, "Channel": 5}',  # a flat shape with odd types
    b'{"broken": ',  # damage: reported, not hunted
    b"[1, 2]",  # not an object
    b'{"message": "sekurlsa::logonpasswords", "host": "h"}',  # generic JSON
    # times at the calendar's edges and numbers past float's range: read as no time
    b'{"EventID": 1, "Channel": "' + SYSMON.encode() + b'", "TimeCreated": '
    b'"0001-01-01T00:00:00+05:00", "Image": "C:\\w\\whoami.exe"}',
    b'{"EventID": 1, "Channel": "' + SYSMON.encode() + b'", "@timestamp": 1' + b"0" * 400 + b"}",
]


@pytest.fixture(scope="module")
def plan(rule_cache: Path, hyperscan_dir: Path) -> HuntPlan:
    ruleset = load_rules(default_rule_dirs(), cache_dir=rule_cache)
    engine = SigmaEngine(ruleset.rules, LogSourceMap.load(), HyperscanCache(hyperscan_dir))
    return HuntPlan(engine, correlation_specs=ruleset.correlations)


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("quick") / "logs.ndjson"
    with path.open("wb") as out:
        for n, sample in enumerate(sorted((bundled_data() / "samples" / "logs").glob("*.json.gz"))):
            out.write(gzip.decompress(sample.read_bytes()).rstrip(b"\n") + b"\n")
            out.write(ODD_LINES[n % len(ODD_LINES)] + b"\n")
    return path


def _summary(results: list[UnitResult]) -> tuple[object, ...]:
    intake = IntakeLog()
    for r in results:
        intake.merge(r.intake)
    return (
        [f for r in results for f in r.findings],
        [(rule, e.origin) for r in results for rule, e in r.correlated],
        sum(r.events for r in results),
        sorted(map(repr, intake.problems)),
    )


@pytest.mark.parametrize("parts", [1, 4])
def test_quick_path_equals_full_path(plan: HuntPlan, logs: Path, parts: int) -> None:
    if parts == 1:
        units = [Unit(str(logs), NdjsonSource(), logs.stat().st_size)]
    else:
        units = [Unit(str(logs), NdjsonSource(), e - s, (s, e, n))
                 for s, e, n in split_ndjson(str(logs), parts)]  # fmt: skip
    quick = [r for u in units for r in plan.iter_unit(u, batch=700)]
    full = [r for u in units for r in plan.iter_unit(u, batch=700, quick=False)]
    q, f = _summary(quick), _summary(full)
    assert q[2] == f[2] > 10_000  # events
    assert q[0] == f[0] and len(q[0]) > 300  # findings, whole
    assert q[1] == f[1]
    assert q[3] == f[3] and q[3]  # the broken lines are reported the same


def test_quick_path_equals_full_path_on_evtx(plan: HuntPlan, shared_data: Path) -> None:
    """Every EVTX file of SigmaHQ's regression data (real Windows logs, one to a few
    hundred records each): the same findings and counts on both paths."""
    files = sorted((shared_data / "sigmahq" / "regression_data").rglob("*.evtx"))
    assert len(files) > 100
    quick: list[UnitResult] = []
    full: list[UnitResult] = []
    for path in files:
        unit = Unit(str(path), EvtxSource(), path.stat().st_size)
        quick += plan.iter_unit(unit)
        full += plan.iter_unit(unit, quick=False)
    q, f = _summary(quick), _summary(full)
    assert q == f
    assert len(q[0]) > 100


def test_xml_values_written_anew_are_not_searched_as_the_record_text() -> None:
    """UserData nested past the flattening depth is kept as JSON written anew, which
    the record's own text does not hold: such a record is searched by its values."""
    deep: dict[str, object] = {"Leaf": "x"}
    for n in range(MAX_DEPTH + 2):
        deep = {f"Level{n}": deep}
    record = {"Event": {"System": {"EventID": 1, "Channel": SYSMON}, "UserData": deep}}
    *_, verbatim = WindowsXmlNormalizer().fields_of(record)
    assert verbatim is False
    flat = {"Event": {"System": {"EventID": 1, "Channel": SYSMON}, "UserData": {"A": {"B": 1}}}}
    assert WindowsXmlNormalizer().fields_of(flat)[3] is True


@pytest.fixture(scope="module")
def intel_plan(plan: HuntPlan, logs: Path) -> HuntPlan:
    """The default rules with intel that lists some addresses and file hashes of the
    logs (every 50th of those seen), so that some records are matched by intel only."""
    addresses: set[str] = set()
    digests: set[str] = set()
    for _, _, obj in NdjsonSource().read_decoded(str(logs), IntakeLog()):
        for key in ("DestinationIp", "SourceIp", "IpAddress"):
            if isinstance(obj.get(key), str) and obj[key].count(".") == 3:
                addresses.add(obj[key])
        for digest in parse_digests(obj.get("Hashes") or ""):
            digests.add(digest[1])
    listed = [Indicator("ip", a, "feed", 90) for a in sorted(addresses)[::50]]
    listed += [Indicator("sha256", d, "feed", 90) for d in sorted(digests)[::50] if len(d) == 64]
    assert len(listed) > 3
    matcher = EventIntelMatcher(IntelMatcher(IndicatorTables.from_indicators(listed)))
    return HuntPlan(plan.engine, plan.correlation_specs, intel=matcher)


def test_quick_path_equals_full_path_with_intel(intel_plan: HuntPlan, logs: Path) -> None:
    unit = Unit(str(logs), NdjsonSource(), logs.stat().st_size)
    quick = list(intel_plan.iter_unit(unit, batch=700))
    # A fresh matcher for the full path: what one knows to be clean must not help the other.
    assert intel_plan.intel is not None
    fresh = EventIntelMatcher(intel_plan.intel.matcher)
    full_plan = HuntPlan(intel_plan.engine, intel_plan.correlation_specs, intel=fresh)
    full = list(full_plan.iter_unit(unit, batch=700, quick=False))
    q, f = _summary(quick), _summary(full)
    assert q == f
    assert any(x.id.startswith("intel.") for x in q[0])  # type: ignore[attr-defined]
