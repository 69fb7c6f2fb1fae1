"""The end-of-hunt summary: matches by level, rule and ATT&CK tactic, and every loss."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from floodwall.detect.sigma.ir import RuleProblem
from floodwall.ingest.intake import IntakeLog
from floodwall.records import Finding, Severity

TACTICS = (
    "reconnaissance", "resource_development", "initial_access", "execution", "persistence",
    "privilege_escalation", "defense_evasion", "stealth", "credential_access", "discovery",
    "lateral_movement", "collection", "command_and_control", "exfiltration", "impact",
)  # fmt: skip


@dataclass
class HuntSummary:
    """Counts of one hunt, filled while it runs (per-run state)."""

    levels: Counter[Severity] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)
    tactics: Counter[str] = field(default_factory=Counter)
    events: int = 0
    matches: int = 0

    def add(self, findings: Iterable[Finding]) -> None:
        for f in findings:
            self.matches += 1
            self.levels[f.severity] += 1
            self.rules[f.title] += 1
            for tag in f.rule.tags if f.rule else ():
                name = tag.removeprefix("attack.").replace("-", "_")
                if tag.startswith("attack.") and name in TACTICS:
                    self.tactics[name] += 1


def print_summary(
    console: Console,
    s: HuntSummary,
    *,
    rules_loaded: int,
    problems: list[RuleProblem],
    intake: IntakeLog,
    skipped: list[tuple[str, str]],
    seconds: float,
    verbose: bool,
    min_level: Severity = Severity.INFORMATIONAL,
) -> None:
    """Print the summary; losses (rules not loaded, damaged input) are never left out."""
    rate = s.events / seconds if seconds > 0 else 0.0
    console.print(
        f"[bold]Hunted {s.events:,} events[/] from {len(intake.received)} input(s) with "
        f"{rules_loaded:,} rules"
        + (f" of level {min_level.label} and above" if min_level > Severity.INFORMATIONAL else "")
        + f" in {seconds:.1f}s ({rate:,.0f} events/s): "
        f"[bold]{s.matches:,} match(es)[/]"
    )
    if s.matches:
        t = Table(title="By level", show_header=False)
        for level in sorted(s.levels, reverse=True):
            t.add_row(level.label, f"{s.levels[level]:,}")
        r = Table(title="Top rules")
        r.add_column("Rule")
        r.add_column("Matches", justify="right")
        for title, n in s.rules.most_common(15):
            r.add_row(escape(title), f"{n:,}")
        a = Table(title="By ATT&CK tactic", show_header=False)
        for tactic, n in s.tactics.most_common():
            a.add_row(tactic.replace("_", " "), f"{n:,}")
        console.print(t, r, a)
    if problems:
        reasons = Counter(p.reason.split(":")[0] for p in problems)
        console.print(
            f"[yellow]{len(problems)} rule(s) not loaded[/] "
            + escape(", ".join(f"{n}× {why}" for why, n in reasons.most_common(4)))
            + ("" if verbose else " (--verbose lists each)")
        )
        if verbose:
            for p in problems:
                console.print(
                    f"  [yellow]rule not loaded[/] {escape(f'{p.path} ({p.title}): {p.reason}')}"
                )
    if intake.total_damaged:
        console.print(f"[red]{intake.total_damaged:,} damaged record(s) skipped:[/]")
        limit = None if verbose else 10
        for prob in intake.problems[:limit]:
            console.print(escape(f"  {prob.path} {prob.where}: {prob.reason}"))
        if limit is not None and len(intake.problems) > limit:
            console.print(f"  … {len(intake.problems) - limit} more (--verbose lists them)")
    for path, why in skipped:
        console.print(f"[yellow]skipped[/] {escape(f'{path}: {why}')}")
