"""The console's web pages: ``router`` is mounted by ``console/app.py``.

Pages are rendered on the server from the same modules the REST API uses; the little
script there is (``static/console.js``) calls the API for state changes, sending the
session's CSRF token in ``X-CSRF-Token``. A visitor without a session is sent to the
login page (303, RFC 9110 §15.4.4) instead of getting the API's 401.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from floodwall.console import alert_query
from floodwall.console.auth import context_of, optional_principal
from floodwall.console.dashboard import technique_names, technique_url
from floodwall.console.errors import InputError
from floodwall.console.roles import Principal, Role
from floodwall.console.ui import charts
from floodwall.store.campaigns import CampaignStore
from floodwall.store.figures_records import FIRST_DAY, LAST_DAY
from floodwall.store.quarantine import QuarantineError, QuarantineStore
from floodwall.store.quarantine_records import STATUSES as QUARANTINE_STATUSES

HERE = Path(__file__).parent
STATIC = {
    "console.css": "text/css",
    "console.js": "text/javascript",
    "favicon.svg": "image/svg+xml",  # else a browser asks for /favicon.ico and gets a 404
}
LEVELS = ("informational", "low", "medium", "high", "critical")
PAGE = 50  # alerts per page of the queue
CAMPAIGNS_SHOWN = 200
MEMBERS_SHOWN = 200

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals.update(
    sparkline=charts.sparkline, hbars=charts.hbars, split_bar=charts.split_bar,
    columns=charts.columns, technique_url=technique_url, technique_names=technique_names,
    pairs=charts.pairs,
)  # fmt: skip

Who = Annotated[Principal | None, Depends(optional_principal)]


def _to_login(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def _render(
    request: Request, who: Principal | None, name: str, code: int = 200, **values: Any
) -> Response:
    values.update(
        who=who,
        can_act=who is not None and who.is_allowed(Role.ANALYST),
        csrf=who.csrf if who else "",
        page=name.removesuffix(".html"),
    )
    answer = templates.TemplateResponse(request, name, values, status_code=code)
    answer.headers["Cache-Control"] = "no-store"
    return answer


@router.get("/static/{name}")
def static(name: str) -> Response:
    """The console's own CSS and script; nothing else is served from the folder."""
    if name not in STATIC:
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(
        HERE / "static" / name, media_type=STATIC[name], headers={"Cache-Control": "max-age=300"}
    )


@router.get("/login")
def login_page(
    request: Request,
    who: Who,
    failed: Annotated[int | None, Query()] = None,
    next: Annotated[str, Query(max_length=2000)] = "/",
) -> Response:
    messages = {
        401: "Wrong name or password.",
        403: "That login was refused (it came from another site).",
        429: "Too many failed logins: wait a little and try again.",
    }
    error = messages.get(failed or 0, "Sign-in failed.") if failed else ""
    return _render(request, who, "login.html", error=error, next=next)


@router.get("/")
def dashboard(
    request: Request,
    who: Who,
    day: Annotated[date | None, Query(ge=FIRST_DAY, le=LAST_DAY)] = None,
) -> Response:
    if who is None:
        return _to_login(request)
    ctx = context_of(request)
    shown = day or ctx.clock().astimezone(UTC).date()
    # The same data, code path and trend cache as GET /api/dashboard.
    view = ctx.dashboards.dashboard(ctx.store(), shown, home_country=ctx.settings.home_country)
    return _render(request, who, "dashboard.html", view=view)


def _iso_day(value: str) -> str | None:
    """A YYYY-MM-DD day as the alerts' ``created`` text at 00:00 UTC; ValueError if bad."""
    if not value:
        return None
    day = date.fromisoformat(value)
    return datetime(day.year, day.month, day.day, tzinfo=UTC).isoformat(timespec="microseconds")


