"""``floodwall hunt``: run the Sigma rule set over EVTX and JSON logs, and match every
event's observables against the imported threat intel (``intel.<type>`` findings).
Unless ``--no-store``, the observables seen are appended to the archive for retro-hunts.

Exit codes: 0 no match, 1 matches, 2 usage or input error. Machine formats (jsonl,
json, csv) go to stdout and everything else to stderr, so output can be piped.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from floodwall.detect.sigma.engine import SigmaEngine
from floodwall.detect.sigma.loader import RuleDir, load_rules
from floodwall.detect.sigma.logsource import LogSourceMap
from floodwall.detect.sigma.prefilter import HyperscanCache
from floodwall.enrich.context import AlertContextEnricher
from floodwall.enrich.intel.attack_tags import IntelAttackTagger
from floodwall.enrich.intel.inline import EventIntelMatcher
from floodwall.enrich.intel.loading import keep_out_of_gc, load_run_intel, origin_context_enricher
from floodwall.hunt.observed import MISSING, ObservedArchive
from floodwall.hunt.output import CsvWriter, JsonlWriter, JsonWriter, TableWriter, Writer
from floodwall.hunt.run import Clock, HuntPlan, UnitResult, correlate, plan_units, run_units
from floodwall.hunt.summary import HuntSummary, print_summary
from floodwall.ingest.base import InputError
from floodwall.ingest.intake import IntakeLog
from floodwall.ingest.paths import expand_inputs
from floodwall.records import Finding, Severity
from floodwall.settings import Settings, default_rule_dirs
from floodwall.store.alerts import AlertStore
from floodwall.store.db import Store, open_store

LEVELS = [s.label for s in Severity]


def context_enricher(settings: Settings) -> AlertContextEnricher:
    """The origin enricher over the bundled (or updated) GeoIP and ASN data, loaded when
    the first alert with a public address needs it. Without its data the hunt still
    runs, and each such alert says why it has no origin. Addresses the imported intel
    calls open proxies are ``obscured`` (issue 4)."""

    return origin_context_enricher(settings)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "hunt",
        help="hunt EVTX / JSON / NDJSON logs with Sigma rules",
        description="Hunt security logs (EVTX, JSON, NDJSON, .gz, directories, - for stdin) "
        "with the bundled SigmaHQ rules (Detection Rule License 1.1) and your own.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="file, directory, or - for stdin")
    p.add_argument("--rules", action="append", default=[], metavar="DIR",
                   help="add a directory (or file) of Sigma rules; repeatable")  # fmt: skip
    p.add_argument("--no-default-rules", action="store_true",
                   help="use only --rules directories, not the bundled SigmaHQ set")  # fmt: skip
    p.add_argument("--format", choices=["table", "json", "jsonl", "csv"], default="table")
    p.add_argument("--min-level", choices=LEVELS, default="informational",
                   help="report only rules of this level or above")  # fmt: skip
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, metavar="N",
                   help="worker processes (default: one per core)")  # fmt: skip
    p.add_argument("--verbose", "-v", action="store_true",
                   help="list every rule not loaded and every damaged record")  # fmt: skip
    p.add_argument("--data", type=Path, metavar="DIR", help="data directory (store, config)")
    p.add_argument("--no-store", action="store_true",
                   help="do not keep alerts or observables in the store")  # fmt: skip
    p.add_argument("--no-intel", action="store_true",
                   help="do not match events against the imported threat intel")  # fmt: skip
    p.set_defaults(run=run)


class IntelTechniques:
    """The edge of ``IntelAttackTagger``: the store and the ATT&CK data are opened only
    when a hunt first meets an intel finding (most hunts meet none)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._store: Store | None = None
        self._tagger: IntelAttackTagger | None = None

    def tag(self, findings: list[Finding]) -> list[Finding]:
        if not any(f.detector == "intel" for f in findings):
            return findings
        if self._tagger is None:
            from floodwall.enrich.attack import AttackEnricher, default_attack_dir, load_attack_data
            from floodwall.store.intel import IntelStore

            self._store = open_store(self._settings.data_dir)
            attack = AttackEnricher(load_attack_data(default_attack_dir(self._settings)))
            self._tagger = IntelAttackTagger(IntelStore(self._store).find_exact, attack)
            keep_out_of_gc()  # the ATT&CK tables
        return self._tagger.tag(findings)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def _fail(console: Console, message: str) -> int:
    console.print(f"[red]floodwall hunt:[/] {message}")
    return 2


