"""What the dashboard shows, gathered in one place from the store.

The headline numbers, trends, origins, techniques and intake losses come from the
shared daily figures (``floodwall/store/figures.py``), so the console, ``floodwall
stats`` and the daily report agree to the unit. The top lists of hosts and campaigns
come from the alerts' indexed columns (``console/dashboard.py``), and the targeted
recipients from the quarantine's envelopes (the only place recipients are named).
"""

from __future__ import annotations

import importlib
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from floodwall.console.dashboard import top_lists
from floodwall.store.db import Store

TREND_DAYS = 30
TOP = 10
SILENT_LOOKBACK_DAYS = 7
ATTACK_SITE = "https://attack.mitre.org"


@dataclass(frozen=True, slots=True)
class TechniqueRow:
    id: str
    name: str
    url: str
    seen: int


@dataclass(frozen=True, slots=True)
class IntakeRow:
    """One source's intake today, and what is wrong with it (empty: healthy)."""

    source: str
    received: int
    unparseable: int
    dropped: int | None
    late: int | None
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DashboardView:
    day: date
    figures: Any  # figures.DayFigures
    trend: tuple[Any, ...]  # figures.DayTotals, oldest first
    techniques: tuple[TechniqueRow, ...]
    campaigns: tuple[tuple[str, int], ...]
    hosts: tuple[tuple[str, int], ...]
    recipients: tuple[tuple[str, int], ...]
    intake: tuple[IntakeRow, ...]


class FiguresMissingError(RuntimeError):
    """The shared daily figures module is not installed in this build."""


def figures_module() -> Any:
    """``floodwall.store.figures``, loaded when first needed; the console starts and its
    other pages work in a build that does not have it yet."""
    try:
        return importlib.import_module("floodwall.store.figures")
    except ModuleNotFoundError as exc:
        if exc.name != "floodwall.store.figures":
            raise
        raise FiguresMissingError("the daily figures module is not installed") from None


def technique_url(tid: str) -> str:
    """The ATT&CK page of a technique id (sub-techniques: T1566/001)."""
    return f"{ATTACK_SITE}/techniques/{tid.replace('.', '/')}"


@lru_cache(maxsize=1)
def technique_names() -> dict[str, str]:
    """Technique id -> name from the bundled ATT&CK table; empty when it cannot load."""
    try:
        attack: Any = importlib.import_module("floodwall.enrich.attack")
        data = attack.load_attack_data(attack.default_attack_dir())
    except (ImportError, ValueError):
        return {}
    return {str(tid): str(t.name) for tid, t in data.techniques.items()}


def _top_recipients(conn: sqlite3.Connection, day: date) -> list[tuple[str, int]]:
    start, end = day.isoformat(), (day + timedelta(days=1)).isoformat()
    rows = conn.execute(
        "SELECT rcpt_to FROM quarantine WHERE held >= ? AND held < ? LIMIT 100000", (start, end)
    ).fetchall()
    counts: dict[str, int] = {}
    for (raw,) in rows:
        try:
            for rcpt in json.loads(raw):
                if isinstance(rcpt, str):
                    counts[rcpt.lower()] = counts.get(rcpt.lower(), 0) + 1
        except ValueError:
            continue
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]


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
    conn: sqlite3.Connection, day: date, losses: Sequence[Any]
) -> tuple[IntakeRow, ...]:
    """Today's sources with their losses, plus the sources that went silent today."""
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


def load_dashboard(store: Store, day: date, *, home_country: str) -> DashboardView:
    """Everything the dashboard page shows for ``day`` (UTC)."""
    figures_of = figures_module()
    figures = figures_of.daily_figures(store, day, home_country=home_country)
    trend = figures_of.figures_range(store, day - timedelta(days=TREND_DAYS - 1), day)
    names = technique_names()
    techniques = tuple(
        TechniqueRow(s.key, names.get(s.key, ""), technique_url(s.key), s.seen)
        for s in figures.by_technique
        if s.key != "none"
    )[:TOP]
    conn = store.connection
    tops = top_lists(conn, day, top=TOP)
    return DashboardView(
        day=day,
        figures=figures,
        trend=tuple(trend),
        techniques=techniques,
        campaigns=tuple((str(r["key"]), int(r["alerts"])) for r in tops["campaigns"]),
        hosts=tuple((str(r["key"]), int(r["alerts"])) for r in tops["hosts"]),
        recipients=tuple(_top_recipients(conn, day)),
        intake=intake_health(conn, day, figures.losses),
    )
