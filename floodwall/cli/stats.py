"""``floodwall stats``: the day's attacks, seen, blocked and got through, and the losses.

The numbers come from :mod:`floodwall.store.figures`, which the console reads too; its
docstring defines every figure (what one attack is, the fold window, which day an
alert belongs to). A day is a UTC calendar day.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from floodwall.cli.args import iso_day

TOP = 15  # rows shown per split in the table; --format json has them all


def register(sub: Any) -> None:
    p = sub.add_parser("stats", help="the day's attacks: seen, blocked, got through, losses")
    p.add_argument("--day", type=iso_day, metavar="YYYY-MM-DD", help="UTC day (default: today)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--data", type=Path, metavar="DIR", help="data directory")
    p.add_argument("--home", metavar="CC", help="home country (default: [origin] setting)")
    p.add_argument(
        "--fold-minutes",
        type=int,
        default=60,
        metavar="N",
        help="alerts of one rule on one host within the same N minutes count once (default 60)",
    )
    p.set_defaults(run=run_stats)


def run_stats(args: argparse.Namespace) -> int:
    from rich.console import Console

    from floodwall.settings import Settings
    from floodwall.store.db import open_store
    from floodwall.store.figures import daily_figures

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if args.fold_minutes < 1 or 1440 % args.fold_minutes:
        err.print("[red]floodwall stats:[/] --fold-minutes must divide a day (1, 5, 15, 60 ...)")
        return 2
    settings = Settings.load(args.data)
    day = args.day or datetime.now(UTC).date()
    home = (args.home or settings.home_country).strip().upper()
    with open_store(settings.data_dir) as store:
        figures = daily_figures(store, day, home_country=home, fold_minutes=args.fold_minutes)
    if args.format == "json":
        print(json.dumps(figures.to_json(), indent=2))
        return 0
    out = Console(highlight=False, soft_wrap=True)
    if not out.is_terminal:
        out.width = 160  # written to a file or a pipe: paths stay on one line
    _print_tables(out, figures, settings)
    return 0


def _technique_names(settings: Any) -> dict[str, str]:
    from floodwall.enrich.attack import AttackError, default_attack_dir, load_attack_data

    try:
        data = load_attack_data(default_attack_dir(settings))
    except AttackError:
        return {}  # the table still shows the ids
    return {tid: t.name for tid, t in data.techniques.items()}


def _print_tables(console: Any, f: Any, settings: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    home = f.home_country or "not set"
    console.print(
        f"[bold]{f.day.isoformat()}[/] (UTC): [bold]{f.seen:,}[/] attacks seen, "
        f"[green]{f.blocked:,} blocked[/], [red]{f.got_through:,} got through[/]  "
        f"(home country: {escape(home)}; log detections folded per rule and host "
        f"within {f.fold_minutes} min: {f.log_alerts:,} alerts)"
    )
    names = _technique_names(settings)

    def table(title: str, rows: Any, label: Any = None) -> None:
        t = Table(title=title, title_justify="left")
        for col, just in (("", "left"), ("seen", "right"), ("blocked", "right"),
                          ("got through", "right")):  # fmt: skip
            t.add_column(col, justify=just)  # type: ignore[arg-type]
        rows = list(rows)
        for s in rows[:TOP]:
            t.add_row(escape(label(s.key) if label else s.key), f"{s.seen:,}",
                      f"{s.blocked:,}", f"{s.got_through:,}")  # fmt: skip
        if len(rows) > TOP:
            rest = rows[TOP:]
            t.add_row(f"... {len(rest)} more", f"{sum(s.seen for s in rest):,}",
                      f"{sum(s.blocked for s in rest):,}",
                      f"{sum(s.got_through for s in rest):,}")  # fmt: skip
        console.print(t)

    table("By source", f.by_source)
    table("By origin", f.by_origin)
    table("By origin country", f.by_country)
    table(
        "By ATT&CK technique (an attack counts under each of its techniques)",
        f.by_technique,
        lambda k: f"{k} {names.get(k, '')}".strip(),
    )
    losses = Table(title="Intake losses per source", title_justify="left")
    losses.add_column("source", overflow="fold")
    for col in ("received", "unparseable", "dropped", "late"):
        losses.add_column(col, justify="right")
    # Several hunted files: one total row names their common folder, and each file is
    # shown below it by its path inside that folder (the file name is what tells inputs
    # apart; a terminal-wide absolute path would be cut before it).
    total = [x for x in f.losses if x.source.startswith("logs:")]
    logs = [x.source.removeprefix("logs:") for x in total]
    folder = _common_folder(logs) if len(logs) > 1 else ""
    if folder:
        losses.add_row(
            escape(f"logs: {len(logs)} inputs in {folder}"),
            f"{sum(x.received for x in total):,}", f"{sum(x.unparseable for x in total):,}",
            "", "",
        )  # fmt: skip
    for x in f.losses[: TOP * 2]:
        label = x.source
        if folder and x.source.startswith("logs:"):
            label = "  " + os.path.relpath(x.source.removeprefix("logs:"), folder)
        losses.add_row(
            escape(label), f"{x.received:,}", f"{x.unparseable:,}",
            "not recorded" if x.dropped is None else f"{x.dropped:,}",
            "not recorded" if x.late is None else f"{x.late:,}",
        )  # fmt: skip
    if len(f.losses) > TOP * 2:
        losses.add_row(f"... {len(f.losses) - TOP * 2} more (--format json)", "", "", "", "")
    if not f.losses:
        losses.add_row("(no hunt or mail intake that day)", "", "", "", "")
    console.print(losses)
    if f.unfinished_hunts:
        console.print(
            f"[red]{f.unfinished_hunts} hunt(s) started that day never finished[/]: "
            "their alerts and intake are incomplete."
        )


def _common_folder(paths: list[str]) -> str:
    """The folder all ``paths`` are in ("" when they share none but the root)."""
    try:
        common = os.path.commonpath(paths)
    except ValueError:  # relative and absolute, or "-" (standard input) among them
        return ""
    folder = common if common not in paths else os.path.dirname(common)
    return "" if folder in ("", "/") else folder
