"""The dashboard's lists that the daily figures do not hold: a day's top targeted hosts
and recipients, top campaigns, and the triage state of the day's alerts.

Countries, origins, techniques and sources come from the daily figures
(``floodwall/store/figures.py``), already folded and split; these lists use the same
day as they do: an alert counts on its event's day, or on the day it was stored when
its event time is not an ISO 8601 date. One pass over the day's alerts serves hosts,
campaigns and statuses together.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import date, timedelta
from typing import Any

TOP = 10
MAX_TREND_DAYS = 366
_ISO_DAY = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*"

# Both halves use an index: alerts_timestamp, and alerts_created_id for undated alerts.
_DAY_ALERTS = f"""
    SELECT host, campaign_id, status, count(*) FROM (
        SELECT host, campaign_id, status FROM alerts
         WHERE timestamp >= :start AND timestamp < :end
        UNION ALL
        SELECT host, campaign_id, status FROM alerts
         WHERE created >= :start AND created < :end
           AND (timestamp IS NULL OR timestamp NOT GLOB '{_ISO_DAY}'))
     GROUP BY host, campaign_id, status
"""

# Recipients of the day's mail that was not simply accepted, from the addresses that
# campaign building records per message content (message_keys kind 'rcpt').
_DAY_RECIPIENTS = """
    SELECT k.value, sum(1) FROM messages m
      JOIN message_keys k ON k.sha256 = m.sha256 AND k.kind = 'rcpt'
     WHERE m.scanned >= :start AND m.scanned < :end AND m.verdict != 'accept'
     GROUP BY k.value ORDER BY 2 DESC, 1 LIMIT :top
"""


def _ranked(counts: Counter[str], top: int) -> list[dict[str, Any]]:
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{"key": k, "alerts": n} for k, n in ordered[:top]]


def top_lists(conn: sqlite3.Connection, day: date, *, top: int = TOP) -> dict[str, Any]:
    """The day's alerts by host, campaign and status, and the top mail recipients."""
    p = {"start": day.isoformat(), "end": (day + timedelta(days=1)).isoformat(), "top": top}
    hosts: Counter[str] = Counter()
    campaigns: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    total = 0
    for host, campaign, status, n in conn.execute(_DAY_ALERTS, p):
        total += n
        statuses[str(status)] += n
        if host:
            hosts[str(host)] += n
        if campaign:
            campaigns[str(campaign)] += n
    has_keys = conn.execute(
        "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'message_keys'"
    ).fetchone()
    recipients = (
        [{"key": k, "messages": int(n)} for k, n in conn.execute(_DAY_RECIPIENTS, p)]
        if has_keys
        else []
    )
    return {
        "alerts": total,
        "hosts": _ranked(hosts, top),
        "campaigns": _ranked(campaigns, top),
        "statuses": _ranked(statuses, len(statuses)),
        "recipients": recipients,
    }
