"""The dashboard's data, one code path for the web page (``GET /``), the REST API
(``GET /api/dashboard``) and the daily report.

Headline numbers, trends, origins, techniques and intake losses are the shared daily
figures (``floodwall/store/figures.py``), so the console, ``floodwall stats`` and the
report agree to the unit. This module adds what the figures do not hold: the day's top
targeted hosts, recipients and campaigns, the technique names, and the sources that
went silent. Those lists use the same day as the figures: an alert counts on its
event's day, or on the day it was stored when its event time is not an ISO 8601 date.

A long-lived reader (the console) keeps one ``DashboardReader`` per process: its
``TotalsCache`` means a 30-day trend costs only the days that changed since the last
call (``store/figures_cache.py``).
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from floodwall.enrich.attack import default_attack_dir, load_attack_data
from floodwall.store.db import Store
from floodwall.store.figures import DayFigures, DayTotals, daily_figures, figures_range
from floodwall.store.figures_cache import TotalsCache, read_snapshot
from floodwall.store.figures_records import SourceLoss

TOP = 10
TREND_DAYS = 30
MAX_TREND_DAYS = 366
SILENT_LOOKBACK_DAYS = 7
ATTACK_SITE = "https://attack.mitre.org"
_ISO_DAY = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*"

# The day's alerts by host. Both halves use an index: alerts_timestamp, and
# alerts_created_id for undated alerts; with the figures' covering indexes
# (alerts_figures / alerts_figures_undated) the host is read from the index alone.
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

# The day's alerts and messages by campaign, entered from the campaign indexes
# (alerts_campaign, messages_campaign): only members of a campaign are read, usually a
# small share of the day. Phishing campaigns are often mail only, so both count.
_DAY_CAMPAIGNS = f"""
    SELECT campaign_id, sum(a), sum(m) FROM (
        SELECT campaign_id, 1 AS a, 0 AS m FROM alerts INDEXED BY alerts_campaign
         WHERE campaign_id IS NOT NULL
           AND ((timestamp >= :start AND timestamp < :end)
                OR (created >= :start AND created < :end
                    AND (timestamp IS NULL OR timestamp NOT GLOB '{_ISO_DAY}')))
        UNION ALL
        SELECT campaign_id, 0, 1 FROM messages INDEXED BY messages_campaign
         WHERE campaign_id IS NOT NULL AND scanned >= :start AND scanned < :end)
     GROUP BY campaign_id ORDER BY sum(a) + sum(m) DESC, 1 LIMIT :top
"""

# Recipients of the day's mail that was not simply accepted, from the addresses that
# campaign building records per message content (message_keys kind 'rcpt', 0007).
_DAY_RECIPIENTS = """
    SELECT k.value, sum(1) FROM messages m
      JOIN message_keys k ON k.sha256 = m.sha256 AND k.kind = 'rcpt'
     WHERE m.scanned >= :start AND m.scanned < :end AND m.verdict != 'accept'
     GROUP BY k.value ORDER BY 2 DESC, 1 LIMIT :top
"""


@dataclass(frozen=True, slots=True)
class TechniqueRow:
    id: str
    name: str  # "" when the bundled ATT&CK table does not know it
    url: str
    seen: int


@dataclass(frozen=True, slots=True)
class IntakeRow:
    """One source's intake on the day, and what is wrong with it (empty: healthy)."""

    source: str
    received: int
    unparseable: int
    dropped: int | None  # None: not recorded by that stage, never a made-up 0
    late: int | None
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Dashboard:
    """Everything the dashboard shows for one UTC day."""

    day: date
    figures: DayFigures
    trend: tuple[DayTotals, ...]  # oldest first, ending on ``day``
    techniques: tuple[TechniqueRow, ...]
    hosts: tuple[tuple[str, int], ...]  # (host, alerts)
    campaigns: tuple[tuple[str, int, int], ...]  # (campaign id, alerts, messages)
    recipients: tuple[tuple[str, int], ...]  # (address, messages)
    intake: tuple[IntakeRow, ...]

    def to_json(self) -> dict[str, Any]:
        """The API's answer: plain JSON values."""
        return {
            "day": self.day.isoformat(),
            "figures": self.figures.to_json(),
            "figures_trend": [
                {
                    "day": t.day.isoformat(),
                    "seen": t.seen,
                    "blocked": t.blocked,
                    "got_through": t.got_through,
                    "mail_seen": t.mail_seen,
                    "logs_seen": t.logs_seen,
                }
                for t in self.trend
            ],
            "top": {
                "hosts": [{"key": k, "alerts": n} for k, n in self.hosts],
                "campaigns": [{"key": k, "alerts": a, "messages": m} for k, a, m in self.campaigns],
                "recipients": [{"key": k, "messages": n} for k, n in self.recipients],
                "techniques": [
                    {"key": t.id, "name": t.name, "url": t.url, "seen": t.seen}
                    for t in self.techniques
                ],
            },
            "intake": [
                {
                    "source": r.source,
                    "received": r.received,
                    "unparseable": r.unparseable,
                    "dropped": r.dropped,
                    "late": r.late,
                    "warnings": list(r.warnings),
                }
                for r in self.intake
            ],
        }


def technique_url(tid: str) -> str:
    """The ATT&CK page of a technique id (sub-techniques: T1566/001)."""
    return f"{ATTACK_SITE}/techniques/{tid.replace('.', '/')}"


@lru_cache(maxsize=1)
def technique_names() -> dict[str, str]:
    """Technique id -> name from the bundled ATT&CK table; empty when it cannot load
    (the ids and links still show)."""
    try:
        data = load_attack_data(default_attack_dir())
    except (OSError, ValueError):
        return {}
    return {str(tid): str(t.name) for tid, t in data.techniques.items()}