@router.get("/alerts")
def alerts_page(
    request: Request,
    who: Who,
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
    level: Annotated[str | None, Query(max_length=20)] = None,
    source: Annotated[str | None, Query(max_length=10)] = None,
    origin: Annotated[str | None, Query(max_length=10)] = None,
    country: Annotated[str | None, Query(max_length=2)] = None,
    technique: Annotated[str | None, Query(max_length=20)] = None,
    campaign: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:
    if who is None:
        return _to_login(request)
    # The filter form sends every field, empty ones as "": empty means "any".
    chosen = {
        "since": since, "until": until, "level": level or "", "source": source or "",
        "origin": origin or "", "country": country or "", "technique": technique or "",
        "campaign": campaign or "", "status": status or "",
    }  # fmt: skip
    error = ""
    try:
        flt = alert_query.AlertFilter(
            since=_iso_day(since), until=_iso_day(until), level=level or None,
            source=source or None, origin=origin or None, country=country or None,
            technique=technique or None, campaign=campaign or None, status=status or None,
        )  # fmt: skip
    except ValueError:
        flt = alert_query.AlertFilter()
        error = "dates are YYYY-MM-DD"
    items: list[dict[str, Any]] = []
    following: str | None = None
    if not error:
        try:
            conn = context_of(request).store().connection
            items, following = alert_query.list_alerts(conn, flt, limit=PAGE, cursor=cursor or None)
        except InputError as exc:
            error = str(exc)
    kept = {k: v for k, v in chosen.items() if v}
    next_url = f"/alerts?{urlencode({**kept, 'cursor': following})}" if following else ""
    return _render(
        request, who, "alerts.html", code=400 if error else 200, items=items, error=error,
        chosen=chosen, next_url=next_url, first_url=f"/alerts?{urlencode(kept)}",
        paged=cursor is not None, levels=LEVELS, sources=alert_query.SOURCES,
        origins=alert_query.ORIGINS, statuses=alert_query.STATUSES,
    )  # fmt: skip


@router.get("/alerts/{alert_id}")
def alert_page(request: Request, who: Who, alert_id: str) -> Response:
    if who is None:
        return _to_login(request)
    found = alert_query.get_alert(context_of(request).store().connection, alert_id[:64])
    if found is None:
        return _render(request, who, "missing.html", code=404, what=f"alert {alert_id[:64]}")
    return _render(request, who, "alert.html", alert=found)


def _quarantine(request: Request) -> QuarantineStore:
    ctx = context_of(request)
    return QuarantineStore(ctx.store(), ctx.settings.data_dir / "quarantine")


@router.get("/quarantine")
def quarantine_page(
    request: Request, who: Who, status: Annotated[str, Query(max_length=20)] = "held"
) -> Response:
    if who is None:
        return _to_login(request)
    shown = status if status in (*QUARANTINE_STATUSES, "any") else "held"
    held = _quarantine(request).list(None if shown == "any" else shown, limit=200)
    return _render(
        request, who, "quarantine.html", items=held, status=shown,
        statuses=(*QUARANTINE_STATUSES, "any"),
        relay=context_of(request).settings.gateway_relay,
    )  # fmt: skip


@router.get("/quarantine/{qid}")
def message_page(request: Request, who: Who, qid: str) -> Response:
    if who is None:
        return _to_login(request)
    try:
        # Looking at a held message is itself recorded (quarantine_audit "show").
        msg = _quarantine(request).show(qid[:64], actor=who.actor)
    except (QuarantineError, ValueError):
        return _render(request, who, "missing.html", code=404, what=f"message {qid[:64]}")
    history = _quarantine(request).audit(msg.id)
    return _render(
        request, who, "message.html", msg=msg, history=history,
        relay=context_of(request).settings.gateway_relay,
    )  # fmt: skip


@router.get("/campaigns")
def campaigns_page(request: Request, who: Who) -> Response:
    if who is None:
        return _to_login(request)
    # The same rows as GET /api/campaigns and ``floodwall campaigns`` (store/campaigns.py).
    found = CampaignStore(context_of(request).store()).list_campaigns(limit=CAMPAIGNS_SHOWN)
    return _render(request, who, "campaigns.html", items=found)


@router.get("/campaigns/{cid}")
def campaign_page(request: Request, who: Who, cid: str) -> Response:
    if who is None:
        return _to_login(request)
    campaigns = CampaignStore(context_of(request).store())
    found = campaigns.get(cid[:100])
    if found is None:
        return _render(request, who, "missing.html", code=404, what=f"campaign {cid[:100]}")
    members = campaigns.members(found.id, limit=MEMBERS_SHOWN)
    timeline = charts.day_series(found.timeline)
    return _render(request, who, "campaign.html", c=found, members=members, timeline=timeline)
