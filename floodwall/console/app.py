"""The console's web application: ``create_app(settings)`` gives the FastAPI app.

The REST API lives under ``/api`` (OpenAPI at ``/api/openapi.json``); the web pages
are an APIRouter in ``floodwall/console/ui/``, left out of the OpenAPI document. Every
route but ``/api/health``, the OpenAPI document and the login itself needs
credentials (``auth.require``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from floodwall import __version__
from floodwall.console import api_admin, api_alerts, api_data, api_quarantine, login, metrics
from floodwall.console.context import ConsoleConfig, ConsoleContext, utc_now
from floodwall.console.errors import ConsoleError
from floodwall.console.passwords import PasswordHasherAdapter
from floodwall.console.ui import routes as ui_routes
from floodwall.settings import Settings

# Headers on every answer (OWASP Secure Headers Project): no framing, no sniffing, and
# a CSP that allows only this origin's scripts and styles. "same-origin" sends no
# referrer to other sites, while the console's own form posts and fetches keep a real
# Origin (with "no-referrer", Chromium sends "Origin: null", which auth.is_same_origin
# refuses; Referrer Policy §3, Fetch §3.2.5).
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class Health(BaseModel):
    status: str
    schema_version: int


def create_app(
    settings: Settings,
    config: ConsoleConfig | None = None,
    *,
    hasher: PasswordHasherAdapter | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> FastAPI:
    """The console app over ``settings.data_dir``; opens the store per worker thread."""
    ctx = ConsoleContext(settings, config or ConsoleConfig(), hasher=hasher, clock=clock)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        ctx.close()

    app = FastAPI(
        title="Floodwall console API",
        version=__version__,
        openapi_url="/api/openapi.json",
        # Swagger UI would load its script from a CDN, and the console has no internet
        # and allows no third-party script: the OpenAPI document is what is served.
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.console = ctx
    app.state.origins = None

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        # W3C Server Timing: the time spent in the app, for the browser's dev tools and
        # bench/bench_console.py (server time without the network).
        spent = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = f"app;dur={spent:.1f}"
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(ConsoleError)
    async def console_error(request: Request, exc: ConsoleError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's 422 echoes the input back; keep the locations and messages only.
        problems: list[dict[str, Any]] = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors()
        ]
        return JSONResponse({"detail": problems}, status_code=422)

    @app.get("/api/health", tags=["health"])
    def health(request: Request) -> Health:
        """Liveness and the store's schema version; needs no credentials."""
        store = ctx.store()
        store.connection.execute("SELECT 1").fetchone()
        return Health(status="ok", schema_version=store.schema_version)

    app.include_router(login.router)
    app.include_router(api_alerts.router)
    app.include_router(api_quarantine.router)
    app.include_router(api_data.router)
    app.include_router(api_admin.router)
    app.include_router(metrics.router)
    app.include_router(ui_routes.router)
    return app
