"""Hunts and the alerts they raise, kept in the shared store.

Every row keeps the whole Finding as JSON (``store/codec.py``) next to the columns
that the console filters and sorts on, so nothing a detector saw is lost to the
table layout and the layout can change by migration without re-running hunts.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from itertools import islice
from os import PathLike
from typing import Any

from floodwall.ingest.intake import IntakeLog
from floodwall.records import Finding, Severity
from floodwall.store.codec import finding_from_json, finding_to_json
from floodwall.store.db import Store

__all__ = ["AlertStore", "StoredAlert", "StoredHunt", "StoredIntake"]

_Item = tuple[Finding, Mapping[str, Any] | None]

_INSERT = (
    "INSERT INTO alerts (id, hunt_id, created, timestamp, host, level, severity, rule_id,"
    " rule_title, rule_author, rule_link, attack, source_path, record_id, finding,"
    " source_ip, country, asn, as_org, origin, origin_reason, enrichment)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """One stored alert: the indexed columns plus the Finding it was made from.

    ``rule_id`` is the Finding's permanent id (``sigma.<rule-id>``,
    ``mail.macro_autoexec``), which every detector sets, rule or not.
    """

    id: str
    hunt_id: str | None
    created: str
    timestamp: str | None
    host: str | None
    level: str
    severity: Severity
    rule_id: str
    rule_title: str
    rule_author: str
    rule_link: str
    attack: tuple[str, ...]
    source_path: str | None
    record_id: int | None
    status: str
    finding: Finding


@dataclass(frozen=True, slots=True)
class StoredIntake:
    """What one source path delivered to a hunt, and the problems kept in full."""

    path: str
    received: int
    damaged: int
    problems: tuple[tuple[str, str], ...]  # (where, reason)


@dataclass(frozen=True, slots=True)
class StoredHunt:
    """One hunt run: its command, totals and per-path intake."""

    id: str
    started: str
    finished: str | None
    argv: tuple[str, ...]
    paths: tuple[str, ...]
    rules_loaded: int | None
    rules_failed: int | None
    events: int | None
    matches: int | None
    status: str
    intake: tuple[StoredIntake, ...]


# Selected in the dataclasses' field order, so rows map onto them by name.
_ALERT_COLUMNS = tuple(f.name for f in fields(StoredAlert))
_HUNT_COLUMNS = tuple(f.name for f in fields(StoredHunt) if f.name != "intake")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _alert_ids(n: int) -> list[str]:
    """``n`` unique ids of 32 hex digits, ordered by time like UUIDv7.

    Clock milliseconds, then 48 random bits shared by the batch, then a sequence
    number. Random uuid4 keys land all over the primary-key B-tree; time-ordered
    ones append at its end, which made 100k inserts about twice as fast.
    """
    head = f"{time.time_ns() // 1_000_000:012x}{secrets.randbits(48):012x}"
    return [f"{head}{i:08x}" for i in range(n)]


class AlertStore:
    """Writes hunts and alerts to a Store and reads them back for the console.

    Findings are written in batches of ``batch_size``, each batch in one BEGIN
    IMMEDIATE transaction. Rows are encoded before the lock is taken, so the write
    lock is held only for the inserts (milliseconds), and a slow or lazy iterable of
    findings never keeps the gateway or the console waiting on it.
    """

    def __init__(self, store: Store, *, batch_size: int = 5000) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self._store = store
        self._batch_size = batch_size

    def start_hunt(self, argv: Sequence[str], paths: Sequence[str | PathLike[str]]) -> str:
        """Record a hunt as running and return its id."""
        hunt_id = uuid.uuid4().hex
        with self._store.write() as conn:
            conn.execute(
                "INSERT INTO hunts (id, started, argv, paths, status)"
                " VALUES (?, ?, ?, ?, 'running')",
                (hunt_id, _now(), json.dumps(list(argv)), json.dumps([str(p) for p in paths])),
            )
        return hunt_id

    def add_findings(
        self,
        hunt_id: str | None,
        findings: Iterable[Finding],
        contexts: Iterable[Mapping[str, Any]] | None = None,
    ) -> int:
        """Store one alert per finding, with its enrichment (``enrich/context.py``) when
        ``contexts`` gives one per finding; returns how many were stored.

        A crash part-way leaves the batches already committed; the hunt then stays
        ``running`` (never finished), which marks its alerts as incomplete.
        """
        stored = 0
        pairs = (
            zip(findings, contexts, strict=True)
            if contexts is not None
            else ((f, None) for f in findings)
        )
        for batch in self._batches(pairs):
            created = _now()
            rows = [
                self._row(alert_id, hunt_id, created, f, ctx)
                for alert_id, (f, ctx) in zip(_alert_ids(len(batch)), batch, strict=True)
            ]
            try:
                self._insert(rows)
            except UnicodeEncodeError:
                # A host name or path with undecodable bytes (surrogateescape). The
                # batch was rolled back; store readable columns, while the finding
                # JSON keeps the exact value.
                self._insert([tuple(_printable(v) for v in row) for row in rows])
            stored += len(rows)
        return stored

    def finish_hunt(
        self,
        hunt_id: str,
        *,
        events: int,
        matches: int,
        rules_loaded: int,
        rules_failed: int,
        intake: IntakeLog,
        status: str = "finished",
    ) -> None:
        """Record a hunt's totals, final status and per-path intake, in one transaction."""
        problems: dict[str, list[dict[str, str]]] = {}
        for p in intake.problems:
            problems.setdefault(p.path, []).append({"where": p.where, "reason": p.reason})
        paths = sorted(set(intake.received) | set(intake.damaged) | set(problems))
        rows = [
            (
                hunt_id,
                _printable(path),
                intake.received[path],
                intake.damaged[path],
                json.dumps(problems.get(path, [])),
            )
            for path in paths
        ]
        with self._store.write() as conn:
            updated = conn.execute(
                "UPDATE hunts SET finished = ?, events = ?, matches = ?, rules_loaded = ?,"
                " rules_failed = ?, status = ? WHERE id = ?",
                (_now(), events, matches, rules_loaded, rules_failed, status, hunt_id),
            ).rowcount
            if updated != 1:
                raise KeyError(f"no hunt {hunt_id!r}")
            # INSERT OR REPLACE: finishing twice (a retry) keeps the latest figures.
            conn.executemany(
                "INSERT OR REPLACE INTO intake (hunt_id, path, received, damaged, problems)"
                " VALUES (?, ?, ?, ?, ?)",
                rows,
            )

    def get_hunt(self, hunt_id: str) -> StoredHunt | None:
        """A hunt with its intake rows, or None."""
        conn = self._store.connection
        row = conn.execute(
            f"SELECT {', '.join(_HUNT_COLUMNS)} FROM hunts WHERE id = ?", (hunt_id,)
        ).fetchone()
        if row is None:
            return None
        intake = tuple(
            StoredIntake(path, received, damaged, _problems(problems))
            for path, received, damaged, problems in conn.execute(
                "SELECT path, received, damaged, problems FROM intake"
                " WHERE hunt_id = ? ORDER BY path",
                (hunt_id,),
            )
        )
        values = dict(zip(_HUNT_COLUMNS, row, strict=True))
        values["argv"] = tuple(json.loads(values["argv"]))
        values["paths"] = tuple(json.loads(values["paths"]))
        return StoredHunt(**values, intake=intake)

    def list_alerts(
        self,
        *,
        limit: int = 100,
        level_at_least: Severity | None = None,
        rule_id: str | None = None,
        since: str | None = None,
    ) -> list[StoredAlert]:
        """Newest events first; ``since`` keeps events whose time is at or after it.

        ``since`` compares ISO 8601 text, so give it in the form the sources use
        (``2024-05-01`` or ``2024-05-01T12:00:00``). Alerts without an event time
        are never "since" anything.
        """
        where: list[str] = []
        params: list[Any] = []
        if level_at_least is not None:
            where.append("severity >= ?")
            params.append(int(level_at_least))
        if rule_id is not None:
            where.append("rule_id = ?")
            params.append(rule_id)
        if since is not None:
            where.append("timestamp >= ?")
            params.append(since)
        sql = f"SELECT {', '.join(_ALERT_COLUMNS)} FROM alerts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        # rowid breaks ties so that equal timestamps list in a stable order.
        sql += " ORDER BY timestamp DESC, rowid DESC LIMIT ?"
        params.append(limit)
        return [_alert(row) for row in self._store.connection.execute(sql, params)]

    def count_alerts(self, *, hunt_id: str | None = None) -> int:
        """All stored alerts, or those of one hunt."""
        conn = self._store.connection
        if hunt_id is None:
            (n,) = conn.execute("SELECT count(*) FROM alerts").fetchone()
        else:
            (n,) = conn.execute(
                "SELECT count(*) FROM alerts WHERE hunt_id = ?", (hunt_id,)
            ).fetchone()
        return int(n)

    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        with self._store.write() as conn:
            conn.executemany(_INSERT, rows)

    def _batches(self, items: Iterable[_Item]) -> Iterator[list[_Item]]:
        it = iter(items)
        while batch := list(islice(it, self._batch_size)):
            yield batch

    @staticmethod
    def _row(
        alert_id: str,
        hunt_id: str | None,
        created: str,
        f: Finding,
        ctx: Mapping[str, Any] | None,
    ) -> tuple[Any, ...]:
        ev = f.event
        rule = f.rule
        source = (ctx or {}).get("source") or {}
        origin = (ctx or {}).get("origin") or {}
        geo, asys = source.get("geo") or {}, source.get("as") or {}
        return (
            alert_id,
            hunt_id,
            created,
            ev.timestamp if ev else None,
            ev.host_name if ev else None,
            f.severity.label,
            int(f.severity),
            f.id,
            rule.title if rule else f.title,
            rule.author if rule else "",
            rule.link if rule else "",
            json.dumps(list(f.attack)),
            ev.origin.path if ev else None,
            _int64(ev.origin.record_id) if ev else None,
            finding_to_json(f),
            source.get("ip"),
            geo.get("country_iso_code") or None,
            asys.get("number") or None,
            (asys.get("organization") or {}).get("name") or None,
            origin.get("class") or "unknown",
            origin.get("reason") or "",
            json.dumps(ctx or {}),
        )


def _printable(value: Any) -> Any:
    """Text that UTF-8 can hold: lone surrogates become backslash escapes."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def _int64(value: int) -> int | None:
    # A forged EVTX record id can exceed SQLite's signed 64 bits; the column goes
    # NULL and the finding JSON keeps the exact number.
    return value if -(2**63) <= value < 2**63 else None


def _problems(text: str) -> tuple[tuple[str, str], ...]:
    return tuple((p["where"], p["reason"]) for p in json.loads(text))


def _alert(row: tuple[Any, ...]) -> StoredAlert:
    values = dict(zip(_ALERT_COLUMNS, row, strict=True))
    values["severity"] = Severity(values["severity"])
    values["attack"] = tuple(json.loads(values["attack"]))
    values["finding"] = finding_from_json(values["finding"])
    return StoredAlert(**values)
