"""``floodwall intel retrohunt``: the observables archive searched for indicators.

- default: the indicators of the latest import; ``--since TIME``: those imported or
  updated since then; ``--source NAME``: those a source gives; ``--all``: every one.
- Each hit becomes one alert marked retrospective (``enrich/intel/retrorun.py``);
  re-running updates those alerts and adds none for the same hits.
- ``intel import`` runs it after importing, for what that import brought
  (``--no-retrohunt`` skips it).

Exit codes: 0 done (hits or not); 2 usage error, or an archive that cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from floodwall.settings import Settings
from floodwall.store.db import open_store

TABLE_LIMIT = 50


def archive_root(settings: Settings) -> Path:
    """The archive's default place: ``DATA/archive/observables``."""
    return settings.data_dir / "archive" / "observables"


def register(isub: Any) -> None:
    """Add ``retrohunt`` to ``floodwall intel``'s actions."""
    rh = isub.add_parser("retrohunt", help="search the observables archive for indicators")
    rh.add_argument(
        "--since", metavar="TIME",
        help="indicators imported or updated since TIME (ISO 8601, e.g. 2026-06-01)",
    )  # fmt: skip
    rh.add_argument("--source", metavar="NAME", help="indicators that this source gives")
    rh.add_argument("--all", action="store_true", help="every indicator (default: latest import)")
    rh.add_argument("--archive", type=Path, metavar="DIR", help="archive folder")
    rh.add_argument("--memory-limit", default="1GB", metavar="SIZE", help="DuckDB (1GB)")
    rh.add_argument("--threads", type=int, default=2, metavar="N", help="DuckDB threads (2)")
    rh.add_argument("--format", choices=["table", "json"], default="table")
    rh.add_argument("--data", type=Path, metavar="DIR", help="data directory")
    rh.set_defaults(run=run_retrohunt_command)


def _since(text: str) -> str:
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_retrohunt_command(args: argparse.Namespace) -> int:
    from floodwall.enrich.intel.retrorun import IndicatorSelection

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        since = _since(args.since) if args.since else None
    except ValueError:
        err.print(
            f"[red]floodwall intel retrohunt:[/] --since {escape(args.since)!r}: not ISO 8601"
        )
        return 2
    settings = Settings.load(args.data)
    selection = IndicatorSelection(all=args.all, since=since, source=args.source)
    return retrohunt(
        settings, selection, archive=args.archive, memory_limit=args.memory_limit,
        threads=args.threads, json_out=args.format == "json",
    )  # fmt: skip


def retrohunt(
    settings: Settings,
    selection: Any,
    *,
    archive: Path | None = None,
    memory_limit: str = "1GB",
    threads: int = 2,
    json_out: bool = False,
) -> int:
    """Run, print, and answer the exit code (also called by ``intel import``)."""
    from floodwall.enrich.intel.loading import origin_context_enricher
    from floodwall.enrich.intel.retrohunt import RetroHuntError
    from floodwall.enrich.intel.retrorun import RetroHuntOptions, run_retrohunt

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        options = RetroHuntOptions(memory_limit=memory_limit, threads=threads)
        # The whole archive is read: minutes on a large one. Terminal only.
        with (
            open_store(settings.data_dir) as store,
            err.status("retro-hunt: searching the archive"),
        ):
            report = run_retrohunt(
                store,
                archive or archive_root(settings),
                selection=selection,
                options=options,
                contexts=origin_context_enricher(settings).for_addresses,
            )
    except (RetroHuntError, ValueError) as exc:
        err.print(f"[red]floodwall intel retrohunt:[/] {escape(str(exc))}")
        return 2
    if json_out:
        sys.stdout.write(json.dumps(_doc(report), ensure_ascii=False) + "\n")
        return 0
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = 180
    console.print(
        f"retro-hunt: {report.indicators:,} indicators in {report.rows:,} archived observables "
        f"({report.files:,} files): {len(report.hits):,} hits, "
        f"{report.alerts_new:,} new alerts, {report.alerts_updated:,} updated; "
        f"{len(report.suppressed):,} suppressed by warninglists; {report.seconds:.1f} s"
    )
    for hit, names in report.suppressed[:TABLE_LIMIT]:
        console.print(
            escape(
                f"  suppressed: {hit.value} ({hit.kind}) on {', '.join(names)}; "
                f"indicator {hit.indicator.type} {hit.indicator.value}"
            )
        )
    if report.hits:
        console.print(_table(report.hits))
    return 0


def _table(hits: Any) -> Table:
    table = Table(title="retrospective alerts")
    for name in ("indicator", "seen value", "sources", "first seen", "last seen", "count"):
        table.add_column(name, overflow="fold", justify="right" if name == "count" else "left")
    table.add_column("hosts", overflow="fold")
    for hit in hits[:TABLE_LIMIT]:
        hosts = ", ".join(hit.hosts[:3]) + (
            f" (+{hit.host_count - 3})" if hit.host_count > 3 else ""
        )
        table.add_row(
            escape(f"{hit.indicator.type} {hit.indicator.value}"),
            escape(f"{hit.kind} {hit.value}"), escape(", ".join(hit.indicator.sources)),
            hit.first_seen, hit.last_seen, f"{hit.count:,}", escape(hosts),
        )  # fmt: skip
    if len(hits) > TABLE_LIMIT:
        table.caption = f"first {TABLE_LIMIT} of {len(hits):,}; --format json for all"
    return table


def _doc(report: Any) -> dict[str, Any]:
    def hit_doc(hit: Any) -> dict[str, Any]:
        ind = hit.indicator
        return {
            "indicator": {"type": ind.type, "value": ind.value, "sources": list(ind.sources),
                          "confidence": ind.confidence},
            "kind": hit.kind, "value": hit.value, "first_seen": hit.first_seen,
            "last_seen": hit.last_seen, "count": hit.count, "hosts": list(hit.hosts),
            "host_count": hit.host_count, "seen_in": list(hit.sources), "refs": list(hit.refs),
            "last_ref": hit.last_ref,
        }  # fmt: skip

    return {
        "rows": report.rows, "files": report.files, "indicators": report.indicators,
        "alerts_new": report.alerts_new, "alerts_updated": report.alerts_updated,
        "seconds": round(report.seconds, 3), "hits": [hit_doc(h) for h in report.hits],
        "suppressed": [{**hit_doc(h), "warninglists": list(n)} for h, n in report.suppressed],
    }  # fmt: skip


def now_stamp() -> str:
    """Now, as the intel store writes ``updated`` (``intel import`` takes it first)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def after_import(settings: Settings, started: str) -> int:
    """``intel import``: the retro-hunt for what the import brought."""
    from floodwall.enrich.intel.retrorun import IndicatorSelection

    return retrohunt(settings, IndicatorSelection(since=started))
