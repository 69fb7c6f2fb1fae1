"""``/api/alerts``: the triage queue (filters, keyset pages), one alert, status, assign."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from floodwall.console import alert_query, audit, triage
from floodwall.console.auth import Analyst, Viewer, client_ip, context_of
from floodwall.console.errors import ConsoleError, InputError, NotFoundError

router = APIRouter(prefix="/api/alerts", tags=["alerts"])
_REFUSALS: dict[int | str, dict[str, Any]] = {400: {}, 401: {}, 403: {}}


class AlertSummary(BaseModel):
    id: str
    created: str
    timestamp: str | None
    host: str | None
    level: str
    severity: int
    rule_id: str
    rule_title: str
    attack: list[str]
    status: str
    assignee: str | None
    source: str
    source_ip: str | None
    country: str | None
    asn: int | None
    as_org: str | None
    origin: str
    campaign_id: str | None


class AlertPage(BaseModel):
    """One page; pass ``next`` back as ``cursor`` for the following one (null: the end)."""

    items: list[AlertSummary]
    next: str | None


class StatusChange(BaseModel):
    status: str = Field(description="acknowledged | resolved | false_positive | open")
    comment: str = Field(min_length=1, max_length=triage.MAX_COMMENT)


class BulkStatusChange(StatusChange):
    ids: list[Annotated[str, Field(max_length=64)]] = Field(min_length=1, max_length=500)


class Assignment(BaseModel):
    assignee: str | None = Field(default=None, max_length=64, description="null: nobody")
    comment: str = Field(default="", max_length=triage.MAX_COMMENT)


def _iso(moment: datetime | None) -> str | None:
    """Alerts' ``created`` is ISO 8601 UTC text (+00:00); a naive time is taken as UTC."""
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds")


@router.get("", responses=_REFUSALS)
def list_alerts(
    request: Request,
    who: Viewer,
    since: datetime | None = None,
    until: datetime | None = None,
    level: Annotated[str | None, Query(description="at least this level")] = None,
    source: Annotated[str | None, Query(description="logs | mail")] = None,
    origin: Annotated[
        str | None, Query(description="domestic | abroad | internal | obscured | unknown")
    ] = None,
    country: Annotated[str | None, Query(max_length=2)] = None,
    technique: Annotated[str | None, Query(max_length=20, description="ATT&CK id")] = None,
    campaign: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[str | None, Query(description=" | ".join(alert_query.STATUSES))] = None,
    assignee: Annotated[str | None, Query(max_length=64)] = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=alert_query.MAX_LIMIT)] = 50,
) -> AlertPage:
    """Newest first, keyset-paged on (created, id)."""
    flt = alert_query.AlertFilter(
        since=_iso(since), until=_iso(until), level=level, source=source, origin=origin,
        country=country, technique=technique, campaign=campaign, status=status,
        assignee=assignee,
    )  # fmt: skip
    conn = context_of(request).store().connection
    items, following = alert_query.list_alerts(conn, flt, limit=limit, cursor=cursor)
    return AlertPage(items=[AlertSummary(**i) for i in items], next=following)


# Declared before the /{alert_id} routes, which would otherwise take "bulk" for an id.
@router.post("/bulk/status", responses=_REFUSALS)
def set_status_bulk(request: Request, who: Analyst, body: BulkStatusChange) -> dict[str, Any]:
    """The same status change and comment for up to 500 alerts; each alert is its own
    transaction and audit entry, and each answer says whether it changed and why not."""
    ctx = context_of(request)
    results: dict[str, str] = {}
    for alert_id in dict.fromkeys(body.ids):  # once each, in the order given
        try:
            triage.change_status(
                ctx.store(), alert_id, body.status, body.comment, actor=who.actor,
                at=audit.iso_now(ctx.clock()), client_ip=client_ip(request),
            )  # fmt: skip
            results[alert_id] = "changed"
        except ConsoleError as refused:
            if isinstance(refused, InputError):
                raise  # the same for every alert: a bad status or an empty comment
            results[alert_id] = str(refused)
    return {"to": body.status, "results": results}


@router.get("/{alert_id}", responses={**_REFUSALS, 404: {}})
def show_alert(
    request: Request, who: Viewer, alert_id: Annotated[str, Path(max_length=64)]
) -> dict[str, Any]:
    """The alert with its rule (author, link), finding, enrichment and triage history."""
    found = alert_query.get_alert(context_of(request).store().connection, alert_id)
    if found is None:
        raise NotFoundError(f"no alert {alert_id}")
    return found


@router.post("/{alert_id}/status", responses={**_REFUSALS, 404: {}, 409: {}})
def set_status(request: Request, who: Analyst, alert_id: str, body: StatusChange) -> dict[str, Any]:
    """open -> acknowledged -> resolved | false_positive, with a comment (audited)."""
    ctx = context_of(request)
    at = audit.iso_now(ctx.clock())
    old = triage.change_status(
        ctx.store(), alert_id, body.status, body.comment, actor=who.actor, at=at,
        client_ip=client_ip(request),
    )  # fmt: skip
    return {"id": alert_id, "from": old, "to": body.status, "at": at}


@router.post("/{alert_id}/assign", responses={**_REFUSALS, 404: {}})
def assign(request: Request, who: Analyst, alert_id: str, body: Assignment) -> dict[str, Any]:
    """Give the alert to a user, or to nobody (audited)."""
    ctx = context_of(request)
    at = audit.iso_now(ctx.clock())
    triage.assign(
        ctx.store(), alert_id, body.assignee, body.comment, actor=who.actor, at=at,
        client_ip=client_ip(request),
    )  # fmt: skip
    return {"id": alert_id, "assignee": body.assignee, "at": at}
