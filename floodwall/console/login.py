"""Signing in and out, for the JSON API and for server-rendered forms.

``POST /api/login`` answers JSON with the CSRF token; ``POST /login`` takes a form and
redirects (303, RFC 9110 §15.4.4) to a local page. Both set the same cookies. A login
is refused for 429 (Retry-After, RFC 6585 §4) once a name or an address has failed
too often; every attempt, right or wrong, is in the audit log.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from floodwall.console import audit
from floodwall.console.auth import (
    SESSION_COOKIE,
    Viewer,
    clear_session_cookies,
    client_ip,
    context_of,
    is_same_origin,
    require,
    set_session_cookies,
)
from floodwall.console.roles import Principal, Role
from floodwall.console.sessions import NewSession

router = APIRouter()


class LoginBody(BaseModel):
    name: str = Field(max_length=200)
    password: str = Field(max_length=1024)


class SessionInfo(BaseModel):
    """Who is signed in, and the CSRF token to echo in ``X-CSRF-Token``."""

    name: str
    role: str
    via: str
    csrf: str | None = None


def _sign_in(request: Request, name: str, password: str) -> tuple[Principal, NewSession]:
    ctx = context_of(request)
    ip = client_ip(request)
    # Login CSRF (a cross-site form signing the victim in as the attacker) is refused.
    if not is_same_origin(request):
        raise HTTPException(status_code=403, detail="login from another site is refused")
    wait = ctx.limiter.retry_after(name, ip)
    if wait is not None:
        with ctx.store().write() as conn:
            audit.append(
                conn, actor=name, action="login_throttled", client_ip=ip,
                at=audit.iso_now(ctx.clock()),
            )  # fmt: skip
        raise HTTPException(
            status_code=429,
            detail="too many failed logins; try again later",
            headers={"Retry-After": str(max(1, int(wait + 0.999)))},
        )
    users = ctx.users()
    user = users.get(name)
    # Checked even for an unknown name (against a dummy hash): the same time either way.
    ok = ctx.hasher.is_valid(user.password_hash if user else None, password)
    if user is None or not ok or user.disabled:
        ctx.limiter.record_failure(name, ip)
        with ctx.store().write() as conn:
            audit.append(
                conn, actor=name, action="login_failed", client_ip=ip,
                at=audit.iso_now(ctx.clock()),
            )  # fmt: skip
        raise HTTPException(status_code=401, detail="wrong name or password")
    ctx.limiter.record_success(name)
    if ctx.hasher.is_outdated(user.password_hash):
        users.rehash(user.id, password)
    new = ctx.sessions().create(user.id, client_ip=ip)
    with ctx.store().write() as conn:
        audit.append(
            conn, actor=user.name, action="login", client_ip=ip, at=audit.iso_now(ctx.clock())
        )
    who = Principal(user.id, user.name, user.role, "session", None, new.csrf)
    return who, new


@router.post("/api/login", tags=["session"], responses={401: {}, 403: {}, 429: {}})
def api_login(body: LoginBody, request: Request, response: Response) -> SessionInfo:
    """Sign in; sets the session cookie and returns the CSRF token."""
    who, new = _sign_in(request, body.name, body.password)
    set_session_cookies(request, response, new)
    return SessionInfo(name=who.name, role=who.role.label, via="session", csrf=new.csrf)


def _local_path(target: str) -> str:
    """Only a path on this site: an open redirect would let a phishing link borrow us."""
    parts = urlsplit(target)
    is_local = target.startswith("/") and not target.startswith("//") and "\\" not in target
    if not is_local or parts.scheme or parts.netloc:
        return "/"
    return target


@router.post("/login", tags=["session"], response_class=RedirectResponse, status_code=303)
def form_login(
    request: Request,
    name: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Sign in from an HTML form; redirects to ``next`` (a local path), or back to
    ``/login?failed=<status>`` when refused."""
    try:
        _, new = _sign_in(request, name, password)
    except HTTPException as refused:
        headers = dict(refused.headers or {})
        headers["Location"] = f"/login?failed={refused.status_code}"
        return Response(status_code=303, headers=headers)
    answer = RedirectResponse(_local_path(next), status_code=303)
    set_session_cookies(request, answer, new)
    return answer


def _sign_out(request: Request, who: Principal) -> None:
    ctx = context_of(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    if who.via == "session" and token:
        ctx.sessions().end(token)
    with ctx.store().write() as conn:
        audit.append(
            conn, actor=who.actor, action="logout", client_ip=client_ip(request),
            at=audit.iso_now(ctx.clock()),
        )  # fmt: skip


@router.post("/api/logout", tags=["session"], status_code=204, responses={401: {}, 403: {}})
def api_logout(request: Request, who: Viewer) -> Response:
    """End this session (CSRF token required)."""
    _sign_out(request, who)
    answer = Response(status_code=204)
    clear_session_cookies(request, answer)
    return answer


@router.post("/logout", tags=["session"], response_class=RedirectResponse, status_code=303)
def form_logout(
    request: Request, who: Annotated[Principal, Depends(require(Role.VIEWER))]
) -> Response:
    """End this session from an HTML form (``csrf_token`` field); redirects to /login."""
    _sign_out(request, who)
    answer = RedirectResponse("/login", status_code=303)
    clear_session_cookies(request, answer)
    return answer


@router.get("/api/me", tags=["session"], responses={401: {}})
def me(who: Viewer) -> SessionInfo:
    """The caller: name, role, and for a session its CSRF token."""
    return SessionInfo(name=who.name, role=who.role.label, via=who.via, csrf=who.csrf)
