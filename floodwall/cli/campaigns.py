"""``floodwall campaigns``: alerts and messages grouped by shared infrastructure.

``floodwall campaigns [--since DATE] [--format table|json]`` lists them,
``floodwall campaigns show ID`` shows one (keys, timeline by day, targets, origins with
their share, techniques), ``floodwall campaigns build`` clusters the store's last
window again (``hunt`` and ``mail scan`` leave that to this command).

Exit codes: 0 done, 1 no such campaign, 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from floodwall.settings import Settings
from floodwall.store.campaigns import DEFAULT_WINDOW_DAYS, CampaignStore, StoredCampaign
from floodwall.store.db import open_store

EXIT_MISSING = 1


def _common(parser: argparse.ArgumentParser, *, sub: bool) -> None:
    # On the actions, SUPPRESS keeps an option given before the action word
    # (``campaigns --format json show ID``) from being reset by the action's default.
    default: dict[str, Any] = {"default": argparse.SUPPRESS} if sub else {}
    parser.add_argument("--data", type=Path, metavar="DIR", help="data directory", **default)
    parser.add_argument(
        "--format", choices=["table", "json"], help="output (default table)", **default
    )


def register(sub: Any) -> None:
    p = sub.add_parser("campaigns", help="campaigns: alerts and mail sharing infrastructure")
    _common(p, sub=False)
    p.add_argument("--since", metavar="DATE", help="last seen on or after DATE (YYYY-MM-DD)")
    p.set_defaults(run=run_list, format=None)
    actions = p.add_subparsers(dest="campaigns_command", metavar="ACTION")
    show = actions.add_parser("show", help="one campaign: keys, timeline, targets, origins")
    show.add_argument("campaign_id", metavar="ID")
    _common(show, sub=True)
    show.set_defaults(run=run_show)
    build = actions.add_parser("build", help="cluster the store's alerts and messages again")
    build.add_argument(
        "--since", metavar="DATE", help="cluster items from DATE on (default: the last window)"
    )
    build.add_argument(
        "--window-days", type=int, default=DEFAULT_WINDOW_DAYS, metavar="N",
        help=f"window before the newest item (default {DEFAULT_WINDOW_DAYS})",
    )  # fmt: skip
    _common(build, sub=True)
    build.set_defaults(run=run_build)


def run_list(args: argparse.Namespace) -> int:
    with open_store(Settings.load(args.data).data_dir) as store:
        rows = CampaignStore(store).list_campaigns(since=args.since)
    if args.format == "json":
        print(json.dumps([c.as_dict() for c in rows], indent=2))
        return 0
    table = Table(title=f"Floodwall campaigns ({len(rows)})", expand=True)
    for name in ("Campaign", "First seen", "Last seen", "Alerts", "Mail", "Targets",
                 "Origin", "Confidence", "Keys"):  # fmt: skip
        table.add_column(name, overflow="fold")
    for c in rows:
        table.add_row(
            c.id, c.first_seen, c.last_seen, str(c.alert_count), str(c.message_count),
            str(c.target_count), escape(_origins(c, 2)), c.origin_confidence,
            escape(", ".join(k["key"] for k in c.shared_keys[:3])),
        )  # fmt: skip
    _console().print(table)
    return 0


def run_show(args: argparse.Namespace) -> int:
    with open_store(Settings.load(args.data).data_dir) as store:
        campaigns = CampaignStore(store)
        c = campaigns.get(args.campaign_id)
        members = campaigns.members(c.id) if c is not None else []
    if c is None:
        print(f"floodwall campaigns: no campaign {args.campaign_id!r}", file=sys.stderr)
        return EXIT_MISSING
    if getattr(args, "format", None) == "json":
        print(json.dumps({**c.as_dict(), "members": members}, indent=2))
        return 0
    out = _console()
    out.print(f"[bold]Campaign {c.id}[/]  {c.first_seen} .. {c.last_seen}")
    out.print(f"{c.alert_count} alert(s), {c.message_count} message(s), {c.target_count} target(s)")
    out.print(f"origin confidence: [bold]{c.origin_confidence}[/] ({escape(c.confidence_reason)})")
    out.print("origins: " + escape(_origins(c, 10)))
    out.print("techniques: " + escape(", ".join(
        f"{t['id']} ({t['members']})" for t in c.techniques) or "-"))  # fmt: skip
    out.print("shared keys:")
    for k in c.shared_keys[:30]:
        out.print(f"  {escape(k['key'])}  ({k['members']} members)")
    out.print("timeline:")
    for d in c.timeline:
        out.print(f"  {d['day']}  {d['members']}")
    hosts, rcpts = c.targets.get("hosts", []), c.targets.get("recipients", [])
    out.print("targets: hosts " + escape(", ".join(hosts[:20]) or "-"))
    out.print("         recipients " + escape(", ".join(rcpts[:20]) or "-"))
    table = Table(title="earliest members", expand=True)
    for name in ("Kind", "Time", "What", "Who", "Source IP"):
        table.add_column(name, overflow="fold")
    for m in members:
        table.add_row(m["kind"], m["time"] or "", escape(str(m["title"] or "")[:80]),
                      escape(str(m["who"] or "")), str(m["source_ip"] or ""))  # fmt: skip
    out.print(table)
    return 0


def run_build(args: argparse.Namespace) -> int:
    from floodwall.enrich.campaign_keys import load_campaign_keyer

    settings = Settings.load(args.data)
    err = Console(stderr=True)
    # A million alerts take a minute or more: say what is going on (terminal only).
    with (
        open_store(settings.data_dir) as store,
        err.status("grouping alerts and mail into campaigns"),
    ):
        result = CampaignStore(store, load_campaign_keyer(settings)).build(
            since=args.since, window_days=args.window_days
        )
    summary = {
        "items": result.items,
        "keys": result.keys,
        "campaigns": len(result.campaigns),
        "fuzzy_pairs": result.fuzzy_pairs,
        "too_common": [{"key": k, "members": n} for k, n in result.too_common[:50]],
    }
    if getattr(args, "format", None) == "json":
        print(json.dumps(summary, indent=2))
        return 0
    print(
        f"{result.items:,} item(s), {result.keys:,} key(s): {len(result.campaigns):,} "
        f"campaign(s), {result.fuzzy_pairs:,} near-duplicate attachment pair(s)"
    )
    for k, n in result.too_common[:10]:
        print(f"  too common to join: {k} ({n:,} members)")
    return 0


def _origins(c: StoredCampaign, top: int) -> str:
    return ", ".join(f"{o['origin']} {o['share']:.0%}" for o in c.origins[:top]) or "-"


def _console() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = 200
    return console
