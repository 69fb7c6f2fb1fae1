"""The engine's memory of hits and verdicts (``memo.py``, ``SigmaEngine._field_hits``,
``SigmaEngine._decide``) and its JSON-line keyword search give the same matches as
scanning and evaluating every event afresh: on the bundled real logs with the default
rules, on values that are equal in Python but not as text, on hostile JSON spellings,
and with a bounded memory however many new values come."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from floodwall.detect.sigma.engine import SigmaEngine
from floodwall.detect.sigma.loader import RuleDir, load_rules
from floodwall.detect.sigma.logsource import LogSourceMap
from floodwall.detect.sigma.memo import MemoBudget
from floodwall.detect.sigma.prefilter import HyperscanCache
from floodwall.ingest.intake import IntakeLog
from floodwall.ingest.json_source import NdjsonSource
from floodwall.normalize.windows_flat import WindowsFlatNormalizer
from floodwall.settings import bundled_data, default_rule_dirs

SYSMON = "Microsoft-Windows-Sysmon/Operational"
FLAT = WindowsFlatNormalizer()


@pytest.fixture(scope="module")
def default_engines(rule_cache: Path, hyperscan_dir: Path) -> tuple[SigmaEngine, SigmaEngine]:
    ruleset = load_rules(default_rule_dirs(), cache_dir=rule_cache)
    hs = HyperscanCache(hyperscan_dir)
    return (
        SigmaEngine(ruleset.rules, LogSourceMap.load(), hs),
        SigmaEngine(ruleset.rules, LogSourceMap.load(), hs, memo=False),
    )


def bundled_lines() -> list[tuple[bytes, dict[str, Any]]]:
    """Every flat Windows record of the bundled OTRF logs, with its own line."""
    out = []
    for path in sorted((bundled_data() / "samples" / "logs").glob("*.json.gz")):
        for _, line, obj in NdjsonSource().read_decoded(str(path), IntakeLog()):
            if line is not None and FLAT.is_handled(obj):
                out.append((line, obj))
    return out


def test_memo_and_json_search_agree_with_fresh_evaluation(
    default_engines: tuple[SigmaEngine, SigmaEngine],
) -> None:
    remembering, fresh = default_engines
    records = bundled_lines()
    assert len(records) > 5000
    matched = 0
    # Twice, the second time backwards: the second pass answers from what the first kept.
    for line, obj in records + records[::-1]:
        channel, event_id, fields, _ = FLAT.fields_of(obj)
        want = fresh.match_fields(channel, event_id, fields)
        assert remembering.match_fields(channel, event_id, fields, line) == want, line[:300]
        assert remembering.match_fields(channel, event_id, fields) == want
        matched += bool(want)
    assert matched > 100  # the logs are attack recordings: many events match


TYPED_RULE = """
title: typed {n}
id: 7c1f2a4e-0000-4000-8000-00000000000{n}
logsource: {{product: windows, category: process_creation}}
detection:
  sel: {{Flag{sel}}}
  condition: sel
"""
SELECTIONS = ["|contains: 'true'", ": 1", "|contains: '1.0'", "|contains: 'none'", ": null",
              "|exists: false"]  # fmt: skip


@pytest.fixture(scope="module")
def typed_engines(tmp_path_factory: pytest.TempPathFactory) -> tuple[SigmaEngine, SigmaEngine]:
    rules = tmp_path_factory.mktemp("typed")
    for n, sel in enumerate(SELECTIONS):
        (rules / f"r{n}.yml").write_text(TYPED_RULE.format(n=n, sel=sel))
    ruleset = load_rules([RuleDir(rules)], cache_dir=None, workers=1)
    assert not ruleset.problems
    return (
        SigmaEngine(ruleset.rules, LogSourceMap.load()),
        SigmaEngine(ruleset.rules, LogSourceMap.load(), memo=False),
    )


# Equal as Python keys (1 == 1.0 == True), different as text and as Sigma values.
VALUES = [1, 1.0, True, "1", "True", "1.0", None, 0, False, "", [1, "true"], {"a": 1}]


@pytest.mark.parametrize("order", ["forward", "backward"])
def test_equal_keys_of_other_types_are_not_confused(
    typed_engines: tuple[SigmaEngine, SigmaEngine], order: str
) -> None:
    remembering, fresh = typed_engines
    events: list[dict[str, Any]] = [{"Flag": v} for v in VALUES] + [{}]
    for fields in events if order == "forward" else events[::-1]:
        fields = {"EventID": 1, "Channel": SYSMON, **fields}
        want = fresh.match_fields(SYSMON, 1, fields)
        assert remembering.match_fields(SYSMON, 1, fields) == want, fields


KEYWORD_RULE = """
title: keywords
id: 7c1f2a4e-0000-4000-8000-0000000000aa
logsource: {product: windows}
detection:
  keywords: ['sekurlsa::logonpasswords', 'kiwi.dll', 'c:\\temp\\m"z', 'é-caf']
  condition: keywords
