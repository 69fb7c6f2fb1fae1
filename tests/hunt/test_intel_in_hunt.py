"""Intel in the hunt loop: every intel finding comes right after its event's Sigma
findings, whatever the batching and whatever the matcher already knew to be clean (a
second pass over the same events, with warm memories, gives the same output)."""

from __future__ import annotations

import json
from pathlib import Path

from floodwall.detect.sigma.engine import SigmaEngine
from floodwall.detect.sigma.loader import RuleDir, load_rules
from floodwall.detect.sigma.logsource import LogSourceMap
from floodwall.enrich.intel.indicator import Indicator
from floodwall.enrich.intel.inline import EventIntelMatcher
from floodwall.enrich.intel.matcher import IntelMatcher
from floodwall.enrich.intel.tables import IndicatorTables
from floodwall.hunt import run as hunt_run
from floodwall.hunt.run import HuntPlan, Unit, plan_units
from floodwall.ingest.json_source import NdjsonSource, split_ndjson

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "detect" / "sigma"
SYSMON = "Microsoft-Windows-Sysmon/Operational"
WHOAMI = "C:\\Windows\\System32\\whoami.exe"
SHA = "d" * 64


def _events(n: int) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for i in range(n):
        event: dict[str, object] = {"EventID": 1, "Channel": SYSMON, "Image": "C:\\x.exe"}
        if i % 3 == 0:  # the sample rule fires on whoami run as SYSTEM
            event |= {"Image": WHOAMI, "User": "NT AUTHORITY\\SYSTEM"}
        if i % 2 == 0:  # every other event carries an address; one in five is listed
            event["DestinationIp"] = f"198.51.100.{i % 5}" if i % 5 == 0 else f"10.0.{i % 7}.1"
        if i % 4 == 1:  # one in two is listed
            event["Hashes"] = f"MD5={i % 3:032x},SHA256={SHA if i % 8 == 1 else 'e' * 64}"
        out.append(event)
    return out


def _plan() -> HuntPlan:
    ruleset = load_rules([RuleDir(SAMPLE)], cache_dir=None, workers=1)
    engine = SigmaEngine(ruleset.rules, LogSourceMap.load())
    tables = IndicatorTables.from_indicators(
        [Indicator("ip", "198.51.100.0", "feed", 90), Indicator("sha256", SHA, "feed", 90)]
    )
    return HuntPlan(engine, intel=EventIntelMatcher(IntelMatcher(tables)))


def _hunt(plan: HuntPlan, units: list[Unit], batch: int) -> list[tuple[int, str]]:
    return [
        (f.event.origin.record_id if f.event else -1, f.id)
        for unit in units
        for result in plan.iter_unit(unit, batch=batch)
        for f in result.findings
    ]


def test_intel_findings_follow_their_event_whatever_the_batching(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    path.write_text("".join(json.dumps(e) + "\n" for e in _events(1200)))
    plan = _plan()
    units = plan_units([(str(path), NdjsonSource())], 1)
    first = _hunt(plan, units, batch=5000)
    kinds = {fid for _, fid in first}
    assert kinds == {"intel.ip", "intel.hash", next(k for k in kinds if k.startswith("sigma."))}
    assert sum(fid == "intel.ip" for _, fid in first) == 120  # i % 10 == 0
    assert sum(fid == "intel.hash" for _, fid in first) == 150  # i % 8 == 1
    # In event order: each event's Sigma finding, then its intel finding.
    assert first == sorted(first, key=lambda f: (f[0], f[1].startswith("intel.")))
    # Warm memories (only the listed values are matched again), other batch sizes, and
    # the file cut into ranges as for several workers: the same findings in the same order.
    assert _hunt(plan, units, batch=5000) == first
    assert _hunt(plan, units, batch=37) == first
    parts = split_ndjson(str(path), 3, min_bytes=0)
    ranges = [
        Unit(str(path), NdjsonSource(), end - start, (start, end, line))
        for start, end, line in parts
    ]
    assert len(ranges) == 3 and _hunt(_plan(), ranges, batch=5000) == first
    assert hunt_run.INTEL_BATCH < 600  # the batches above were really cut
