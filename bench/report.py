"""The printed report of bench_hunt.py: one table of runs, one of rules, one of targets.

Also reads hunt's own stderr summary (rules loaded, rules not loaded and why, its
clock, its matches), since the figures table and the rules table show them.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

from rich.console import Console
from rich.markup import escape
from rich.table import Table

# The targets, printed beside the figures.
TARGET_NDJSON_EPS = 100_000
TARGET_EVTX_EPS = 30_000
TARGET_SCALING = 1.7
TARGET_RSS_MB = 1_000
TARGET_RATIO = 50
# Piped output would otherwise wrap the wide tables at 80 columns.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 170)


@dataclass
class Run:
    """One measured run."""

    name: str
    events: int
    bytes: int
    wall: float
    rss_mb: float
    returncode: int
    stderr: str
    tool: str = "floodwall"

    @property
    def ok(self) -> bool:
        """Hunt exits 0 (no match) or 1 (matches); 2 is an error."""
        return self.returncode in (0, 1)

    @property
    def eps(self) -> float:
        """Events per second over the whole wall time."""
        return self.events / self.wall if self.wall else 0.0

    @property
    def mbps(self) -> float:
        """Input megabytes per second over the whole wall time."""
        return self.bytes / 1e6 / self.wall if self.wall else 0.0


# --- what hunt says about itself ----------------------------------------------------

# hunt ends with "Hunted N events from K input(s) with R rules in Xs (E events/s): M
# match(es)" and, when some rules did not load, "P rule(s) not loaded <reasons>". Rich
# wraps those lines to the terminal width, so whitespace is normalised before matching.
_HUNTED_RE = re.compile(
    r"Hunted ([\d,]+) events? from [\d,]+ input\(s\) with ([\d,]+) rules? in "
    r"([\d.]+)s .*?: ([\d,]+) match"
)
_NOT_LOADED_RE = re.compile(r"([\d,]+) rule\(s\) not loaded (.*?)(?: \(--verbose|$)")


@dataclass
class HuntSays:
    """hunt's own summary line: rules loaded, its own clock, matches, rules not loaded."""

    events: int | None = None
    rules: int | None = None
    seconds: float | None = None
    matches: int | None = None
    not_loaded: int = 0
    reasons: str = ""


def hunt_says(stderr: str) -> HuntSays:
    """Parse hunt's stderr summary; fields stay None when it printed none."""
    text = " ".join(stderr.split())
    says = HuntSays()
    if match := _HUNTED_RE.search(text):
        says.events, says.rules, says.matches = (
            int(match.group(i).replace(",", "")) for i in (1, 2, 4)
        )
        says.seconds = float(match.group(3))
    if match := _NOT_LOADED_RE.search(text):
        says.not_loaded = int(match.group(1).replace(",", ""))
        says.reasons = match.group(2).strip()
    return says


# --- report --------------------------------------------------------------------------


def _mark(ok: bool) -> str:
    return "[green]met[/]" if ok else "[red]not met[/]"


