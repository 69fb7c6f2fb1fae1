"""Hunt output: jsonl (a fixed contract), json, csv, and a rich table with a summary.

The jsonl object is read by outside checks, so its keys are fixed: ``rule`` {id,
title, level, author, tags, link, license}, ``source`` {path, record_id, and with
enrichment ip, geo {country_iso_code, country_name}, as {number, organization {name}}},
``origin`` {class, reason}, ``timestamp``, ``host``, ``attack`` and the matched event's
fields under ``event``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
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
    "path", "record_id", "source_ip", "country", "asn", "origin", "evidence",
]  # fmt: skip


_PLAIN = frozenset([str, int, float, bool, type(None)])


def _safe(value: Any) -> Any:
    """Event values as JSON can carry them (bytes and odd types become text)."""
    plain = _PLAIN
    if type(value) is dict:
        # The common event: string keys and plain values, copied without a call each.
        return {
            (k if type(k) is str else str(k)): (v if type(v) in plain else _safe(v))
            for k, v in value.items()
        }
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _safe(v) for k, v in value.items()}
    return str(value)


def finding_object(f: Finding, context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The jsonl contract object for one finding; ``context`` (``enrich/context.py``)
    adds ``source.ip``, ``source.geo``, ``source.as`` and ``origin``."""
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
    if context:
        obj["source"].update(context.get("source") or {})
        obj["origin"] = dict(context.get("origin") or {})
    return obj


Contexts = Sequence[Mapping[str, Any]] | None


def _pairs(
    findings: Iterable[Finding], contexts: Contexts
) -> Iterable[tuple[Finding, Mapping[str, Any] | None]]:
    if contexts is None:
        return ((f, None) for f in findings)
    return zip(findings, contexts, strict=True)


class Writer(Protocol):
    """Receives findings as the hunt produces them, then closes."""

    def write(self, findings: Iterable[Finding], contexts: Contexts = None) -> None: ...

    def close(self) -> None: ...


class JsonlWriter:
    """One JSON object per line, streamed: memory stays flat however many matches."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, findings: Iterable[Finding], contexts: Contexts = None) -> None:
        for f, ctx in _pairs(findings, contexts):
            self.out.write(_ENCODER.encode(finding_object(f, ctx)).decode())
            self.out.write("\n")

    def close(self) -> None:
        self.out.flush()


class JsonWriter:
    """One JSON array, streamed element by element."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.first = True
        self.out.write("[")

    def write(self, findings: Iterable[Finding], contexts: Contexts = None) -> None:
        for f, ctx in _pairs(findings, contexts):
            self.out.write("\n" if self.first else ",\n")
            self.first = False
            self.out.write(_ENCODER.encode(finding_object(f, ctx)).decode())

    def close(self) -> None:
        self.out.write("\n]\n")
        self.out.flush()


class CsvWriter:
    """Flat CSV with the key fields; evidence as compact JSON in one column."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.writer = csv.writer(out)
        self.writer.writerow(CSV_COLUMNS)

    def write(self, findings: Iterable[Finding], contexts: Contexts = None) -> None:
        for f, ctx in _pairs(findings, contexts):
            o = finding_object(f, ctx)
            src, origin = o["source"], o.get("origin") or {}
            self.writer.writerow([
                o["timestamp"], o["host"], o["rule"]["level"], o["rule"]["id"], f.title,
                " ".join(f.attack), o["rule"]["author"], o["rule"]["link"],
                src["path"], src["record_id"], src.get("ip") or "",
                (src.get("geo") or {}).get("country_iso_code", ""),
                (src.get("as") or {}).get("number", ""), origin.get("class", ""),
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


def origin_line(ctx: Mapping[str, Any]) -> str:
    """``203.0.113.9 RU abroad``: the remote address, its country and origin class."""
    src = ctx.get("source") or {}
    if not src.get("ip"):
        return ""
    country = (src.get("geo") or {}).get("country_iso_code", "")
    return " ".join(x for x in (src["ip"], country, (ctx.get("origin") or {}).get("class")) if x)


class TableWriter:
    """Rich table of matches (time, host, level, rule, ATT&CK, origin and key fields).

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

    def write(self, findings: Iterable[Finding], contexts: Contexts = None) -> None:
        for f, ctx in _pairs(findings, contexts):
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
                # The origin rides in the key-fields cell: one more column would fold
                # the rule link on an 80-column terminal.
                escape("\n".join(x for x in (origin_line(ctx) if ctx else "", key_fields(f)) if x)),
            )

    def close(self) -> None:
        if self.rows:
            self.console.print(self.table)
        if self.rows > self.limit:
            self.console.print(
                f"[yellow]{self.rows - self.limit:,} more match(es) not shown;[/] "
                "--format jsonl or csv gives them all"
            )
