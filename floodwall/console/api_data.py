"""Read-only views over the store: the dashboard, the daily figures, campaigns and the
intel look-up.

The daily figures come from ``floodwall/store/figures.py`` (``daily_figures(store, day)``
and ``figures_range(store, start, end)``), written alongside the console. When that
module is not installed the endpoints answer 503 and say so, rather than counting
differently here.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import ipaddress
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from floodwall.console import dashboard
from floodwall.console.auth import Viewer, context_of
from floodwall.console.errors import InputError, NotFoundError, UnavailableError

router = APIRouter(prefix="/api", tags=["figures"])
_REFUSALS: dict[int | str, dict[str, Any]] = {400: {}, 401: {}, 403: {}}
MAX_RANGE_DAYS = 366
_origin_lock = threading.Lock()


def plain(value: Any) -> Any:
    """Dataclasses, enums, tuples and dates as JSON values (the figures' records)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def _figures_module() -> Any:
    try:
        return importlib.import_module("floodwall.store.figures")
    except ModuleNotFoundError as exc:
        if exc.name != "floodwall.store.figures":
            raise
        raise UnavailableError("the daily figures module is not installed yet") from None


def _today(request: Request) -> date:
    return context_of(request).clock().astimezone(UTC).date()


@router.get("/dashboard", responses={**_REFUSALS, 503: {}})
def dashboard_data(
    request: Request,
    who: Viewer,
    day: date | None = None,
    days: Annotated[int, Query(ge=1, le=dashboard.MAX_TREND_DAYS)] = 30,
) -> dict[str, Any]:
    """A day (default today, UTC): top lists, the alert trend over ``days`` days, and the
    daily figures with their trend when the figures module is installed."""
    ctx = context_of(request)
    the_day = day or _today(request)
    conn = ctx.store().connection
    out: dict[str, Any] = {
        "day": the_day.isoformat(),
        "top": dashboard.top_lists(conn, the_day),
        "alert_trend": dashboard.trend(conn, the_day, days),
    }
    try:
        figures = _figures_module()
    except UnavailableError as missing:
        out["figures"] = None
        out["figures_note"] = str(missing)
        return out
    out["figures"] = plain(figures.daily_figures(ctx.store(), the_day))
    start = the_day - timedelta(days=days - 1)
    out["figures_trend"] = plain(figures.figures_range(ctx.store(), start, the_day))
    return out


@router.get("/figures/day", responses={**_REFUSALS, 503: {}})
def figures_day(request: Request, who: Viewer, day: date | None = None) -> Any:
    """Seen, blocked, got through, by origin, technique and source, and intake losses."""
    figures = _figures_module()
    return plain(figures.daily_figures(context_of(request).store(), day or _today(request)))


@router.get("/figures/range", responses={**_REFUSALS, 503: {}})
def figures_range(request: Request, who: Viewer, start: date, end: date) -> Any:
    """The daily figures of each day from ``start`` to ``end`` (both included)."""
    if end < start:
        raise InputError("end is before start")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise InputError(f"a range covers at most {MAX_RANGE_DAYS} days")
    figures = _figures_module()
    return plain(figures.figures_range(context_of(request).store(), start, end))


@router.get("/campaigns", tags=["campaigns"], responses=_REFUSALS)
def campaigns(
    request: Request, who: Viewer, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[dict[str, Any]]:
    """Campaigns by their alerts: how many, first and last seen, newest first."""
    rows = (
        context_of(request)
        .store()
        .connection.execute(
            "SELECT campaign_id, count(*), min(created), max(created) FROM alerts"
            " WHERE campaign_id IS NOT NULL GROUP BY campaign_id"
            " ORDER BY max(created) DESC LIMIT ?",
            (limit,),
        )
    )
    return [{"id": c, "alerts": n, "first": f, "last": la} for c, n, f, la in rows]


@router.get("/campaigns/{campaign_id}", tags=["campaigns"], responses={**_REFUSALS, 404: {}})
def campaign(
    request: Request, who: Viewer, campaign_id: Annotated[str, Path(max_length=100)]
) -> dict[str, Any]:
    """One campaign: its alerts' timeline (latest 500), targets and techniques."""
    conn = context_of(request).store().connection
    rows = conn.execute(
        "SELECT id, created, host, level, rule_title, attack, source_ip, country FROM alerts"
        " WHERE campaign_id = ? ORDER BY created DESC, id DESC LIMIT 500",
        (campaign_id,),
    ).fetchall()
    if not rows:
        raise NotFoundError(f"no campaign {campaign_id!r}")
    (total,) = conn.execute(
        "SELECT count(*) FROM alerts WHERE campaign_id = ?", (campaign_id,)
    ).fetchone()
    keys = ("id", "created", "host", "level", "rule_title", "attack", "source_ip", "country")
    timeline = [dict(zip(keys, r, strict=True)) for r in rows]
    return {
        "id": campaign_id,
        "alerts": int(total),
        "hosts": sorted({r[2] for r in rows if r[2]}),
        "sources": sorted({r[6] for r in rows if r[6]}),
        "timeline": timeline,
    }


def _origins(request: Request) -> Any:
    state = request.app.state
    with _origin_lock:
        if getattr(state, "origins", None) is None:
            from floodwall.enrich.origin import load_origin_enricher  # numpy tables: lazily

            state.origins = load_origin_enricher(context_of(request).settings)
        return state.origins


@router.get("/intel/lookup", tags=["intel"], responses=_REFUSALS)
def intel_lookup(
    request: Request, who: Viewer, value: Annotated[str, Query(min_length=1, max_length=2000)]
) -> dict[str, Any]:
    """What the intel store says about an address, domain, URL or hash, and for an
    address where it is from (domestic / abroad / internal / obscured / unknown)."""
    from floodwall.store.intel import IntelStore  # stix2 and friends: only when asked

    found = IntelStore(context_of(request).store()).find(value.strip())
    out: dict[str, Any] = {"value": value, "indicators": plain(found)}
    try:
        ipaddress.ip_address(value.strip())
    except ValueError:
        return out
    out["origin"] = _origins(request).classify(value.strip()).as_dict()
    return out
