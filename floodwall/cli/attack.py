"""``floodwall attack``: ATT&CK coverage of the rules and detectors, what was seen, and
the bundled ATT&CK data (info, offline update).

``coverage`` counts, per tactic, the techniques that the loaded Sigma rules (their
``attack.tXXXX`` tags) and the mail detectors (their class metadata) name, and the
techniques of the attacks seen in the period, counted as ``floodwall stats`` counts
them. ``--layer FILE`` writes the same as an ATT&CK Navigator layer (format 4.5).
Floodwall never downloads ATT&CK: ``update`` reads a STIX bundle the user fetched.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from floodwall.cli.args import iso_day

DEFAULT_DAYS = 30


def register(sub: Any) -> None:
    p = sub.add_parser("attack", help="ATT&CK: rule coverage, techniques seen, Navigator layer")
    asub = p.add_subparsers(dest="attack_command", metavar="ACTION", required=True)
    cov = asub.add_parser("coverage", help="techniques with rules and techniques seen, per tactic")
    cov.add_argument("--since", type=iso_day, metavar="DATE", help=f"first UTC day "
                     f"(default: {DEFAULT_DAYS - 1} days before --until)")  # fmt: skip
    cov.add_argument("--until", type=iso_day, metavar="DATE", help="last UTC day (default: today)")
    cov.add_argument("--layer", type=Path, metavar="FILE", help="write a Navigator layer (JSON)")
    cov.add_argument("--format", choices=("table", "json"), default="table")
    cov.add_argument("--data", type=Path, metavar="DIR", help="data directory")
    cov.add_argument("--verbose", "-v", action="store_true", help="list every technique")
    cov.set_defaults(run=run_coverage)
    info = asub.add_parser("info", help="the ATT&CK data in use: version, counts")
    info.add_argument("--data", type=Path, metavar="DIR", help="data directory")
    info.set_defaults(run=run_info)
    up = asub.add_parser("update", help="use a MITRE ATT&CK STIX bundle you downloaded")
    up.add_argument("bundle", type=Path, help="enterprise-attack.json (or .json.gz)")
    up.add_argument("--version", dest="attack_version", required=True, metavar="X.Y",
                    help="the ATT&CK release of the bundle, e.g. 18.1")  # fmt: skip
    up.add_argument("--data", type=Path, metavar="DIR", help="data directory")
    up.set_defaults(run=run_update)


def run_info(args: argparse.Namespace) -> int:
    from rich.console import Console

    from floodwall.enrich.attack import default_attack_dir, load_attack_data
    from floodwall.settings import Settings

    console = Console(highlight=False, soft_wrap=True)
    directory = default_attack_dir(Settings.load(args.data))
    data = load_attack_data(directory)
    console.print(f"ATT&CK data: {directory}", markup=False)
    version = directory / "VERSION"
    if version.is_file():
        console.print(version.read_text("utf-8").strip(), markup=False)
    current = len(data.current())
    console.print(
        f"{data.domain} {data.version}: {len(data.tactics)} tactics, "
        f"{len(data.techniques)} techniques ({current} current)"
    )
    return 0


def run_update(args: argparse.Namespace) -> int:
    from rich.console import Console

    from floodwall.enrich.attack_build import AttackBuildError, build
    from floodwall.settings import Settings

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    settings = Settings.load(args.data)
    try:
        result = build(
            args.bundle, settings.data_dir / "attack",
            attack_version=args.attack_version, source=str(args.bundle.resolve()),
        )  # fmt: skip
    except AttackBuildError as e:
        err.print(f"[red]floodwall attack update:[/] {e}", markup=True)
        return 2
    err.print(
        f"ATT&CK {result.attack_version} in {result.path.parent}: {result.tactics} tactics, "
        f"{result.techniques} techniques ({result.revoked} revoked, "
        f"{result.deprecated} deprecated)",
        markup=False,
    )
    return 0


def _mail_detectors() -> list[tuple[str, tuple[str, ...]]]:
    from floodwall.plugins import MAIL_DETECTORS

    return [(str(d.id), tuple(d.attack)) for d in MAIL_DETECTORS]


def run_coverage(args: argparse.Namespace) -> int:
    from rich.console import Console

    from floodwall.detect.sigma.loader import load_rules
    from floodwall.enrich.attack import AttackEnricher, default_attack_dir, load_attack_data
    from floodwall.enrich.attack_coverage import build_coverage, coverage_json, navigator_layer
    from floodwall.settings import Settings, default_rule_dirs
    from floodwall.store.db import open_store
    from floodwall.store.figures import techniques_seen

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    settings = Settings.load(args.data)
    until = args.until or datetime.now(UTC).date()
    since = args.since or until - timedelta(days=DEFAULT_DAYS - 1)
    if until < since:
        err.print("[red]floodwall attack coverage:[/] --until is before --since")
        return 2
    enricher = AttackEnricher(load_attack_data(default_attack_dir(settings)))
    ruleset = load_rules(
        default_rule_dirs(settings), cache_dir=settings.cache_dir,
        placeholders=settings.placeholders,
    )  # fmt: skip
    with open_store(settings.data_dir) as store:
        seen = techniques_seen(store, since, until)
    coverage = build_coverage(
        enricher, [(r.title, r.tags) for r in ruleset.rules], _mail_detectors(), seen
    )
    period = {"since": since.isoformat(), "until": until.isoformat()}
    if args.layer:
        layer = navigator_layer(
            coverage,
            name=f"Floodwall coverage {since} to {until}",
            description=(
                f"{len(ruleset.rules)} Sigma rules and the mail detectors; attacks seen "
                f"from {since} to {until} (UTC). Score: attacks seen."
            ),
        )
        args.layer.write_text(json.dumps(layer, indent=2) + "\n", "utf-8")
        err.print(f"Navigator layer written to {args.layer}", markup=False)
    if args.format == "json":
        doc = coverage_json(coverage, period)
        doc["rules"] = {"loaded": len(ruleset.rules), "not_loaded": len(ruleset.problems)}
        print(json.dumps(doc, indent=2))
        return 0
    _print(Console(highlight=False, soft_wrap=True), coverage, period, ruleset, args.verbose)
    return 0


def _print(console: Any, c: Any, period: dict[str, str], ruleset: Any, verbose: bool) -> None:
    from rich.markup import escape
    from rich.table import Table

    console.print(
        f"ATT&CK Enterprise {c.attack_version}: {len(ruleset.rules):,} Sigma rules loaded "
        f"({len(ruleset.problems):,} not loaded), attacks seen {period['since']} to "
        f"{period['until']} (UTC)"
    )
    t = Table(title="Coverage per tactic", title_justify="left")
    for col in ("tactic", "techniques", "with rules", "seen", "seen, no rule"):
        t.add_column(col, justify="left" if col == "tactic" else "right")
    for row in c.tactics:
        t.add_row(
            f"{row.tactic.id} {row.tactic.name}", str(row.techniques), str(row.covered),
            str(row.seen), f"[red]{row.seen_uncovered}[/]" if row.seen_uncovered else "0",
        )  # fmt: skip
    console.print(t)
    shown = [x for x in c.techniques if verbose or x.seen]
    if shown:
        tt = Table(title="Techniques" + ("" if verbose else " seen"), title_justify="left")
        for col in ("technique", "rules", "mail detectors", "seen"):
            tt.add_column(col, justify="left" if col == "technique" else "right")
        for x in sorted(shown, key=lambda x: (-x.seen, x.technique.id)):
            tt.add_row(escape(f"{x.technique.id} {x.technique.name}"), str(x.rules),
                       str(len(x.detectors)), str(x.seen))  # fmt: skip
        console.print(tt)
    if c.problems:
        # Grouped by id: one unknown id is usually cited by many rules.
        cited: dict[tuple[str, str], list[str]] = {}
        for where, p in c.problems:
            cited.setdefault((p.id, p.reason), []).append(where)
        console.print(
            f"{len(cited)} ATT&CK id(s) could not be mapped as given ({len(c.problems)} citations):"
        )
        rows = sorted(cited.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        for (tid, reason), wheres in rows[: None if verbose else 10]:
            who = (
                "; ".join(wheres)
                if verbose
                else f"{wheres[0]}" + (f" and {len(wheres) - 1} more" if len(wheres) > 1 else "")
            )
            console.print(f"  {escape(tid)}: {escape(reason)} ({escape(who)})")
        if not verbose and len(rows) > 10:
            console.print("  ... (-v lists them all)")
