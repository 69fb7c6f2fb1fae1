"""Hunt output: jsonl (a fixed contract), json, csv, and a rich table with a summary.

The jsonl object is read by outside checks, so its keys are fixed: ``rule`` {id,
title, level, author, tags, link, license}, ``source`` {path, record_id},
``timestamp``, ``host``, ``attack`` and the matched event's fields under ``event``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, Protocol, TextIO

import msgspec
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from floodwall.records import Finding, Severity

_ENCODER = msgspec.json.Encoder()
LEVEL_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFORMATIONAL: "dim",
}
CSV_COLUMNS = [
    "timestamp", "host", "level", "rule_id", "rule_title", "attack", "author", "link",
    "path", "record_id", "evidence",
]  # fmt: skip


def _safe(value: Any) -> Any:
    """Event values as JSON can carry them (bytes and odd types become text)."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _safe(v) for k, v in value.items()}
    return str(value)


def finding_object(f: Finding) -> dict[str, Any]:
    """The jsonl contract object for one finding."""
    rule = f.rule
    event = f.event
    obj: dict[str, Any] = {
        "rule": {
            "id": rule.id if rule else f.id,
            "title": f.title,
            "level": f.severity.label,
            "author": rule.author if rule else "",
            "tags": list(rule.tags) if rule else [],
            "link": rule.link if rule else "",
            "license": rule.license if rule else "",
        },
        "finding_id": f.id,
        "source": {
            "path": event.origin.path if event else None,
            "record_id": event.origin.record_id if event else None,
        },
        "timestamp": event.timestamp if event else f.evidence.get("first"),
        "host": event.host_name if event else None,
        "attack": list(f.attack),
        "evidence": _safe(dict(f.evidence)),
        "event": _safe(dict(event.fields)) if event else None,
    }
    return obj


class Writer(Protocol):
    """Receives findings as the hunt produces them, then closes."""

    def write(self, findings: Iterable[Finding]) -> None: ...

    def close(self) -> None: ...


class JsonlWriter:
    """One JSON object per line, streamed: memory stays flat however many matches."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, findings: Iterable[Finding]) -> None:
        for f in findings:
            self.out.write(_ENCODER.encode(finding_object(f)).decode())
            self.out.write("\n")

    def close(self) -> None:
        self.out.flush()


class JsonWriter:
    """One JSON array, streamed element by element."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.first = True
        self.out.write("[")

    def write(self, findings: Iterable[Finding]) -> None:
        for f in findings:
            self.out.write("\n" if self.first else ",\n")
            self.first = False
            self.out.write(_ENCODER.encode(finding_object(f)).decode())

    def close(self) -> None:
        self.out.write("\n]\n")
        self.out.flush()


class CsvWriter:
    """Flat CSV with the key fields; evidence as compact JSON in one column."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.writer = csv.writer(out)
        self.writer.writerow(CSV_COLUMNS)

    def write(self, findings: Iterable[Finding]) -> None:
        for f in findings:
            o = finding_object(f)
            self.writer.writerow([
                o["timestamp"], o["host"], o["rule"]["level"], o["rule"]["id"], f.title,
                " ".join(f.attack), o["rule"]["author"], o["rule"]["link"],
                o["source"]["path"], o["source"]["record_id"],
                _ENCODER.encode(o["evidence"]).decode(),
            ])  # fmt: skip

    def close(self) -> None:
        self.out.flush()


def key_fields(f: Finding, width: int = 90) -> str:
    """The evidence in one short line: what made the rule fire."""
    parts = []
    for k, v in f.evidence.items():
        text = str(v).replace("\n", " ").replace("\r", " ")
        parts.append(f"{k}={text[:60]}")
    line = " ¦ ".join(parts)
    return line if len(line) <= width else line[: width - 1] + "…"


class TableWriter:
    """Rich table of matches (time, host, level, rule, ATT&CK, key fields).

    A table is laid out once all its rows are known, so it holds at most ``limit`` rows:
    memory stays flat however many matches a hunt finds; the summary counts them all.
    """

    def __init__(self, console: Console, limit: int = 1000) -> None:
        self.console = console
        self.limit = limit
        self.table = Table(title="Floodwall hunt: matches", show_lines=False, expand=True)
        for name, kw in (
            ("Time", {"no_wrap": True}),
            ("Host", {"no_wrap": True, "max_width": 18}),
            ("Level", {"no_wrap": True}),
            ("Rule", {"ratio": 2, "overflow": "fold"}),
            ("ATT&CK", {"max_width": 16}),
            ("Key fields", {"ratio": 3}),
        ):
            self.table.add_column(name, **kw)
        self.rows = 0

    def write(self, findings: Iterable[Finding]) -> None:
        for f in findings:
            self.rows += 1
            if self.rows > self.limit:
                continue
            e = f.event
            self.table.add_row(
                (e.timestamp or "")[:19] if e else str(f.evidence.get("first", ""))[:19],
                escape(e.host_name or "") if e else "",
                f"[{LEVEL_STYLE[f.severity]}]{f.severity.label}[/]",
                # DRL 1.1: every match shown names the rule's author and links to it.
                f"{escape(f.title)}\n[dim]{escape(f.rule.author)}\n{escape(f.rule.link)}[/]"
                if f.rule
                else escape(f.title),
                " ".join(f.attack),
                escape(key_fields(f)),
            )

    def close(self) -> None:
        if self.rows:
            self.console.print(self.table)
        if self.rows > self.limit:
            self.console.print(
                f"[yellow]{self.rows - self.limit:,} more match(es) not shown;[/] "
                "--format jsonl or csv gives them all"
            )
