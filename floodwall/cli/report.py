"""``floodwall report --day YYYY-MM-DD --format html|pdf|md [--out FILE]``: the day for
management (headline numbers and trend, origins, campaigns and techniques, what got
through and where, the intake's losses)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from floodwall.cli.args import iso_day
from floodwall.settings import Settings
from floodwall.store.db import open_store


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="write the daily report (html, pdf or md)")
    p.add_argument("--day", type=iso_day, metavar="YYYY-MM-DD", help="the UTC day (default: today)")
    p.add_argument("--format", choices=("html", "pdf", "md"), default="md")
    p.add_argument("--out", type=Path, metavar="FILE", help="write here (default: stdout)")
    p.add_argument("--data", type=Path, metavar="DIR", help="data directory")
    p.set_defaults(run=run_report)  # fmt: skip


def run_report(args: argparse.Namespace) -> int:
    from floodwall.console.report import gather, render  # matplotlib: only when reporting

    settings = Settings.load(args.data)
    day = args.day or datetime.now(UTC).date()
    with open_store(settings.data_dir) as store:
        data = render(gather(store, day, home_country=settings.home_country), args.format)
    if args.out is None:
        if args.format == "pdf" and sys.stdout.isatty():
            print("floodwall report: a PDF goes to a file: give --out FILE", file=sys.stderr)
            return 2
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        try:
            args.out.write_bytes(data)
        except OSError as exc:
            print(f"floodwall report: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
            return 2
        print(f"wrote {args.out} ({len(data)} bytes)", file=sys.stderr)
    return 0
