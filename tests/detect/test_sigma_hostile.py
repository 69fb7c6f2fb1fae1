"""Attackers write the events: values built to slow the engine down or to slip past the
prefilter must give the same answer as the plain matcher, quickly."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from floodwall.detect.sigma.engine import SigmaEngine
from floodwall.detect.sigma.loader import RuleDir, load_rules
from floodwall.detect.sigma.logsource import LogSourceMap
from floodwall.detect.sigma.scantext import scan_text
from floodwall.records import Event, Origin

SYSMON = "Microsoft-Windows-Sysmon/Operational"

# The regex of SigmaHQ's "Powershell Token Obfuscation - Process Creation", which Python's
# backtracking engine takes seconds to refuse on a long command line.
RULES = {
    "redos.yml": r"""
title: Backtracking regex
id: 00000000-0000-4000-8000-0000000000a1
logsource: {product: windows, category: process_creation}
detection:
  sel: {CommandLine|re: '\w+`(?:\w+|-|.)`[\w+|\s]'}
  condition: sel
""",
    "glob.yml": r"""
title: Many wildcards
id: 00000000-0000-4000-8000-0000000000a2
logsource: {product: windows, category: process_creation}
detection:
  sel: {CommandLine: '*a*b*c*d*e*f*g*zz'}
  condition: sel
""",
    "contains.yml": r"""
title: Mimikatz in the command line
id: 00000000-0000-4000-8000-0000000000a3
logsource: {product: windows, category: process_creation}
detection:
  sel: {CommandLine|contains: 'mimikatz'}
  condition: sel
""",
    "kerberos.yml": r"""
title: Kerberos word
id: 00000000-0000-4000-8000-0000000000a4
logsource: {product: windows, category: process_creation}
detection:
  sel: {CommandLine|contains: 'kerberos'}
  condition: sel
""",
    "tags.yml": r"""
title: Tagged value
id: 00000000-0000-4000-8000-0000000000a5
logsource: {product: windows, category: process_creation}
detection:
  sel: {Tags: 'evil'}
  condition: sel
""",
    "ports.yml": r"""
title: Mail port from a tool
id: 00000000-0000-4000-8000-0000000000a6
logsource: {product: windows, category: process_creation}
detection:
  sel: {DestinationPort: [25, 587], CommandLine|contains: 'smtpx'}
  filter: {Image|endswith: '\outlook.exe'}
  condition: sel and not filter
""",
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> SigmaEngine:
    d = tmp_path_factory.mktemp("rules")
    for name, text in RULES.items():
        (d / name).write_text(text)
    ruleset = load_rules([RuleDir(Path(d))], cache_dir=None, workers=1)
    assert not ruleset.problems
    return SigmaEngine(ruleset.rules, LogSourceMap.load())


def titles(engine: SigmaEngine, fields: dict[str, Any]) -> set[str]:
    event = Event(Origin("t", 1), channel=SYSMON, event_id=1, fields={"EventID": 1, **fields})
    return {engine.rules[i].title for i in engine.match(event)}


@pytest.mark.parametrize(
    "value",
    [
        "a" * 200_000,  # no backtick: the regex must fail fast, not backtrack
        "x`" * 100_000,
        "abcdefg" * 30_000,  # the glob's letters everywhere, never the ending
    ],
)
def test_backtracking_values_finish_quickly(engine: SigmaEngine, value: str) -> None:
    started = time.perf_counter()
    assert titles(engine, {"CommandLine": value}) <= {"Backtracking regex"}
    assert time.perf_counter() - started < 5.0  # a hang guard, not a benchmark


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # separators of the scan layout inside a value cannot hide a literal behind them
        ({"CommandLine": "run \x1fImage\x1e then mimikatz"}, {"Mimikatz in the command line"}),
        (
            {"CommandLine\x1e": "x", "CommandLine": "\x1e\x1fmimikatz"},
            {"Mimikatz in the command line"},
        ),
        # Unicode case folding: KELVIN SIGN lowers to an ASCII k, as the matcher reads it
        ({"CommandLine": "klist \u212aERBEROS"}, {"Kerberos word"}),
        # lists: each value is a value of the field
        ({"Tags": ["good", "EVIL"]}, {"Tagged value"}),
        ({"Tags": ["good", ["nested", "evil"]]}, {"Tagged value"}),
        ({"Tags": []}, set()),
        # invalid UTF-8 read with surrogateescape, and lone surrogates
        ({"CommandLine": "mimi\udcffkatz mimikatz"}, {"Mimikatz in the command line"}),
        ({"CommandLine": None, "Tags": None}, set()),
    ],
)
def test_prefilter_agrees_with_the_matcher(
    engine: SigmaEngine, fields: dict[str, Any], expected: set[str]
) -> None:
    assert titles(engine, fields) == expected


# Every value that the matcher reads as 25 (float() of the stripped text) must get past
# the numeric anchor, however it is written; other numbers must not match.
@pytest.mark.parametrize(
    ("port", "expected"),
    [
        (25, True), ("25", True), ("025", True), ("25.0", True), ("2.5e1", True),
        (" 25 ", True), ("\uff12\uff15", True), ("2_5", True), (25.0, True), ([80, "587"], True),
        (26, False), ("250", False), ("125", False), ("", False), (None, False), (True, False),
    ],
)  # fmt: skip
def test_numeric_anchor_lets_every_spelling_through(
    engine: SigmaEngine, port: Any, expected: bool
) -> None:
    fields = {"DestinationPort": port, "CommandLine": "SMTPX send", "Image": "C:\\t\\a.exe"}
    assert ("Mail port from a tool" in titles(engine, fields)) is expected
    # The filter is a clause of no use to the prefilter (it sits under NOT): it still
    # decides the match.
    fields["Image"] = "C:\\Office\\OUTLOOK.EXE"
    assert "Mail port from a tool" not in titles(engine, fields)


def test_many_fields(engine: SigmaEngine) -> None:
    fields: dict[str, Any] = {f"F{i}": "x" * 10 for i in range(20_000)}
    fields["CommandLine"] = "mimikatz"
    assert titles(engine, fields) == {"Mimikatz in the command line"}


def test_scan_text_blanks_separators() -> None:
    text = scan_text({"a": "x\x1fb\x1ey", "c": 1}, None)
    assert text.count(b"\x1f") == 3 and text.count(b"\x1e") == 2
