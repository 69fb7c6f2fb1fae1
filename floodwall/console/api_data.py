"""Read-only views over the store: the dashboard, the daily figures, campaigns and the
intel look-up.

The daily figures are the shared ones of ``floodwall/store/figures.py``
(``daily_figures``, ``figures_range``), so the console, the report and ``stats`` never
count differently; campaigns are ``floodwall/store/campaigns.py``'s.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import threading
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from floodwall.console import dashboard
from floodwall.console.auth import Viewer, context_of
from floodwall.console.errors import InputError, NotFoundError
from floodwall.store import figures
from floodwall.store.campaigns import CampaignStore
from floodwall.store.figures_records import FIRST_DAY, LAST_DAY

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


#: A UTC day the figures can cover (outside it, 422 rather than an overflow).
DayQuery = Annotated[date | None, Query(ge=FIRST_DAY, le=LAST_DAY)]


def _today(request: Request) -> date:
    return context_of(request).clock().astimezone(UTC).date()


@router.get("/dashboard", responses=_REFUSALS)
def dashboard_data(
    request: Request,
    who: Viewer,
    day: DayQuery = None,
    days: Annotated[int, Query(ge=1, le=dashboard.MAX_TREND_DAYS)] = dashboard.TREND_DAYS,
) -> dict[str, Any]:
    """A day (default today, UTC): the daily figures (seen, blocked, got through, split by
    source, origin, country and technique, intake losses), their trend over ``days``
    days, the day's top hosts, recipients, campaigns and techniques, and the intake's
    health per source. The web dashboard shows exactly this (``console/dashboard.py``)."""
    ctx = context_of(request)
    found = ctx.dashboards.dashboard(
        ctx.store(), day or _today(request), home_country=ctx.settings.home_country,
        trend_days=days,
    )  # fmt: skip
    return found.to_json()


@router.get("/figures/day", responses=_REFUSALS)
def figures_day(request: Request, who: Viewer, day: DayQuery = None) -> Any:
    """Seen, blocked, got through, by origin, technique and source, and intake losses."""
    ctx = context_of(request)
    found = figures.daily_figures(
        ctx.store(), day or _today(request), home_country=ctx.settings.home_country
    )
    return found.to_json()


@router.get("/figures/range", responses=_REFUSALS)
def figures_range(
    request: Request,
    who: Viewer,
    start: Annotated[date, Query(ge=FIRST_DAY, le=LAST_DAY)],
    end: Annotated[date, Query(ge=FIRST_DAY, le=LAST_DAY)],
) -> Any:
    """The daily figures of each day from ``start`` to ``end`` (both included)."""
    if end < start:
        raise InputError("end is before start")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise InputError(f"a range covers at most {MAX_RANGE_DAYS} days")
    ctx = context_of(request)
    return plain(ctx.dashboards.trend(ctx.store(), start, end))


@router.get("/campaigns", tags=["campaigns"], responses=_REFUSALS)
def campaigns(
    request: Request,
    who: Viewer,
    since: Annotated[date | None, Query(description="last seen on or after (UTC day)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[dict[str, Any]]:
    """Campaigns last seen at or after ``since``, most recently seen first, with their
    shared keys, origins, techniques, targets and timeline (``floodwall campaigns``)."""
    stamp = None if since is None else since.isoformat()
    found = CampaignStore(context_of(request).store()).list_campaigns(since=stamp, limit=limit)
    return [c.as_dict() for c in found]


@router.get("/campaigns/{campaign_id}", tags=["campaigns"], responses={**_REFUSALS, 404: {}})
def campaign(
    request: Request, who: Viewer, campaign_id: Annotated[str, Path(max_length=100)]
) -> dict[str, Any]:
    """One campaign and its earliest members (alerts and messages)."""
    campaigns = CampaignStore(context_of(request).store())
    found = campaigns.get(campaign_id)
    if found is None:
        raise NotFoundError(f"no campaign {campaign_id!r}")
    return {**found.as_dict(), "members": campaigns.members(campaign_id, limit=200)}


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
