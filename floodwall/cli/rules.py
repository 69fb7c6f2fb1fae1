"""``floodwall rules``: what rule set a hunt uses, and how to update it offline.

Floodwall never downloads rules. ``update`` copies a SigmaHQ checkout or release
archive that the user fetched themselves into the data directory, where it takes
precedence over the bundled copy.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

from rich.console import Console

from floodwall.detect.sigma.loader import load_rules
from floodwall.settings import RULE_SETS, Settings, default_rule_dirs


def register(sub: Any) -> None:
    p = sub.add_parser("rules", help="show or update the Sigma rule set")
    rsub = p.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    info = rsub.add_parser("info", help="version, rule count and rules that do not load")
    info.add_argument("--data", type=Path, metavar="DIR", help="data directory")
    info.add_argument("--verbose", "-v", action="store_true", help="list each rule not loaded")
    info.set_defaults(run=run_info)
    up = rsub.add_parser("update", help="use the rules of a SigmaHQ checkout you downloaded")
    up.add_argument("source", type=Path, help="folder holding rules/ (a SigmaHQ checkout)")
    up.add_argument("--data", type=Path, metavar="DIR", help="data directory")
    up.set_defaults(run=run_update)


def run_info(args: argparse.Namespace) -> int:
    console = Console(highlight=False, soft_wrap=True)
    settings = Settings.load(args.data)
    dirs = default_rule_dirs(settings)
    root = dirs[0].path.parent
    version = root / "VERSION"
    console.print(f"rule set: {root}")
    console.print(version.read_text("utf-8").strip() if version.exists() else "(no VERSION)")
    ruleset = load_rules(dirs, cache_dir=settings.cache_dir, placeholders=settings.placeholders)
    console.print(
        f"{ruleset.files:,} files: {len(ruleset.rules):,} rules, "
        f"{len(ruleset.correlations):,} correlations, {len(ruleset.problems):,} not loaded"
    )
    for p in ruleset.problems if args.verbose else ():
        console.print(f"  {p.path} ({p.title}): {p.reason}", markup=False)
    return 0


def run_update(args: argparse.Namespace) -> int:
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    settings = Settings.load(args.data)
    found = [args.source / name for name in RULE_SETS if (args.source / name).is_dir()]
    if not found or found[0].name != "rules":
        console.print(f"[red]floodwall rules update:[/] no rules/ folder in {args.source}")
        return 2
    target = settings.data_dir / "sigma"
    staging = settings.data_dir / "sigma.new"
    shutil.rmtree(staging, ignore_errors=True)
    for folder in found:
        shutil.copytree(folder, staging / folder.name)
    for extra in ("LICENSE", "LICENSE.Detection.Rules.md"):
        if (args.source / extra).is_file():
            shutil.copy2(args.source / extra, staging / extra)
    (staging / "VERSION").write_text(f"copied from {args.source.resolve()}\n", "utf-8")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    ruleset = load_rules(default_rule_dirs(settings), cache_dir=settings.cache_dir)
    console.print(
        f"Rules updated in {target}: {len(ruleset.rules):,} rules, "
        f"{len(ruleset.problems):,} not loaded (floodwall rules info -v lists them)."
    )
    return 0
