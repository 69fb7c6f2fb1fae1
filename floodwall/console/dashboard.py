"""The dashboard's lists that the daily figures do not hold: a day's top targeted hosts
and recipients, and top campaigns.

Countries, origins, techniques and sources come from the daily figures
(``floodwall/store/figures.py``), already folded and split; these lists use the same
day as they do: an alert counts on its event's day, or on the day it was stored when
its event time is not an ISO 8601 date.
"""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from typing import Any

TOP = 10
MAX_TREND_DAYS = 366
_ISO_DAY = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*"

# The day's alerts by host. Both halves use an index: alerts_timestamp, and
# alerts_created_id for undated alerts; with the figures' covering indexes (proposed
# migration alerts_figures / alerts_figures_undated, bench/figures_indexes.sql) the
# host is read from the index and the table is not touched.
_DAY_HOSTS = f"""
    SELECT host, count(*) FROM (
        SELECT host FROM alerts
         WHERE timestamp >= :start AND timestamp < :end
        UNION ALL
        SELECT host FROM alerts
         WHERE created >= :start AND created < :end
           AND (timestamp IS NULL OR timestamp NOT GLOB '{_ISO_DAY}'))
     WHERE host IS NOT NULL GROUP BY host ORDER BY 2 DESC, 1 LIMIT :top
"""

# The day's alerts by campaign, entered from the campaign index: only alerts that
# belong to a campaign are read, usually a small share of the day.
_DAY_CAMPAIGNS = f"""
    SELECT campaign_id, count(*) FROM alerts INDEXED BY alerts_campaign
     WHERE campaign_id IS NOT NULL
       AND ((timestamp >= :start AND timestamp < :end)
            OR (created >= :start AND created < :end
                AND (timestamp IS NULL OR timestamp NOT GLOB '{_ISO_DAY}')))
     GROUP BY campaign_id ORDER BY 2 DESC, 1 LIMIT :top
"""

# Recipients of the day's mail that was not simply accepted, from the addresses that
# campaign building records per message content (message_keys kind 'rcpt').
_DAY_RECIPIENTS = """
    SELECT k.value, sum(1) FROM messages m
      JOIN message_keys k ON k.sha256 = m.sha256 AND k.kind = 'rcpt'
     WHERE m.scanned >= :start AND m.scanned < :end AND m.verdict != 'accept'
     GROUP BY k.value ORDER BY 2 DESC, 1 LIMIT :top
"""


def top_lists(conn: sqlite3.Connection, day: date, *, top: int = TOP) -> dict[str, Any]:
    """The day's top targeted hosts, campaigns and mail recipients."""
    p = {"start": day.isoformat(), "end": (day + timedelta(days=1)).isoformat(), "top": top}
    has_keys = conn.execute(
        "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'message_keys'"
    ).fetchone()
    return {
        "hosts": [{"key": k, "alerts": int(n)} for k, n in conn.execute(_DAY_HOSTS, p)],
        "campaigns": [{"key": k, "alerts": int(n)} for k, n in conn.execute(_DAY_CAMPAIGNS, p)],
        "recipients": (
            [{"key": k, "messages": int(n)} for k, n in conn.execute(_DAY_RECIPIENTS, p)]
            if has_keys
            else []
        ),
    }
