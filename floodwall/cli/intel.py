"""``floodwall intel``: import threat intel feeds and manage the indicators.

- ``import PATH ...``: MISP events or feed directories, STIX 2.1 bundles, LOKI/IPsum/plain
  lists (detected from the content). Prints per path what was imported, updated,
  suppressed by a warninglist and skipped, with the reasons.
- ``list``, ``stats``, ``remove``.
- ``lookup VALUE ...``: everything known about an IP, domain, URL, address or hash: geo,
  ASN, origin class and reason, indicators and their sources, warninglists.

Exit codes: 0 done; 1 ``remove`` found nothing to remove; 2 usage error, or a path that
could not be read at all (the other paths are still imported).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from floodwall.detect.mail.domains import unicode_host
from floodwall.enrich.intel.feeds import FeedOptions
from floodwall.enrich.intel.importer import PathReport, import_path
from floodwall.enrich.intel.indicator import INDICATOR_TYPES
from floodwall.enrich.intel.lookup import record_object
from floodwall.enrich.intel.suffixes import PublicSuffixes
from floodwall.enrich.intel.warninglists import WarninglistError, WarninglistIndex
from floodwall.settings import Settings, bundled_data
from floodwall.store.db import open_store
from floodwall.store.intel import IntelStore

TABLE_LIMIT = 200


def register(sub: Any) -> None:
    p = sub.add_parser("intel", help="import threat intel feeds; list, count, remove indicators")
    isub = p.add_subparsers(dest="intel_command", metavar="ACTION", required=True)

    imp = isub.add_parser("import", help="import MISP, STIX 2.1 or list feeds")
    imp.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="feed file or folder")
    imp.add_argument("--source", metavar="NAME", help="source name (default: file/folder name)")
    imp.add_argument(
        "--confidence", type=int, default=70, metavar="N",
        help="confidence 0-100 for entries whose feed gives none (default 70)",
    )  # fmt: skip
    imp.add_argument(
        "--ids-only", action="store_true", help="MISP: skip attributes with to_ids false"
    )
    imp.add_argument(
        "--valid-days", type=float, metavar="D",
        help="expire entries without their own expiry after D days",
    )  # fmt: skip
    imp.add_argument(
        "--no-warninglists", action="store_true", help="do not check the MISP warninglists"
    )
    imp.add_argument(
        "--no-retrohunt", action="store_true",
        help="do not search the observable archive for the new indicators",
    )  # fmt: skip
    imp.add_argument("--data", type=Path, metavar="DIR", help="data directory")
    imp.set_defaults(run=run_import)

    ls = isub.add_parser("list", help="list indicators and their sources")
    ls.add_argument("--type", choices=INDICATOR_TYPES)
    ls.add_argument("--source", metavar="NAME")
    ls.add_argument(
        "--suppressed", action="store_true", help="only values a warninglist suppresses"
    )
    ls.add_argument("--limit", type=int, metavar="N", help=f"at most N (table: {TABLE_LIMIT})")
    ls.add_argument("--format", choices=["table", "jsonl"], default="table")
    ls.add_argument("--data", type=Path, metavar="DIR", help="data directory")
    ls.set_defaults(run=run_list)

    st = isub.add_parser("stats", help="indicators by type and source")
    st.add_argument("--format", choices=["table", "json"], default="table")
    st.add_argument("--data", type=Path, metavar="DIR", help="data directory")
    st.set_defaults(run=run_stats)

    rm = isub.add_parser("remove", help="remove a source's indicators, or values")
    rm.add_argument("values", nargs="*", metavar="VALUE", help="indicator values to remove")
    rm.add_argument("--source", metavar="NAME", help="remove everything this source gave")
    rm.add_argument("--data", type=Path, metavar="DIR", help="data directory")
    rm.set_defaults(run=run_remove)

    lk = isub.add_parser("lookup", help="everything known about IPs, domains, URLs or hashes")
    lk.add_argument("values", nargs="+", metavar="VALUE", help="IP, domain, URL, email or hash")
    lk.add_argument(
        "--format", choices=["table", "json"], default="table",
        help="json: one object per value and line (a contract: see enrich/intel/lookup.py)",
    )  # fmt: skip
    lk.add_argument("--data", type=Path, metavar="DIR", help="data directory")
    lk.set_defaults(run=run_lookup)

    from floodwall.cli import retrohunt as retrohunt_cli  # the archive search: its own module

    retrohunt_cli.register(isub)


def _suffixes() -> PublicSuffixes:
    path = bundled_data() / "reference" / "public_suffix_list.dat"
    return PublicSuffixes.from_lines(path.read_text("utf-8").splitlines())


def run_import(args: argparse.Namespace) -> int:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if not 0 <= args.confidence <= 100:
        err.print("[red]floodwall intel import:[/] --confidence must be 0-100")
        return 2
    settings = Settings.load(args.data)
    suffixes = _suffixes()
    warninglists = None
    if not args.no_warninglists:
        try:
            warninglists = WarninglistIndex.load(suffixes=suffixes)
        except WarninglistError as exc:
            err.print(f"[red]floodwall intel import:[/] {escape(str(exc))}")
            return 2
    options = FeedOptions(args.confidence, args.ids_only, suffixes.is_known_tld)
    valid_for = timedelta(days=args.valid_days) if args.valid_days else None
    reports: list[PathReport] = []
    from floodwall.cli import retrohunt as retrohunt_cli

    started = retrohunt_cli.now_stamp()
    with open_store(settings.data_dir) as store:
        intel = IntelStore(store)
        for path in args.paths:
            report = import_path(
                intel, path, source=args.source, options=options,
                warninglists=warninglists, valid_for=valid_for,
            )  # fmt: skip
            reports.append(report)
            _print_report(err, report)
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = 160
    _print_summary(console, reports)
    code = 2 if any(r.error for r in reports) else 0
    if not args.no_retrohunt and not all(r.error for r in reports):
        code = max(code, retrohunt_cli.after_import(settings, started))
    return code


def _print_report(err: Console, report: PathReport) -> None:
    if report.error:
        err.print(f"[red]{escape(str(report.path))}: not imported:[/] {escape(report.error)}")
        return
    for reason, count in report.skipped.by_reason.most_common(10):
        example = report.skipped.examples.get(reason)
        shown = ""
        if example is not None:
            value = f" {example.shown!r}" if example.value else ""
            shown = f" (first: {example.where}{value})"
        err.print(escape(f"  {report.source}: skipped {count:,}: {reason}{shown}"))
    others = len(report.skipped.by_reason) - 10
    if others > 0:
        err.print(f"  {escape(report.source)}: ... and {others:,} other reasons")


def _print_summary(console: Console, reports: list[PathReport]) -> None:
    table = Table(title="floodwall intel import")
    for name in ("path", "source", "format", "read", "new values", "imported", "updated"):
        left = name in ("path", "source")
        table.add_column(name, justify="left" if left else "right", overflow="fold")
    table.add_column("suppressed", justify="right")
    table.add_column("skipped", justify="right")
    for r in reports:
        c = r.counts
        table.add_row(
            escape(str(r.path)), escape(r.source), r.format if not r.error else "error",
            f"{c.received:,}", f"{c.new_values:,}", f"{c.imported:,}", f"{c.updated:,}",
            f"{c.suppressed:,}", f"{r.skipped_total:,}",
        )  # fmt: skip
    console.print(table)


def run_list(args: argparse.Namespace) -> int:
    settings = Settings.load(args.data)
    limit = args.limit if args.limit is not None or args.format == "jsonl" else TABLE_LIMIT
    with open_store(settings.data_dir) as store:
        records = IntelStore(store).list_indicators(
            type=args.type, source=args.source, suppressed=True if args.suppressed else None,
            limit=None if limit is None else limit + 1,
        )  # fmt: skip
        if args.format == "jsonl":
            for n, rec in enumerate(records):
                if limit is not None and n >= limit:
                    break
                sys.stdout.write(json.dumps(record_object(rec), ensure_ascii=False) + "\n")
            return 0
        console = Console(highlight=False)
        if not console.is_terminal:
            console.width = 200
        table = Table(title="floodwall intel list")
        for name in ("type", "value", "sources", "conf", "first seen", "last seen", "expires"):
            table.add_column(name, overflow="fold")
        table.add_column("suppressed by", overflow="fold")
        more = False
        for shown, rec in enumerate(records):
            if shown >= limit:
                more = True
                break
            value = rec.value
            if rec.type == "domain" and "xn--" in value:
                value = f"{value} ({unicode_host(value)})"
            firsts = [s.first_seen for s in rec.sources if s.first_seen]
            lasts = [s.last_seen for s in rec.sources if s.last_seen]
            expiry = [s.valid_until or "never" for s in rec.sources]
            table.add_row(
                rec.type, escape(value), escape(", ".join(s.source for s in rec.sources)),
                str(rec.confidence), min(firsts, default=""), max(lasts, default=""),
                max(expiry, default=""), escape(", ".join(rec.suppressed_by)),
            )  # fmt: skip
        console.print(table)
        if more:
            console.print(f"(first {limit:,} shown; --limit N or --format jsonl for more)")
    return 0


def run_stats(args: argparse.Namespace) -> int:
    settings = Settings.load(args.data)
    with open_store(settings.data_dir) as store:
        stats = IntelStore(store).stats()
    if args.format == "json":
        doc = {
            "indicators": stats.indicators, "source_links": stats.links,
            "suppressed": stats.suppressed, "expired_links": stats.expired,
            "by_type": stats.by_type, "by_source": stats.by_source,
        }  # fmt: skip
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return 0
    console = Console(highlight=False)
    console.print(
        f"{stats.indicators:,} indicators from {len(stats.by_source):,} sources "
        f"({stats.links:,} source entries); {stats.suppressed:,} suppressed by warninglists; "
        f"{stats.expired:,} source entries expired"
    )
    types = [t for t in INDICATOR_TYPES if t in stats.by_type]
    table = Table(title="indicators by source and type")
    table.add_column("source")
    for t in types:
        table.add_column(t, justify="right")
    for source, counts in sorted(stats.by_source.items()):
        table.add_row(escape(source), *(f"{counts.get(t, 0):,}" for t in types))
    table.add_row("[bold]distinct[/]", *(f"{stats.by_type[t]:,}" for t in types))
    console.print(table)
    return 0


def run_remove(args: argparse.Namespace) -> int:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if bool(args.source) == bool(args.values):
        err.print("[red]floodwall intel remove:[/] give either --source NAME or values")
        return 2
    settings = Settings.load(args.data)
    with open_store(settings.data_dir) as store:
        intel = IntelStore(store)
        if args.source:
            removed = intel.remove_source(args.source)
            what = f"{removed:,} indicator entries of source {args.source!r}"
        else:
            removed = intel.remove_values(args.values)
            what = f"{removed:,} of {len(args.values):,} values"
    Console(highlight=False).print(escape(f"removed {what}"))
    return 0 if removed else 1


def run_lookup(args: argparse.Namespace) -> int:
    """Exit 0 when every value was read, 2 when one was not an IP, name, URL or hash."""
    from floodwall.enrich.intel.loading import bundled_suffixes, load_open_proxies
    from floodwall.enrich.intel.lookup import lookup_values
    from floodwall.enrich.origin import load_origin_enricher

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    settings = Settings.load(args.data)
    origin = None
    origin_error = ""
    try:
        origin = load_origin_enricher(settings, open_proxies=load_open_proxies(settings))
    except (OSError, ValueError) as exc:
        origin_error = f"origin data not loaded: {exc}"
        err.print(f"[yellow]floodwall intel lookup:[/] {escape(origin_error)}")
    try:
        warninglists = WarninglistIndex.load(suffixes=bundled_suffixes())
    except WarninglistError as exc:
        warninglists = None
        err.print(f"[yellow]floodwall intel lookup:[/] warninglists: {escape(str(exc))}")
    with open_store(settings.data_dir) as store:
        answers = lookup_values(
            args.values, intel=IntelStore(store), origin=origin,
            warninglists=warninglists, origin_error=origin_error,
        )  # fmt: skip
    if args.format == "json":
        for answer in answers:
            sys.stdout.write(json.dumps(answer, ensure_ascii=False) + "\n")
    else:
        console = Console(highlight=False)
        if not console.is_terminal:
            console.width = 160
        for answer in answers:
            _print_lookup(console, answer)
    return 2 if any("error" in a for a in answers) else 0


def _print_lookup(console: Console, a: dict[str, Any]) -> None:
    console.print(f"[bold]{escape(a['value'])}[/]" + (f" ({a['type']})" if a["type"] else ""))
    if "error" in a:
        console.print(f"  [red]{escape(a['error'])}[/]")
        return
    if a["type"] == "ip":
        country = f"{a['country']} {a['country_name'] or ''}" if a["country"] else "unknown"
        network = f"AS{a['asn']} {a['as_org'] or ''}" if a["asn"] else "unknown"
        console.print(f"  country: {escape(country)}")
        console.print(f"  network: {escape(network)}")
        console.print(f"  origin:  {a['origin']} ({escape(a['origin_reason'] or '')})")
    lists = a["warninglists"]
    console.print(f"  warninglists: {escape(', '.join(lists)) if lists else 'none'}")
    if a["suppressing"]:
        console.print(f"  (never alerts: suppressed by {escape(', '.join(a['suppressing']))})")
    if not a["indicators"]:
        console.print("  indicators: none")
    for ind in a["indicators"]:
        sources = ", ".join(
            s["source"] + (f" ({s['comment']})" if s["comment"] else "") for s in ind["sources"]
        )
        console.print(
            f"  indicator {ind['type']} {escape(ind['value'])}: confidence {ind['confidence']}, "
            f"sources {escape(sources)}"
        )