def top_lists(conn: sqlite3.Connection, day: date, *, top: int = TOP) -> dict[str, Any]:
    """The day's top targeted hosts, campaigns and mail recipients, as JSON rows."""
    p = {"start": day.isoformat(), "end": (day + timedelta(days=1)).isoformat(), "top": top}
    return {
        "hosts": [{"key": k, "alerts": int(n)} for k, n in conn.execute(_DAY_HOSTS, p)],
        "campaigns": [
            {"key": k, "alerts": int(a), "messages": int(m)}
            for k, a, m in conn.execute(_DAY_CAMPAIGNS, p)
        ],
        "recipients": [{"key": k, "messages": int(n)} for k, n in conn.execute(_DAY_RECIPIENTS, p)],
    }


def _last_seen(conn: sqlite3.Connection, day: date) -> dict[str, str]:
    """Each source's last day with input in the week before ``day``."""
    start = (day - timedelta(days=SILENT_LOOKBACK_DAYS)).isoformat()
    end = day.isoformat()
    seen: dict[str, str] = {}
    for src, last in conn.execute(
        "SELECT source, max(substr(scanned, 1, 10)) FROM messages"
        " WHERE scanned >= ? AND scanned < ? GROUP BY source",
        (start, end),
    ):
        seen[f"mail:{src}"] = str(last)
    for path, last in conn.execute(
        "SELECT i.path, max(substr(h.started, 1, 10)) FROM hunts AS h"
        " JOIN intake AS i ON i.hunt_id = h.id WHERE h.started >= ? AND h.started < ?"
        " GROUP BY i.path",
        (start, end),
    ):
        seen[f"logs:{path}"] = str(last)
    return seen


def intake_health(
    conn: sqlite3.Connection, day: date, losses: tuple[SourceLoss, ...]
) -> tuple[IntakeRow, ...]:
    """The day's sources with their losses, plus the sources of the week before that
    went silent (DESIGN.md: a source that goes silent raises an alarm)."""
    rows: list[IntakeRow] = []
    for loss in losses:
        warnings: list[str] = []
        if loss.unparseable:
            warnings.append(f"{loss.unparseable} unparseable")
        if loss.dropped:
            warnings.append(f"{loss.dropped} dropped")
        if loss.late:
            warnings.append(f"{loss.late} late")
        if loss.received == 0:
            warnings.append("received nothing")
        rows.append(
            IntakeRow(loss.source, loss.received, loss.unparseable, loss.dropped, loss.late,
                      tuple(warnings))
        )  # fmt: skip
    today = {loss.source for loss in losses}
    for source, last in sorted(_last_seen(conn, day).items()):
        if source not in today:
            rows.append(IntakeRow(source, 0, 0, None, None, (f"silent since {last}",)))
    return tuple(rows)


def _pairs(rows: list[dict[str, Any]], count: str) -> tuple[tuple[str, int], ...]:
    return tuple((str(r["key"]), int(r[count])) for r in rows)


def load_dashboard(
    store: Store,
    day: date,
    *,
    home_country: str,
    trend_days: int = TREND_DAYS,
    cache: TotalsCache[DayTotals] | None = None,
    top: int = TOP,
) -> Dashboard:
    """The dashboard of ``day`` (UTC), read in one snapshot so the headline, the last
    point of the trend and the top lists describe the same rows. With ``cache``, the
    trend's unchanged days are not counted again; the caller serialises its use."""
    if not 1 <= trend_days <= MAX_TREND_DAYS:
        raise ValueError(f"a trend covers 1 to {MAX_TREND_DAYS} days")
    with read_snapshot(store):
        figures = daily_figures(store, day, home_country=home_country, cache=cache)
        start = day - timedelta(days=trend_days - 1)
        trend = figures_range(store, start, day, cache=cache)
        conn = store.connection
        tops = top_lists(conn, day, top=top)
        intake = intake_health(conn, day, figures.losses)
    names = technique_names()
    techniques = tuple(
        TechniqueRow(s.key, names.get(s.key, ""), technique_url(s.key), s.seen)
        for s in figures.by_technique
        if s.key != "none"
    )[:top]
    return Dashboard(
        day=day,
        figures=figures,
        trend=tuple(trend),
        techniques=techniques,
        hosts=_pairs(tops["hosts"], "alerts"),
        campaigns=tuple(
            (str(r["key"]), int(r["alerts"]), int(r["messages"])) for r in tops["campaigns"]
        ),
        recipients=_pairs(tops["recipients"], "messages"),
        intake=intake,
    )


class DashboardReader:
    """One per console process: the dashboard and trends through one ``TotalsCache``,
    shared by every worker thread (the cache is a plain dict, hence the lock)."""

    def __init__(self) -> None:
        self._cache: TotalsCache[DayTotals] = TotalsCache()
        self._lock = threading.Lock()

    def dashboard(
        self, store: Store, day: date, *, home_country: str, trend_days: int = TREND_DAYS
    ) -> Dashboard:
        with self._lock:
            return load_dashboard(
                store, day, home_country=home_country, trend_days=trend_days, cache=self._cache
            )

    def trend(self, store: Store, start: date, end: date) -> list[DayTotals]:
        """``figures_range`` of ``start``..``end`` through the cache."""
        with self._lock:
            return figures_range(store, start, end, cache=self._cache)

    @property
    def computed_days(self) -> int:
        """Days the last call counted anew (the rest came from the cache)."""
        return self._cache.computed_days