"""


@pytest.fixture(scope="module")
def keyword_engine(tmp_path_factory: pytest.TempPathFactory) -> SigmaEngine:
    rules = tmp_path_factory.mktemp("kw")
    (rules / "kw.yml").write_text(KEYWORD_RULE)
    ruleset = load_rules([RuleDir(rules)], cache_dir=None, workers=1)
    assert not ruleset.problems
    return SigmaEngine(ruleset.rules, LogSourceMap.load())


# A record's line spells its values in ways JSON allows: each must be found as in the
# decoded values (or the engine must fall back to them), never missed.
LINES = [
    (rb'{"CommandLine":"mimikatz sekurlsa::logonpasswords"}', True),
    (rb'{"CommandLine":"mimikatz SEKURLSA::LogonPasswords"}', True),
    (rb'{"CommandLine":"\u0073ekurlsa::logonpasswords"}', True),  # \u escape
    (rb'{"CommandLine":"sekurlsa\u003a:logonpasswords"}', True),
    (rb'{"ImageLoaded":"kiwi.dll"}', True),
    ('{"ImageLoaded":"\u212aIWI.DLL"}'.encode(), True),  # KELVIN SIGN lowers to k
    (rb'{"ImageLoaded":"\u212aIWI.DLL"}', True),
    (rb'{"File":"C:\\Temp\\M\"Z"}', True),  # backslash and quote escaped
    (rb'{"File":"C:\\Temp\\M\u0022Z"}', True),
    (rb'{"File":"C:\\Temp\\M\"Z\/x"}', True),  # \/ escape
    ('{"Note":"É-CAF"}'.encode(), True),  # outside ASCII: the values are searched
    (rb'{"Note":"\u00c9-CAF"}', True),
    (rb'{"Note":"\\u00c9-caf"}', False),  # an escaped backslash, then text
    (rb'{"CommandLine":"sekurlsa logonpasswords"}', False),
    (rb'{"ImageLoaded":"kiwi dll"}', False),
]


@pytest.mark.parametrize(("line", "expected"), LINES)
def test_keyword_search_in_the_json_line(
    keyword_engine: SigmaEngine, line: bytes, expected: bool
) -> None:
    fields = {"EventID": 1, "Channel": SYSMON, **json.loads(line)}
    assert bool(keyword_engine.match_fields(SYSMON, 1, fields, line)) is expected
    assert bool(keyword_engine.match_fields(SYSMON, 1, fields)) is expected


def test_field_hits_stay_bounded(typed_engines: tuple[SigmaEngine, SigmaEngine],
                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    remembering, fresh = typed_engines
    monkeypatch.setattr(remembering._hits, "max_entries", 100)
    for n in range(1000):
        fields = {"EventID": 1, "Channel": SYSMON, "Flag": f"value {n} true"}
        assert remembering.match_fields(SYSMON, 1, fields) == fresh.match_fields(SYSMON, 1, fields)
        assert remembering._hits.entries <= 100
    huge = {"EventID": 1, "Channel": SYSMON, "Flag": "x" * 200_000 + "true"}
    assert remembering.match_fields(SYSMON, 1, huge) == fresh.match_fields(SYSMON, 1, huge)
    assert remembering._hits.chars < 200_000  # a value that long is not kept


def test_verdicts_stay_bounded_across_candidate_sets(
    typed_engines: tuple[SigmaEngine, SigmaEngine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """All sets of candidates share one budget: long new values make no set grow past it."""
    remembering, fresh = typed_engines
    monkeypatch.setattr(remembering._verdict_memo, "max_chars", 10_000)
    for n in range(300):
        flag = f"{n:04d}" + "x" * 1000 + ("true" if n % 2 else "1.0 none")
        fields = {"EventID": 1, "Channel": SYSMON, "Flag": flag}
        assert remembering.match_fields(SYSMON, 1, fields) == fresh.match_fields(SYSMON, 1, fields)
        assert remembering._verdict_memo.chars <= 10_000
    assert len(remembering._verdicts) > 1  # several sets of candidates shared the budget


MEMO_CASES = [
    # (max entries, max chars, max entry chars, puts as (table, key, chars), kept after)
    (3, 100, 50, [(0, "a", 1), (0, "b", 1), (0, "c", 1)], [{"a", "b", "c"}, set()]),
    (3, 100, 50, [(0, "a", 1), (0, "b", 1), (0, "c", 1), (0, "d", 1)], [{"d"}, set()]),  # full
    (3, 10, 50, [(0, "a", 6), (0, "b", 6)], [{"b"}, set()]),  # too many characters: emptied
    (3, 100, 5, [(0, "a", 6), (0, "b", 1)], [{"b"}, set()]),  # one entry too long: never kept
    (3, 100, 50, [(0, "a", 1), (1, "b", 1)], [{"a"}, {"b"}]),  # one budget, two tables
    (2, 100, 50, [(0, "a", 1), (0, "b", 1), (1, "c", 1)], [set(), {"c"}]),  # shared: both emptied
    (3, 10, 50, [(0, "a", 6), (1, "b", 6)], [set(), {"b"}]),
]


@pytest.mark.parametrize(("entries", "chars", "entry_chars", "puts", "kept"), MEMO_CASES)
def test_memo_budget(entries: int, chars: int, entry_chars: int,
                     puts: list[tuple[int, str, int]], kept: list[set[str]]) -> None:  # fmt: skip
    budget = MemoBudget(entries, chars, entry_chars)
    tables = [budget.table(), budget.table()]
    for at, key, size in puts:
        budget.put(tables[at], key, 1, size)
    assert [set(t) for t in tables] == kept
    assert all(t[k] == 1 for t in tables for k in t)
    assert budget.entries == sum(map(len, tables)) <= entries


def test_memo_budget_drops_tables() -> None:
    budget = MemoBudget(10, 100, 50)
    table = budget.table()
    budget.put(table, "a", 1, 3)
    budget.drop_tables()
    assert (table, budget.tables, budget.entries, budget.chars) == ({}, [], 0, 0)