def report(
    runs: dict[str, Run],
    peer: dict,
    startup: Run,
    first: Run,
    evtx_files: int,
) -> None:
    """Print the figures table and the comparison with the issue's targets."""
    peer_eps = peer["events_per_second"]
    table = Table(title="floodwall hunt vs. the Zircolite method (pySigma SQLite backend)")
    columns = ("run", "events", "MB", "seconds", "events/s", "MB/s", "peak RSS MB")
    for column in (*columns, "net of start-up ev/s", "hunt's own clock s", "× peer"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for run in runs.values():
        net = run.wall - startup.wall
        own = hunt_says(run.stderr).seconds if run.tool == "floodwall" else None
        table.add_row(
            run.name if run.ok else f"{run.name} [red](exit {run.returncode})[/]",
            f"{run.events:,}",
            f"{run.bytes / 1e6:,.1f}",
            f"{run.wall:.2f}",
            f"{run.eps:,.0f}",
            f"{run.mbps:.2f}",
            f"{run.rss_mb:,.0f}",
            f"{run.events / net:,.0f}" if run.tool == "floodwall" and net > 0 else "",
            f"{own:.2f}" if own is not None else "",
            f"{run.eps / peer_eps:,.1f}" if peer_eps and run.name.startswith("ndjson") else "",
        )
    console.print(table)
    console.print(
        "× peer: events/s over the peer's; only the subset row compares the same events. "
        "MB are input bytes."
    )
    console.print(
        f"start-up = hunt of 1 event: {startup.wall:.2f}s, peak RSS {startup.rss_mb:.0f} MB "
        f"(first run of this benchmark: {first.wall:.2f}s; longer when it compiled the rule "
        f"cache). Peer seconds are load + query; its rule conversion is not counted."
    )
    console.print(f"EVTX input: {evtx_files:,} files (the regression set × --evtx-repeat)")
    report_rules(runs, peer, startup)
    report_targets(runs, peer, startup)


def report_rules(runs: dict[str, Run], peer: dict, startup: Run) -> None:
    """Rules loaded and not, by each side, and what each matched on the same events."""
    says = hunt_says(startup.stderr)
    subset = runs.get("ndjson subset, 1 worker")
    subset_says = hunt_says(subset.stderr) if subset else HuntSays()
    rules = Table(title="rules")
    for column in ("", "floodwall", "peer"):
        rules.add_column(column)
    failures = peer["conversion_failures"]
    rules.add_row("rule files", "", f"{peer['rule_files']:,}")
    rules.add_row(
        "loaded / converted",
        f"{says.rules:,}" if says.rules is not None else "?",
        f"{peer['rules_converted']:,}",
    )
    rules.add_row("not loaded / failed", f"{says.not_loaded:,}", f"{sum(failures.values()):,}")
    rules.add_row(
        "why",
        # Reasons are outside text: "[placeholders]" must not be read as markup.
        escape(says.reasons) or "-",
        "\n".join(f"{n}× {escape(reason)}" for reason, n in failures.items()) or "-",
    )
    query_failures = peer["query_failures"]
    rules.add_row(
        "queries failing in SQLite",
        "",
        "\n".join(f"{n}× {escape(r)}" for r, n in query_failures.items()) or "0",
    )
    rules.add_row(
        "matches on the subset",
        f"{subset_says.matches:,}" if subset_says.matches is not None else "?",
        f"{peer['matches']:,} rows from {peer['rules_matched']:,} rules",
    )
    console.print(rules)


def report_targets(runs: dict[str, Run], peer: dict, startup: Run) -> None:
    """The issue's targets beside the measured figures."""
    peer_eps = peer["events_per_second"]
    goals = Table(title="targets (figures, not a pass/fail test)")
    for column in ("target", "measured", ""):
        goals.add_column(column)
    full1, full2 = runs.get("ndjson full, 1 worker"), runs.get("ndjson full, 2 workers")
    sub1 = runs.get("ndjson subset, 1 worker")
    ev1 = runs.get("evtx, 1 worker")
    if full1:
        goals.add_row(
            f"NDJSON ≥ {TARGET_NDJSON_EPS:,} events/s, 1 worker",
            f"{full1.eps:,.0f}",
            _mark(full1.ok and full1.eps >= TARGET_NDJSON_EPS),
        )
    if ev1:
        goals.add_row(
            f"EVTX ≥ {TARGET_EVTX_EPS:,} events/s, 1 worker",
            f"{ev1.eps:,.0f}",
            _mark(ev1.ok and ev1.eps >= TARGET_EVTX_EPS),
        )
    if full1 and full2 and full1.eps:
        scaling = full2.eps / full1.eps
        goals.add_row(
            f"--workers 2 ≥ {TARGET_SCALING}× --workers 1",
            f"{scaling:.2f}×",
            _mark(full1.ok and full2.ok and scaling >= TARGET_SCALING),
        )
    floodwall_runs = [r for r in runs.values() if r.tool == "floodwall"]
    if floodwall_runs:
        worst = max(r.rss_mb for r in floodwall_runs)
        goals.add_row(
            f"peak RSS < {TARGET_RSS_MB:,} MB (any floodwall run)",
            f"{worst:,.0f} MB",
            _mark(worst < TARGET_RSS_MB),
        )
    if full1 and sub1:
        goals.add_row(
            "memory flat as the input grows (1 worker)",
            f"{sub1.rss_mb:,.0f} MB at {sub1.events:,} events, "
            f"{full1.rss_mb:,.0f} MB at {full1.events:,}",
            _mark(full1.rss_mb < TARGET_RSS_MB and full1.rss_mb <= 1.5 * sub1.rss_mb),
        )
    if sub1 and peer_eps:
        ratio = sub1.eps / peer_eps
        net = sub1.wall - startup.wall
        net_ratio = f" (net of start-up {sub1.events / net / peer_eps:,.1f}×)" if net > 0 else ""
        goals.add_row(
            f"≥ {TARGET_RATIO}× the peer's events/s, same events",
            f"{ratio:,.1f}×{net_ratio}",
            _mark(sub1.ok and ratio >= TARGET_RATIO),
        )
    console.print(goals)
