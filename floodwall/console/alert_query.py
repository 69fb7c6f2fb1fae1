"""The alert list's query: filters and keyset pagination on (created, id), newest first.

Keyset ("seek") pagination asks for rows strictly after the last one shown, so page
10,000 costs what page 1 costs: the ``alerts (created, id)`` index is entered at the
cursor instead of skipping OFFSET rows (the row-value comparison is SQLite 3.15+).
"""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from floodwall.console.errors import InputError
from floodwall.records import Severity

STATUSES = ("open", "acknowledged", "resolved", "false_positive")
SOURCES = ("logs", "mail")
ORIGINS = ("domestic", "abroad", "internal", "obscured", "unknown")
MAX_LIMIT = 500

_LIST_COLUMNS = (
    "id, created, timestamp, host, level, severity, rule_id, rule_title, attack, status,"
    " assignee, source_ip, country, asn, as_org, origin, campaign_id"
)


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """What the caller asked for; None means "any". Times are ISO 8601 (UTC) text."""

    since: str | None = None
    until: str | None = None
    level: str | None = None  # at least this severity
    source: str | None = None
    origin: str | None = None
    country: str | None = None
    technique: str | None = None
    campaign: str | None = None
    status: str | None = None
    assignee: str | None = None


def _check(value: str | None, allowed: tuple[str, ...], what: str) -> None:
    if value is not None and value not in allowed:
        raise InputError(f"{what} must be one of {', '.join(allowed)}")


def encode_cursor(created: str, alert_id: str) -> str:
    """An opaque cursor for the row after which the next page starts."""
    raw = json.dumps([created, alert_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, alert_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise InputError("the cursor is not one this API gave out") from None
    if not isinstance(created, str) or not isinstance(alert_id, str):
        raise InputError("the cursor is not one this API gave out")
    return created, alert_id


def where_clause(f: AlertFilter) -> tuple[list[str], list[Any]]:
    """SQL conditions and their parameters for a filter (also used by counts)."""
    _check(f.status, STATUSES, "status")
    _check(f.source, SOURCES, "source")
    _check(f.origin, ORIGINS, "origin")
    where: list[str] = []
    params: list[Any] = []
    if f.since is not None:
        where.append("created >= ?")
        params.append(f.since)
    if f.until is not None:
        where.append("created < ?")
        params.append(f.until)
    if f.level is not None:
        # Severity.parse turns unknown names into medium; a filter must refuse them.
        severity = next((s for s in Severity if s.label == f.level.lower()), None)
        if severity is None:
            raise InputError(f"level must be one of {', '.join(s.label for s in Severity)}")
        where.append("severity >= ?")
        params.append(int(severity))
    if f.source is not None:
        # Mail detectors' ids start with "mail."; a range keeps it index-friendly.
        where.append("(rule_id >= 'mail.' AND rule_id < 'mail/')" if f.source == "mail"
                     else "NOT (rule_id >= 'mail.' AND rule_id < 'mail/')")  # fmt: skip
    for column, value in (
        ("origin", f.origin),
        ("country", f.country.upper() if f.country else None),
        ("campaign_id", f.campaign),
        ("status", f.status),
        ("assignee", f.assignee),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if f.technique is not None:
        # A technique matches its sub-techniques too: T1566 finds T1566.001.
        where.append(
            "EXISTS (SELECT 1 FROM json_each(alerts.attack) WHERE value = ? OR value LIKE ?)"
        )
        params.extend([f.technique.upper(), f.technique.upper() + ".%"])
    return where, params


def list_alerts(
    conn: sqlite3.Connection, f: AlertFilter, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of alerts (as dicts) and the cursor of the next page, or None at the end."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"limit is 1 to {MAX_LIMIT}")
    where, params = where_clause(f)
    if cursor is not None:
        where.append("(created, id) < (?, ?)")
        params.extend(decode_cursor(cursor))
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    rows = conn.execute(
        f"SELECT {_LIST_COLUMNS} FROM alerts{clause} ORDER BY created DESC, id DESC LIMIT ?",
        (*params, limit + 1),
    ).fetchall()
    more = len(rows) > limit
    items = [summary(r) for r in rows[:limit]]
    following = encode_cursor(items[-1]["created"], items[-1]["id"]) if more else None
    return items, following


def summary(row: tuple[Any, ...]) -> dict[str, Any]:
    (aid, created, ts, host, level, severity, rule_id, title, attack, status, assignee,
     ip, country, asn, as_org, origin, campaign) = row  # fmt: skip
    return {
        "id": aid, "created": created, "timestamp": ts, "host": host, "level": level,
        "severity": severity, "rule_id": rule_id, "rule_title": title,
        "attack": json.loads(attack or "[]"), "status": status, "assignee": assignee,
        "source": "mail" if str(rule_id).startswith("mail.") else "logs",
        "source_ip": ip, "country": country, "asn": asn, "as_org": as_org, "origin": origin,
        "campaign_id": campaign,
    }  # fmt: skip


def get_alert(conn: sqlite3.Connection, alert_id: str) -> dict[str, Any] | None:
    """One alert in full: its summary, rule, finding, enrichment and triage history."""
    row = conn.execute(f"SELECT {_LIST_COLUMNS} FROM alerts WHERE id = ?", (alert_id,)).fetchone()
    if row is None:
        return None
    item = summary(row)
    extra = conn.execute(
        "SELECT rule_author, rule_link, source_path, record_id, finding, enrichment,"
        " origin_reason, hunt_id FROM alerts WHERE id = ?",
        (alert_id,),
    ).fetchone()
    author, link, path, record, finding, enrichment, reason, hunt = extra
    item.update(
        rule_author=author, rule_link=link, source_path=path, record_id=record,
        finding=json.loads(finding), enrichment=json.loads(enrichment or "{}"),
        origin_reason=reason, hunt_id=hunt,
    )  # fmt: skip
    item["history"] = [
        {"at": at, "actor": actor, "action": action, "from": old, "to": new, "comment": comment}
        for at, actor, action, old, new, comment in conn.execute(
            "SELECT at, actor, action, from_value, to_value, comment FROM alert_history"
            " WHERE alert_id = ? ORDER BY id",
            (alert_id,),
        )
    ]
    return item
