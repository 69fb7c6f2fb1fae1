"""``floodwall quarantine``: list, show, release, delete and expire held mail.

Every action is recorded in the store with who did it, when and why (``audit``). A
held message's body is never printed: ``show`` gives headers, verdict, symbols and
attachments (true type, sha256); only ``show --raw FILE --reason WHY`` writes the
message out, and that is recorded as a download.

Exit codes: 0 done, 1 the action failed or was refused (unknown id, already
released, next hop down), 2 usage error (malformed id, empty reason, no next hop).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from floodwall.respond.relay import RelayError, RelayResult, relay_message
from floodwall.settings import Settings
from floodwall.store.db import open_store
from floodwall.store.quarantine import (
    STATUSES,
    AuditEntry,
    QuarantinedMessage,
    QuarantineError,
    QuarantineStore,
)

EXIT_FAILED = 1
EXIT_USAGE = 2
_HEADER_LINES = 60

# Attackers write these strings: control characters could drive the terminal (ANSI
# escapes) and bidi overrides could make "exe.pdf" read as "fdp.exe" (the RTLO trick).
_UNSAFE = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))} | {
    c: f"\\u{c:04x}" for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F)
}


def safe(text: str, cap: int | None = None) -> str:
    """``text`` fit for a terminal: control and bidi characters shown as escapes."""
    cut = text if cap is None or len(text) <= cap else text[:cap] + "…"
    return escape(cut.translate(_UNSAFE))


def default_actor(environ: dict[str, str] | None = None) -> str:
    """Who is acting: the user behind sudo, else the login user."""
    env = dict(os.environ) if environ is None else environ
    for name in ("SUDO_USER", "USER"):
        if env.get(name):
            return env[name]
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def parse_hostport(value: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port``; ValueError when malformed."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"next hop must be HOST:PORT, got {value!r}")
    return host.removeprefix("[").removesuffix("]"), int(port)


def register(sub: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data", type=Path, metavar="DIR", help="data directory")
    fmt = argparse.ArgumentParser(add_help=False)
    fmt.add_argument("--format", choices=["table", "jsonl"], default="table")
    who = argparse.ArgumentParser(add_help=False)
    who.add_argument("--actor", metavar="NAME", help="who acts (default: $SUDO_USER or $USER)")
    p = sub.add_parser("quarantine", help="list, show, release or delete held mail")
    q = p.add_subparsers(dest="quarantine_command", metavar="ACTION", required=True)

    ls = q.add_parser("list", parents=[common, fmt], help="held messages, newest first")
    ls.add_argument("--status", choices=[*STATUSES, "all"], default="held")
    ls.add_argument("--limit", type=int, default=100, metavar="N")
    ls.set_defaults(run=run_list)

    show = q.add_parser("show", parents=[common, fmt, who], help="one message, body withheld")
    show.add_argument("id", metavar="ID", help="quarantine id (or a unique prefix)")
    show.add_argument("--raw", metavar="FILE", help="write the message to FILE (audited)")
    show.add_argument("--reason", metavar="WHY", help="why the message is extracted (with --raw)")
    show.set_defaults(run=run_show)

    rel = q.add_parser("release", parents=[common, who], help="deliver to the next hop, once")
    rel.add_argument("id", metavar="ID")
    rel.add_argument("--reason", required=True, metavar="WHY")
    rel.add_argument("--relay", metavar="HOST:PORT", help="next hop (default: [gateway] relay)")
    rel.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS")
    rel.add_argument(
        "--force", action="store_true", help="go past an unfinished release (it may have sent)"
    )
    rel.set_defaults(run=run_release)

    rm = q.add_parser("delete", parents=[common, who], help="remove the message, keep the record")
    rm.add_argument("id", metavar="ID")
    rm.add_argument("--reason", required=True, metavar="WHY")
    rm.set_defaults(run=run_delete)

    purge = q.add_parser("purge", parents=[common], help="expire messages past retention")
    purge.add_argument("--retention-days", type=int, metavar="N",
                       help="default: [quarantine] retention_days, 30")  # fmt: skip
    purge.set_defaults(run=run_purge)

    audit = q.add_parser("audit", parents=[common, fmt], help="who did what, when and why")
    audit.add_argument("id", nargs="?", metavar="ID")
    audit.add_argument("--limit", type=int, default=1000, metavar="N")
    audit.set_defaults(run=run_audit)


def _err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _out() -> Console:
    console = Console(highlight=False, soft_wrap=False)
    if not console.is_terminal:
        console.width = 200
    return console


def _with_store(
    args: argparse.Namespace, action: Callable[[QuarantineStore, Settings], int]
) -> int:
    """Open the store, run ``action``, and turn refusals into messages and exit codes."""
    err = _err()
    settings = Settings.load(args.data)
    try:
        with open_store(settings.data_dir) as store:
            return action(QuarantineStore(store, settings.data_dir / "quarantine"), settings)
    except ValueError as exc:  # malformed id, empty reason, bad HOST:PORT
        err.print(f"[red]floodwall quarantine:[/] {safe(str(exc))}")
        return EXIT_USAGE
    except (QuarantineError, RelayError, OSError) as exc:
        err.print(f"[red]floodwall quarantine:[/] {safe(str(exc))}")
        return EXIT_FAILED


def _jsonl(items: Sequence[object]) -> None:
    encoder = msgspec.json.Encoder()
    for item in items:
        sys.stdout.write(encoder.encode(item).decode() + "\n")


def run_list(args: argparse.Namespace) -> int:
    def action(q: QuarantineStore, _: Settings) -> int:
        status = None if args.status == "all" else args.status
        rows = q.list(status, limit=args.limit)
        if args.format == "jsonl":
            _jsonl(rows)
            return 0
        table = Table(title=f"Floodwall quarantine: {args.status}", expand=True)
        for name in ("ID", "Held", "Status", "Verdict", "Score", "Envelope", "From", "Subject",
                     "Attachments"):  # fmt: skip
            table.add_column(name, overflow="fold")
        for m in rows:
            table.add_row(
                m.id, m.held, m.status, m.verdict, f"{m.score:g}",
                safe(f"{m.mail_from or '<>'} → {', '.join(m.rcpt_to)}", 200),
                safe(m.from_addr, 80), safe(m.subject, 80),
                safe(", ".join(a.name or a.path for a in m.attachments if a.depth == 0), 120),
            )  # fmt: skip
        _out().print(table)
        _err().print(f"{len(rows):,} message(s)")
        return 0

    return _with_store(args, action)


def run_show(args: argparse.Namespace) -> int:
    if (args.raw is None) != (args.reason is None):
        _err().print("[red]floodwall quarantine show:[/] --raw FILE and --reason WHY go together")
        return EXIT_USAGE
    actor = args.actor or default_actor()

    def action(q: QuarantineStore, _: Settings) -> int:
        msg = q.show(q.resolve(args.id), actor=actor)
        if args.raw is not None:
            size = _extract(q, msg.id, args.raw, actor=actor, reason=args.reason)
            _err().print(f"wrote {size:,} bytes of {msg.id} to {safe(args.raw)}")
            return 0
        if args.format == "jsonl":
            _jsonl([msg])
        else:
            _print_message(_out(), msg)
        return 0

    return _with_store(args, action)


def _extract(q: QuarantineStore, qid: str, target: str, *, actor: str, reason: str) -> int:
    """Write the message to a new file (0600), or to a pipe for ``-``; never a terminal.

    The target is opened first, so a download is recorded only when it can be written.
    """
    if target == "-":
        if sys.stdout.isatty():
            raise ValueError("refusing to write a held message to a terminal; name a file")
        data = q.raw(qid, actor=actor, reason=reason)
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return len(data)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ValueError(f"{target} exists; --raw writes only a new file") from None
    try:
        with os.fdopen(fd, "wb") as out:
            data = q.raw(qid, actor=actor, reason=reason)
            out.write(data)
    except BaseException:
        Path(target).unlink(missing_ok=True)
        raise
    return len(data)


def _print_message(console: Console, m: QuarantinedMessage) -> None:
    facts = Table(title=f"Quarantined message {m.id}", show_header=False, expand=True)
    facts.add_column("field", style="bold", no_wrap=True)
    facts.add_column("value", overflow="fold")
    for name, value in (
        ("Status", f"{m.status} (since {m.status_changed})"),
        ("Held", f"{m.held} by {m.source}"),
        ("Envelope from", m.mail_from or "<>"),
        ("Envelope to", ", ".join(m.rcpt_to)),
        ("From", m.from_addr), ("Subject", m.subject), ("Message-ID", m.message_id),
        ("Verdict", f"{m.verdict}, score {m.score:g}"),
        ("Size", f"{m.size:,} bytes"), ("SHA-256", m.sha256),
        ("Unscannable", "; ".join(m.unscannable) or "-"),
    ):  # fmt: skip
        facts.add_row(name, safe(value, 2000))
    if m.release_claim:
        facts.add_row("Release", safe(f"unfinished release by {m.release_claim}"))
    console.print(facts)
    headers = Table(title="Headers", show_header=False, expand=True)
    headers.add_column("name", style="bold", no_wrap=True)
    headers.add_column("value", overflow="fold")
    for name, value in m.headers[:_HEADER_LINES]:
        headers.add_row(safe(name, 80), safe(value, 1000))
    if len(m.headers) > _HEADER_LINES:
        headers.add_row("…", f"{len(m.headers) - _HEADER_LINES} more header fields")
    console.print(headers)
    symbols = Table(title="Symbols", expand=True)
    for col in ("Symbol", "Score", "Reason"):
        symbols.add_column(col, overflow="fold")
    for s in m.symbols:
        symbols.add_row(safe(s.id), f"{s.score:g}", safe(s.reason, 500))
    console.print(symbols)
    files = Table(title="Attachments", expand=True)
    for col in ("Path", "True type", "Declared", "Size", "SHA-256", "Findings"):
        files.add_column(col, overflow="fold")
    for a in m.attachments:
        files.add_row(
            safe(a.path, 300), safe(a.true_type) + (" (encrypted)" if a.encrypted else ""),
            safe(a.declared_type), f"{a.size:,}", a.sha256, safe(", ".join(a.findings)),
        )  # fmt: skip
    console.print(files)
    console.print(
        f"[dim]Body withheld. To extract it: floodwall quarantine show {m.id} "
        "--raw FILE --reason WHY (recorded).[/]"
    )


def run_release(args: argparse.Namespace) -> int:
    actor = args.actor or default_actor()
    err = _err()

    def action(q: QuarantineStore, settings: Settings) -> int:
        target = args.relay or settings.gateway_relay
        if not target:
            raise ValueError("no next hop: give --relay HOST:PORT or set [gateway] relay")
        host, port = parse_hostport(target)

        def send(mail_from: str, rcpt_to: Sequence[str], data: bytes) -> RelayResult:
            return relay_message(host, port, mail_from, rcpt_to, data, timeout=args.timeout)

        qid = q.resolve(args.id)
        try:
            result = q.release(qid, actor=actor, reason=args.reason, send=send, force=args.force)
        except RelayError as exc:
            err.print(
                f"[red]release of {qid} failed:[/] {safe(str(exc))}; it stays held "
                "and the failure is recorded"
            )
            return EXIT_FAILED
        assert isinstance(result, RelayResult)
        err.print(f"released {qid} to {safe(target)}: {result.code} {safe(result.text)}")
        for r in result.refused:
            err.print(f"[yellow]  refused by the next hop:[/] {safe(r.recipient)} {r.code} "
                      f"{safe(r.text)}")  # fmt: skip
        return 0

    return _with_store(args, action)


def run_delete(args: argparse.Namespace) -> int:
    actor = args.actor or default_actor()

    def action(q: QuarantineStore, _: Settings) -> int:
        qid = q.resolve(args.id)
        q.delete(qid, actor=actor, reason=args.reason)
        _err().print(f"deleted {qid}; its record and audit trail stay")
        return 0

    return _with_store(args, action)


def run_purge(args: argparse.Namespace) -> int:
    def action(q: QuarantineStore, settings: Settings) -> int:
        days = (
            settings.quarantine_retention_days
            if args.retention_days is None
            else args.retention_days
        )
        n = q.purge(days)
        _err().print(f"{n:,} message(s) past {days} days of retention expired")
        return 0

    return _with_store(args, action)


def run_audit(args: argparse.Namespace) -> int:
    def action(q: QuarantineStore, _: Settings) -> int:
        entries = q.audit(q.resolve(args.id) if args.id else None, limit=args.limit)
        if args.format == "jsonl":
            _jsonl(entries)
            return 0
        _out().print(_audit_table(entries))
        return 0

    return _with_store(args, action)


def _audit_table(entries: Sequence[AuditEntry]) -> Table:
    table = Table(title="Floodwall quarantine audit", expand=True)
    for col in ("At", "Message", "Actor", "Action", "Reason", "Detail"):
        table.add_column(col, overflow="fold")
    for e in entries:
        table.add_row(
            e.at, e.quarantine_id, safe(e.actor), e.action, safe(e.reason, 500),
            safe(e.detail, 500),
        )  # fmt: skip
    return table
