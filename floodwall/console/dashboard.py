"""The dashboard's alert-side lists: a day's top countries, origins, techniques,
campaigns and hosts, and the 30-day trend of alerts per day.

The headline numbers (seen / blocked / got through, intake losses) are the shared daily
figures' job (``floodwall/store/figures.py``); these lists come straight from the
alerts' indexed columns. Each day of the trend is one range count on
``alerts (created, id)``: 30 short index walks instead of one group-by over the month.
"""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from typing import Any

from floodwall.console.errors import InputError

TOP = 10
MAX_TREND_DAYS = 366


def day_bounds(day: date) -> tuple[str, str]:
    """[start, end) of a UTC day as alerts' ``created`` text (ISO 8601, +00:00)."""
    first = f"{day.isoformat()}T00:00:00.000000+00:00"
    after = f"{(day + timedelta(days=1)).isoformat()}T00:00:00.000000+00:00"
    return first, after


def trend(conn: sqlite3.Connection, last_day: date, days: int) -> list[dict[str, Any]]:
    """Alerts per UTC day for ``days`` days ending with ``last_day``, oldest first."""
    if not 1 <= days <= MAX_TREND_DAYS:
        raise InputError(f"a trend covers 1 to {MAX_TREND_DAYS} days")
    out: list[dict[str, Any]] = []
    for back in range(days - 1, -1, -1):
        day = last_day - timedelta(days=back)
        first, after = day_bounds(day)
        (n,) = conn.execute(
            "SELECT count(*) FROM alerts WHERE created >= ? AND created < ?", (first, after)
        ).fetchone()
        out.append({"day": day.isoformat(), "alerts": int(n)})
    return out


def _top(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    return [{"key": k, "alerts": int(n)} for k, n in conn.execute(sql, params)]


def top_lists(conn: sqlite3.Connection, day: date, *, top: int = TOP) -> dict[str, Any]:
    """The day's alerts by country, origin class, technique, campaign, host and level."""
    first, after = day_bounds(day)
    span = "created >= ? AND created < ?"
    params = (first, after, top)
    return {
        "total": int(conn.execute(
            f"SELECT count(*) FROM alerts WHERE {span}", (first, after)
        ).fetchone()[0]),
        "countries": _top(conn, f"SELECT country, count(*) c FROM alerts WHERE {span}"
                          " AND country IS NOT NULL GROUP BY country ORDER BY c DESC, country"
                          " LIMIT ?", params),
        "origins": _top(conn, f"SELECT origin, count(*) c FROM alerts WHERE {span}"
                        " GROUP BY origin ORDER BY c DESC, origin LIMIT ?", params),
        "techniques": _top(conn, "SELECT j.value, count(*) c FROM alerts, json_each(alerts.attack)"
                           f" j WHERE {span} GROUP BY j.value ORDER BY c DESC, j.value LIMIT ?",
                           params),
        "campaigns": _top(conn, f"SELECT campaign_id, count(*) c FROM alerts WHERE {span}"
                          " AND campaign_id IS NOT NULL GROUP BY campaign_id"
                          " ORDER BY c DESC, campaign_id LIMIT ?", params),
        "hosts": _top(conn, f"SELECT host, count(*) c FROM alerts WHERE {span}"
                      " AND host IS NOT NULL GROUP BY host ORDER BY c DESC, host LIMIT ?", params),
        "levels": _top(conn, f"SELECT level, count(*) c FROM alerts WHERE {span}"
                       " GROUP BY level ORDER BY c DESC, level LIMIT ?", params),
        "statuses": _top(conn, f"SELECT status, count(*) c FROM alerts WHERE {span}"
                         " GROUP BY status ORDER BY c DESC, status LIMIT ?", params),
    }  # fmt: skip
