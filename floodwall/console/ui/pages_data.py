"""Reads for the alert, quarantine and campaign pages (the dashboard has its own module).

Campaigns are read from the alerts' and messages' ``campaign_id``; when the campaigns
table exists (migration 0007), its row adds the shared keys and origin confidence.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

PAGE = 50


@dataclass(frozen=True, slots=True)
class CampaignRow:
    id: str
    alerts: int
    messages: int
    first: str
    last: str


@dataclass(frozen=True, slots=True)
class CampaignDetail:
    id: str
    summary: CampaignRow
    facts: tuple[tuple[str, Any], ...]  # the campaigns table's row, when there is one
    timeline: tuple[tuple[str, int, int], ...]  # (day, alerts, messages)
    hosts: tuple[tuple[str, int], ...]
    senders: tuple[tuple[str, int], ...]
    sources: tuple[tuple[str, int], ...]
    alerts: tuple[dict[str, Any], ...]
    messages: tuple[dict[str, Any], ...]


_CAMPAIGNS = """
    SELECT campaign_id, sum(a), sum(m), min(first), max(last) FROM (
        SELECT campaign_id, count(*) AS a, 0 AS m, min(created) AS first, max(created) AS last
          FROM alerts WHERE campaign_id IS NOT NULL GROUP BY campaign_id
        UNION ALL
        SELECT campaign_id, 0, count(*), min(scanned), max(scanned)
          FROM messages WHERE campaign_id IS NOT NULL GROUP BY campaign_id)
    {where} GROUP BY campaign_id ORDER BY max(last) DESC, campaign_id LIMIT ?
"""


def has_table(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return row is not None


def list_campaigns(conn: sqlite3.Connection, *, limit: int = 200) -> list[CampaignRow]:
    """Campaigns with their alert and message counts, the latest active first."""
    rows = conn.execute(_CAMPAIGNS.format(where=""), (limit,)).fetchall()
    return [CampaignRow(str(c), int(a), int(m), str(f), str(la)) for c, a, m, f, la in rows]


def _plain(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def get_campaign(conn: sqlite3.Connection, cid: str) -> CampaignDetail | None:
    """One campaign: facts, timeline by day, targets, and its latest members."""
    found = conn.execute(_CAMPAIGNS.format(where="WHERE campaign_id = ?"), (cid, 1)).fetchone()
    if found is None:
        return None
    c, a, m, f, la = found
    facts: tuple[tuple[str, Any], ...] = ()
    if has_table(conn, "campaigns"):
        cur = conn.execute("SELECT * FROM campaigns WHERE id = ?", (cid,))
        row = cur.fetchone()
        if row is not None:
            facts = tuple((d[0], _plain(v)) for d, v in zip(cur.description, row, strict=True))
    days: dict[str, list[int]] = {}
    for day, n in conn.execute(
        "SELECT substr(created, 1, 10), count(*) FROM alerts WHERE campaign_id = ? GROUP BY 1",
        (cid,),
    ):
        days.setdefault(str(day), [0, 0])[0] = int(n)
    for day, n in conn.execute(
        "SELECT substr(scanned, 1, 10), count(*) FROM messages WHERE campaign_id = ? GROUP BY 1",
        (cid,),
    ):
        days.setdefault(str(day), [0, 0])[1] = int(n)

    def grouped(sql: str, times: int = 1) -> tuple[tuple[str, int], ...]:
        return tuple((str(k), int(n)) for k, n in conn.execute(sql, (cid,) * times))

    alerts = conn.execute(
        "SELECT id, created, host, level, rule_title, source_ip, country FROM alerts"
        " WHERE campaign_id = ? ORDER BY created DESC, id DESC LIMIT 100",
        (cid,),
    )
    akeys = ("id", "created", "host", "level", "rule_title", "source_ip", "country")
    messages = conn.execute(
        "SELECT id, scanned, from_addr, subject, verdict, recipients, source_ip, country"
        " FROM messages WHERE campaign_id = ? ORDER BY scanned DESC, id DESC LIMIT 100",
        (cid,),
    )
    mkeys = ("id", "scanned", "from_addr", "subject", "verdict", "recipients", "source_ip",
             "country")  # fmt: skip
    return CampaignDetail(
        id=str(c),
        summary=CampaignRow(str(c), int(a), int(m), str(f), str(la)),
        facts=facts,
        timeline=tuple((d, v[0], v[1]) for d, v in sorted(days.items())),
        hosts=grouped(
            "SELECT host, count(*) c FROM alerts WHERE campaign_id = ? AND host IS NOT NULL"
            " GROUP BY host ORDER BY c DESC, host LIMIT 20"
        ),
        senders=grouped(
            "SELECT from_addr, count(*) c FROM messages WHERE campaign_id = ?"
            " GROUP BY from_addr ORDER BY c DESC, from_addr LIMIT 20"
        ),
        sources=grouped(
            "SELECT coalesce(source_ip, '?') || ' ' || coalesce(country, ''), count(*) c FROM"
            " (SELECT source_ip, country FROM alerts WHERE campaign_id = ? UNION ALL"
            "  SELECT source_ip, country FROM messages WHERE campaign_id = ?)"
            " WHERE source_ip IS NOT NULL GROUP BY 1 ORDER BY c DESC, 1 LIMIT 20",
            2,
        ),
        alerts=tuple(dict(zip(akeys, r, strict=True)) for r in alerts),
        messages=tuple(dict(zip(mkeys, r, strict=True)) for r in messages),
    )
