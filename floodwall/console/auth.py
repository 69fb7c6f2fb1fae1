"""FastAPI dependencies: who is calling, may they, and did a browser prove intent.

A caller is a session (cookie ``fw_session``) or an API token (``Authorization: Bearer``,
RFC 6750 §2.1). Cookies are HttpOnly, SameSite=Strict, and Secure whenever the console
is reached over TLS (RFC 6265bis §4.1.2). Every state-changing request made with a
session must carry the session's CSRF token in ``X-CSRF-Token`` or a ``csrf_token``
form field, and must not come from another origin (``is_same_origin``); tokens need
neither, as browsers never attach them on their own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request, Response
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from floodwall.console.context import ConsoleContext
from floodwall.console.roles import Principal, Role
from floodwall.console.sessions import NewSession, is_csrf_match

SESSION_COOKIE = "fw_session"
CSRF_COOKIE = "fw_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Declared as security schemes so the OpenAPI document says how to authenticate; both
# are optional here and the decision is ours (401 vs 403), not FastAPI's.
_bearer = HTTPBearer(auto_error=False, description="API token: fw_<id>_<secret>")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="browser session")


def context_of(request: Request) -> ConsoleContext:
    """The app's ConsoleContext (set by create_app)."""
    ctx: ConsoleContext = request.app.state.console
    return ctx


def client_ip(request: Request) -> str:
    """The peer address. Forwarded headers are not trusted: anyone can write them."""
    return request.client.host if request.client else ""


def is_secure_request(request: Request) -> bool:
    """True when cookies must be Secure: configured so, or this request came over TLS."""
    forced = context_of(request).config.secure_cookies
    return forced if forced is not None else request.url.scheme == "https"


def optional_principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> Principal | None:
    """The caller, or None. A bearer header that fails is not rescued by a cookie."""
    ctx = context_of(request)
    if request.headers.get("authorization"):
        if bearer is None or bearer.scheme.lower() != "bearer":
            return None
        return ctx.tokens().lookup(bearer.credentials)
    if cookie:
        return ctx.sessions().lookup(cookie)
    return None


def _unauthorized() -> HTTPException:
    return HTTPException(
        status_code=401,
        detail="sign in, or send an API token as Authorization: Bearer",
        headers={"WWW-Authenticate": 'Bearer realm="floodwall"'},
    )


def is_same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another origin, or hides it.

    Browsers send ``Origin`` on every POST (Fetch §3.2.5). The console's pages are
    served with ``Referrer-Policy: same-origin``, so its own form posts and fetches
    carry its real origin; ``null`` comes from opaque origins (sandboxed frames,
    ``data:`` pages) or a stricter referrer policy, and is refused like another site.
    No ``Origin`` at all is a non-browser client (curl, scripts): the CSRF token or the
    bearer token is what protects those."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    if origin == "null":
        return False
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def _check_csrf(request: Request, who: Principal) -> None:
    """Refuse a session's state change from another origin, or one that does not echo
    the session's CSRF token."""
    if who.via != "session" or request.method in SAFE_METHODS:
        return
    if not is_same_origin(request):
        raise HTTPException(status_code=403, detail="a change from another site is refused")
    given = request.headers.get(CSRF_HEADER)
    content_type = request.headers.get("content-type", "")
    if given is None and content_type.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()  # cached by Starlette: the route reads it again
        field = form.get(CSRF_FIELD)
        given = field if isinstance(field, str) else None
    if not is_csrf_match(who.csrf, given):
        raise HTTPException(status_code=403, detail="missing or wrong CSRF token")


def require(role: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller, who must hold ``role`` (401 when anonymous, 403 when
    the role or the CSRF token falls short)."""

    async def dependency(
        request: Request,
        who: Annotated[Principal | None, Depends(optional_principal)],
    ) -> Principal:
        if who is None:
            raise _unauthorized()
        if not who.is_allowed(role):
            raise HTTPException(
                status_code=403,
                detail=f"this needs the {role.label} role; you act as {who.role.label}",
            )
        await _check_csrf(request, who)
        return who

    dependency.__name__ = f"require_{role.label}"
    return dependency


Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Analyst = Annotated[Principal, Depends(require(Role.ANALYST))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]


def set_session_cookies(request: Request, response: Response, new: NewSession) -> None:
    """The session cookie (HttpOnly) and the CSRF cookie (readable by the page's script)."""
    secure = is_secure_request(request)
    max_age = int(context_of(request).config.session_lifetime.total_seconds())
    response.set_cookie(
        SESSION_COOKIE, new.token, max_age=max_age, path="/", secure=secure,
        httponly=True, samesite="strict",
    )  # fmt: skip
    response.set_cookie(
        CSRF_COOKIE, new.csrf, max_age=max_age, path="/", secure=secure,
        httponly=False, samesite="strict",
    )  # fmt: skip


def clear_session_cookies(request: Request, response: Response) -> None:
    secure = is_secure_request(request)
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/", secure=secure, samesite="strict")