def run(args: argparse.Namespace) -> int:
    # soft_wrap: messages keep one line per problem when piped, so they can be grepped.
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    machine = args.format != "table"
    out_console = Console(highlight=False, soft_wrap=True)
    if not out_console.is_terminal:
        out_console.width = 200  # a table written to a file keeps its links on one line
    info = err if machine else out_console
    if args.workers < 1:
        return _fail(err, "--workers must be at least 1")
    settings = Settings.load(args.data)

    dirs = [] if args.no_default_rules else default_rule_dirs(settings)
    for d in args.rules:
        path = Path(d)
        if not path.exists():
            return _fail(err, f"rule directory not found: {d}")
        if not os.access(path, os.R_OK):
            return _fail(err, f"rule directory not readable: {d}")
        dirs.append(RuleDir(path))
    if not dirs:
        return _fail(err, "no rules: give --rules DIR or drop --no-default-rules")

    try:
        inputs = expand_inputs(list(args.paths))
    except InputError as exc:
        return _fail(err, str(exc))

    def compiling(n: int) -> None:
        err.print(f"Compiling {n:,} Sigma rule files (first run only; cached afterwards)…")

    # Loading makes hundreds of thousands of long-lived objects (the compiled rules, the
    # prefilter's tables): the cyclic collector would walk them again at every full
    # collection while they are made, and then while events stream through. So it is
    # off until they are built, and then they are frozen out of its sight (what little
    # garbage loading leaves is frozen with them: collecting it cost 30 ms a run).
    gc.disable()
    try:
        ruleset = load_rules(
            dirs,
            cache_dir=settings.cache_dir,
            placeholders=settings.placeholders,
            on_compile=compiling,
        )
        # Rules below --min-level are not evaluated at all, unless a correlation needs them.
        min_level = Severity.parse(args.min_level)
        referenced = {ref for spec in ruleset.correlations for ref in spec.rule_refs}
        wanted = [
            r for r in ruleset.rules if Severity.parse(r.level) >= min_level or r.id in referenced
        ]
        engine = SigmaEngine(
            wanted,
            LogSourceMap.load(),
            HyperscanCache(settings.cache_dir),
        )
    finally:
        gc.freeze()
        gc.enable()
    problems = ruleset.problems + engine.problems
    if not engine.rules:
        return _fail(err, "no rule could be loaded:\n" + "\n".join(p.reason for p in problems[:10]))
    matcher = None
    if not args.no_intel:
        matcher = load_run_intel(
            settings,
            on_load=lambda n, cached: err.print(
                f"Threat intel: {n:,} indicators loaded{' (cache)' if cached else ''}"
            ),
        )
    archive = None if args.no_store else ObservedArchive.open(settings)
    if archive is None and not args.no_store:
        err.print(f"[dim]{MISSING}: observables not archived[/]")
    intel = (
        EventIntelMatcher(matcher, min_level=min_level)
        if matcher is not None or archive is not None
        else None
    )
    plan = HuntPlan(
        engine, ruleset.correlations, min_level, intel=intel, keep_observed=archive is not None
    )

    writer: Writer
    if args.format == "jsonl":
        writer = JsonlWriter(sys.stdout)
    elif args.format == "json":
        writer = JsonWriter(sys.stdout)
    elif args.format == "csv":
        writer = CsvWriter(sys.stdout)
    else:
        writer = TableWriter(out_console)

    alerts: AlertStore | None = None
    hunt_id = None
    store = None
    if not args.no_store:
        store = open_store(settings.data_dir)
        alerts = AlertStore(store)
        hunt_id = alerts.start_hunt(sys.argv, list(args.paths))

    summary = HuntSummary()
    intake = IntakeLog()
    units = plan_units(inputs, args.workers)
    clock = Clock()
    progress = Progress(
        TextColumn("[bold]hunting"), BarColumn(), TaskProgressColumn(),
        TextColumn("{task.fields[events]:,} events · {task.fields[matches]:,} matches"),
        TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal,
    )  # fmt: skip

    enricher = context_enricher(settings)
    tagger = IntelTechniques(settings) if matcher is not None else None

    def on_unit(result: UnitResult) -> None:
        intake.merge(result.intake)
        summary.events += result.events
        findings = tagger.tag(result.findings) if tagger else result.findings
        summary.add(findings)
        contexts = enricher.contexts(findings)
        writer.write(findings, contexts)
        if alerts is not None:
            alerts.add_findings(hunt_id, findings, contexts)
        if archive is not None and result.observed:
            archive.add("logs", result.observed)
        for rule_id, event in result.correlated:
            plan.correlations.feed(rule_id, event)
        progress.update(task, advance=result.size, events=summary.events, matches=summary.matches)

    try:
        with progress:
            # The bar moves with the bytes of input finished.
            task = progress.add_task("hunt", total=sum(u.size for u in units), events=0, matches=0)
            run_units(plan, units, args.workers, on_unit)
        if ruleset.correlations:
            correlated = correlate(plan)
            summary.add(correlated)
            contexts = enricher.contexts(correlated)
            writer.write(correlated, contexts)
            if alerts is not None:
                alerts.add_findings(hunt_id, correlated, contexts)
        writer.close()
    finally:
        if alerts is not None and hunt_id is not None:
            alerts.finish_hunt(
                hunt_id,
                events=summary.events,
                matches=summary.matches,
                rules_loaded=len(engine.rules),
                rules_failed=len(problems),
                intake=intake,
            )
        if store is not None:
            store.close()
        if tagger is not None:
            tagger.close()
        if archive is not None:
            archive.__exit__(None, None, None)

    print_summary(
        info,
        summary,
        rules_loaded=len(engine.rules),
        problems=problems,
        intake=intake,
        skipped=inputs.skipped,
        seconds=clock.elapsed,
        verbose=args.verbose,
        min_level=min_level,
    )
    if alerts is not None:
        info.print(f"Alerts kept in {settings.data_dir / 'floodwall.db'} (hunt {hunt_id}).")
    return 1 if summary.matches else 0
