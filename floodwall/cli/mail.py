"""``floodwall mail scan``: verdicts for .eml, mbox, Maildir and directories of them.

Exit codes: 0 every message accepted, 1 some message tagged or worse, 2 usage or
input error. jsonl goes to stdout, one object per message; the summary to stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from floodwall.ingest.base import InputError
from floodwall.ingest.intake import IntakeLog
from floodwall.settings import Settings
from floodwall.store.db import open_store

if TYPE_CHECKING:
    from floodwall.mail.domain_feed import DomainFeed
    from floodwall.mail.scan import ScanResult

VERDICT_STYLE = {
    "accept": "green",
    "tag": "yellow",
    "quarantine": "bold red",
    "reject": "bold white on red",
}


def register(sub: Any) -> None:
    p = sub.add_parser("mail", help="scan mail (.eml, mbox, Maildir) for malware and phishing")
    msub = p.add_subparsers(dest="mail_command", metavar="ACTION", required=True)
    scan = msub.add_parser("scan", help="give each message a verdict, score and symbols")
    scan.add_argument(
        "paths", nargs="+", metavar="PATH", help=".eml, mbox, Maildir, directory or -"
    )
    scan.add_argument("--format", choices=["table", "jsonl"], default="table")
    scan.add_argument(
        "--policy", type=Path, metavar="TOML", help="policy file (weights, thresholds)"
    )
    scan.add_argument("--data", type=Path, metavar="DIR", help="data directory")
    scan.add_argument(
        "--no-store", action="store_true",
        help="do not keep verdicts or observables in the store",
    )  # fmt: skip
    scan.add_argument(
        "--no-intel", action="store_true", help="do not match messages against threat intel"
    )
    scan.set_defaults(run=run_scan)


def run_scan(args: argparse.Namespace) -> int:
    # The scanner's libraries (oletools, yara-x, archive readers) load here, not when the
    # command line is parsed: every other subcommand would pay for them at start-up.
    from floodwall.detect.mail.clamd import DEFAULT_CANDIDATES, ClamdClient
    from floodwall.detect.mail.reference import load_psl
    from floodwall.enrich.addresses import mail_source_ip
    from floodwall.enrich.intel.inline import IntelMailDetector, message_observables
    from floodwall.enrich.intel.loading import load_run_intel, origin_context_enricher
    from floodwall.enrich.mail_auth import (
        authenticated,
        build_verifier,
        file_envelope,
        not_verified_notice,
    )
    from floodwall.hunt.observed import MISSING, ObservedArchive, now_stamp
    from floodwall.ingest.mail_source import expand_mail_inputs
    from floodwall.mail.detectors import build_detectors
    from floodwall.mail.domain_feed import DomainFeed
    from floodwall.mail.scan import scan_message
    from floodwall.normalize.mime import parse_message
    from floodwall.respond.policy import Policy, PolicyError
    from floodwall.store.campaigns import MessageKeyRecorder
    from floodwall.store.messages import MessageStore

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    settings = Settings.load(args.data)
    policy_path = args.policy or (
        settings.data_dir / "policy.toml" if (settings.data_dir / "policy.toml").exists() else None
    )
    try:
        policy = Policy.load(policy_path)
        inputs = expand_mail_inputs(list(args.paths))
        verifier = build_verifier(settings.mail_dns, load_psl)
    except (PolicyError, InputError, ValueError) as exc:
        err.print(f"[red]floodwall mail scan:[/] {escape(str(exc))}")
        return 2
    # ClamAV is optional: used when a clamd answers, and its absence is said once.
    clamd = ClamdClient.find()
    if clamd is None:
        err.print(
            escape(
                f"ClamAV: no clamd answered at {', '.join(DEFAULT_CANDIDATES)}; "
                "attachments are not scanned by ClamAV"
            )
        )
    # Sender authentication (SPF, DKIM, DMARC) needs DNS: off by default, said once.
    dns_down = bool(why := verifier.probe())
    if dns_down:
        err.print(escape(not_verified_notice(why)))
    not_decided = 0  # messages with a result left at temperror
    store = None if args.no_store else open_store(settings.data_dir)
    # Newly seen domains: the store's history of the domains the organisation's mail
    # named; without the store there is none, and the detector is left out.
    feed = DomainFeed.open(store, load_psl(), time.time()) if store is not None else None
    detectors = build_detectors(settings, clamd, feed.history if feed is not None else None)
    if feed is not None:
        _say_if_learning(err, feed, settings.new_domain_baseline_days)
    # Threat intel (issue 4): sender, links, attachment hashes and source address.
    matcher = None if args.no_intel else load_run_intel(
        settings,
        on_load=lambda n, cached: err.print(
            f"Threat intel: {n:,} indicators loaded{' (cache)' if cached else ''}"
        ),
    )  # fmt: skip
    if matcher is not None:
        detectors.append(IntelMailDetector(matcher))
    enricher = origin_context_enricher(settings)
    archive = None if args.no_store else ObservedArchive.open(settings)
    if archive is None and not args.no_store:
        err.print(f"[dim]{MISSING}: observables not archived[/]")
    encoder = msgspec.json.Encoder()
    intake = IntakeLog()
    verdicts: Counter[str] = Counter()
    symbols: Counter[str] = Counter()
    rows: list[ScanResult] = []
    messages = MessageStore(store) if store is not None else None
    campaign_keys = MessageKeyRecorder(store, settings) if store is not None else None
    progress = Progress(
        SpinnerColumn(), TextColumn("[bold]scanning[/] {task.completed:,} messages"),
        TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal,
    )  # fmt: skip
    batch: list[ScanResult] = []

    def flush() -> None:
        """Report and store a batch: origins are looked up for the whole batch at once
        (one vectorized GeoIP/ASN search instead of one per message)."""
        contexts = enricher.for_addresses([mail_source_ip(r.message) for r in batch])
        for result, context in zip(batch, contexts, strict=True):
            _report(result, context, args.format, encoder, verdicts, symbols, rows)
            if archive is not None:
                m = result.message
                ref = f"{m.origin.path}#{m.origin.record_id}"
                archive.add("mail", [(now_stamp(), "", ref, message_observables(m))])
        if messages is not None:
            messages.add(batch, contexts=contexts)  # one write transaction per batch
        if campaign_keys is not None:  # links, attachments, TLSH
            campaign_keys.add(batch)
        if feed is not None:
            feed.flush()
        batch.clear()

    try:
        with progress:
            task = progress.add_task("scan", total=None)
            for path, source in inputs:
                for raw in source.read(path, intake):
                    msg = parse_message(raw)
                    msg = authenticated(msg, raw.data, verifier, file_envelope)
                    checks = msg.sender_auth.checks if msg.sender_auth else ()
                    if any(c.result == "temperror" for c in checks):
                        not_decided += 1
                    batch.append(scan_message(msg, detectors, policy))
                    if feed is not None:  # the next message of a campaign finds them seen
                        feed.saw(msg, time.time())
                    progress.advance(task)
                    if len(batch) >= 256:
                        flush()
            flush()
    finally:
        if store is not None:
            store.close()
        if archive is not None:
            archive.__exit__(None, None, None)
    if args.format == "table":
        console = Console(highlight=False)
        if not console.is_terminal:
            console.width = 200
        _print_table(console, rows)
    total = sum(verdicts.values())
    err.print(
        f"[bold]{total:,} message(s):[/] "
        + ", ".join(f"{verdicts[a]:,} {a}" for a in ("accept", "tag", "quarantine", "reject"))
    )
    if symbols:
        err.print("symbols: " + ", ".join(f"{k} {v:,}" for k, v in symbols.most_common(12)))
    if not_decided and not dns_down:  # a resolver down from the start was said above
        err.print(
            f"Sender authentication: {not_decided:,} message(s) not fully verified "
            "(DNS temporary errors: timeouts, limits, resolver down); never counted as failures"
        )
    for prob in intake.problems[:20]:
        err.print(escape(f"  damaged: {prob.path} {prob.where}: {prob.reason}"))
    return 1 if total - verdicts["accept"] else 0


def _say_if_learning(err: Console, feed: DomainFeed, baseline_days: float) -> None:
    """Say once that newly seen domains cannot be told yet, while the history is short."""
    now = time.time()
    if not feed.history.has_baseline(baseline_days * 86_400, now):
        days = feed.history.learned_for(now) / 86_400
        err.print(
            f"[dim]Newly seen domains: learning ({days:.1f} of {baseline_days:g} days of "
            "mail history); mail.newly_seen_domain fires once the history is long enough[/]"
        )


def _report(
    result: ScanResult,
    context: Mapping[str, Any],
    fmt: str,
    encoder: msgspec.json.Encoder,
    verdicts: Counter[str],
    symbols: Counter[str],
    rows: list[ScanResult],
) -> None:
    verdicts[result.verdict.action] += 1
    symbols.update(s.id for s in result.verdict.symbols)
    if fmt == "jsonl":
        from floodwall.mail.scan import result_object  # loaded by run_scan already

        sys.stdout.write(encoder.encode(result_object(result, context)).decode() + "\n")
    elif len(rows) < 1000:  # a table is laid out whole: memory stays flat past that
        rows.append(result)


def _print_table(console: Console, rows: list[ScanResult]) -> None:
    table = Table(title="Floodwall mail scan", expand=True)
    for name in ("Message", "From", "Subject", "Verdict", "Score", "Symbols"):
        table.add_column(name, overflow="fold")
    for r in rows:
        v = r.verdict
        table.add_row(
            escape(f"{r.message.origin.path}#{r.message.origin.record_id}"),
            escape(r.message.from_addr),
            escape(r.message.subject[:80]),
            f"[{VERDICT_STYLE[v.action]}]{v.action}[/]",
            f"{v.score:g}",
            escape("\n".join(f"{s.id} ({s.score:g}): {s.reason[:90]}" for s in v.symbols)),
        )
    console.print(table)
