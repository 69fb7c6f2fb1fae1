"""Every route of the OpenAPI document, called as each kind of caller, answers as its
required role says: 401 without valid credentials, 403 below the role, and otherwise
an answer (2xx for reads). A route missing from ROUTES fails the test, so a new
endpoint cannot ship without being classified here."""

from __future__ import annotations

from contextlib import ExitStack, closing
from typing import Any

import httpx
import pytest
from console_util import PASSWORD, LiveConsole, client, sign_in

from floodwall.console.roles import Role

PUBLIC = "public"

#: (method, path) -> the role it needs, or PUBLIC.
ROUTES: dict[tuple[str, str], str | Role] = {
    ("GET", "/api/health"): PUBLIC,
    ("POST", "/api/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("GET", "/api/me"): Role.VIEWER,
    ("GET", "/api/alerts"): Role.VIEWER,
    ("GET", "/api/alerts/{alert_id}"): Role.VIEWER,
    ("POST", "/api/alerts/{alert_id}/status"): Role.ANALYST,
    ("POST", "/api/alerts/{alert_id}/assign"): Role.ANALYST,
    ("POST", "/api/alerts/bulk/status"): Role.ANALYST,
    ("GET", "/api/quarantine"): Role.VIEWER,
    ("GET", "/api/quarantine/{qid}"): Role.VIEWER,
    ("POST", "/api/quarantine/{qid}/download"): Role.ANALYST,
    ("POST", "/api/quarantine/{qid}/release"): Role.ANALYST,
    ("POST", "/api/quarantine/{qid}/delete"): Role.ANALYST,
    ("GET", "/api/dashboard"): Role.VIEWER,
    ("GET", "/api/figures/day"): Role.VIEWER,
    ("GET", "/api/figures/range"): Role.VIEWER,
    ("GET", "/api/campaigns"): Role.VIEWER,
    ("GET", "/api/campaigns/{campaign_id}"): Role.VIEWER,
    ("GET", "/api/intel/lookup"): Role.VIEWER,
    ("GET", "/api/tokens"): Role.VIEWER,
    ("POST", "/api/tokens"): Role.VIEWER,
    ("DELETE", "/api/tokens/{token_id}"): Role.VIEWER,
    ("PUT", "/api/users/{name}/password"): Role.VIEWER,
    ("GET", "/api/users"): Role.ADMIN,
    ("POST", "/api/users"): Role.ADMIN,
    ("PATCH", "/api/users/{name}"): Role.ADMIN,
    ("GET", "/api/audit"): Role.ADMIN,
    ("GET", "/api/audit/verify"): Role.ADMIN,
    ("GET", "/metrics"): Role.VIEWER,
    ("POST", "/api/logout"): Role.VIEWER,
    ("POST", "/logout"): Role.VIEWER,
}

# Callers: (name, role they act as, or None for "no valid credentials").
CALLERS: tuple[tuple[str, Role | None], ...] = (
    ("anonymous", None),
    ("revoked token", None),
    ("garbage token", None),
    ("viewer", Role.VIEWER),
    ("analyst token scoped read", Role.VIEWER),
    ("analyst", Role.ANALYST),
    ("triage token", Role.ANALYST),
    ("admin", Role.ADMIN),
)


def _request(live: LiveConsole, method: str, path: str, caller: str) -> dict[str, Any]:
    """Real ids for the path, and a valid body, so an allowed call can succeed."""
    held = live.extras["held"]
    url = (
        path.replace("{alert_id}", live.alerts[0])
        .replace("{qid}", held)
        .replace("{campaign_id}", "camp-1")
        .replace("{token_id}", live.token_ids["victim"])
        .replace("{name}", "target")
    )
    tag = caller.replace(" ", "-")
    bodies: dict[str, Any] = {
        "/api/login": {"json": {"name": "nobody", "password": "not the password"}},
        "/login": {"data": {"name": "nobody", "password": "not the password"}},
        "/api/alerts/{alert_id}/status": {"json": {"status": "acknowledged", "comment": tag}},
        "/api/alerts/{alert_id}/assign": {"json": {"assignee": "analyst"}},
        "/api/alerts/bulk/status": {
            "json": {"ids": live.alerts[2:4], "status": "resolved", "comment": tag}
        },
        "/api/quarantine/{qid}/download": {"json": {"reason": f"walk {tag}"}},
        "/api/quarantine/{qid}/release": {"json": {"reason": f"walk {tag}"}},
        "/api/quarantine/{qid}/delete": {"json": {"reason": f"walk {tag}"}},
        "/api/tokens": {"json": {"name": f"walk {tag}", "scope": "read"}},
        "/api/users/{name}/password": {"json": {"password": PASSWORD + "!"}},
        "/api/users": {"json": {"name": f"walk-{tag}", "role": "viewer", "password": PASSWORD}},
        "/api/users/{name}": {"json": {"role": "viewer"}},
    }
    params: dict[str, Any] = {
        "/api/figures/range": {"start": "2026-11-01", "end": "2026-11-24"},
        "/api/intel/lookup": {"value": "203.0.113.9"},
    }
    return {"method": method, "url": url, **bodies.get(path, {}), "params": params.get(path)}


def _callers(live: LiveConsole) -> dict[str, httpx.Client]:
    return {
        "anonymous": client(live.base),
        "revoked token": client(live.base, token=live.tokens["revoked"]),
        "garbage token": client(live.base, token="fw_000000000000_" + "x" * 43),
        "viewer": sign_in(live.base, "viewer", PASSWORD),
        "analyst token scoped read": client(live.base, token=live.tokens["narrow"]),
        "analyst": sign_in(live.base, "analyst", PASSWORD),
        "triage token": client(live.base, token=live.tokens["triage"]),
        "admin": sign_in(live.base, "admin", PASSWORD),
    }


def test_openapi_lists_exactly_the_classified_routes(live: LiveConsole) -> None:
    doc = httpx.get(f"{live.base}/api/openapi.json").json()
    listed = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    ui = {r for r in listed if not r[1].startswith(("/api/", "/metrics", "/login", "/logout"))}
    assert listed - ui == set(ROUTES), "classify every API route in ROUTES"


def test_every_route_with_every_caller(live: LiveConsole) -> None:
    doc = httpx.get(f"{live.base}/api/openapi.json").json()
    routes = [(m.upper(), p) for p, ops in doc["paths"].items() for m in ops]
    known = [r for r in routes if r in ROUTES]
    # Sign-outs last: they end the sessions the other calls use.
    known.sort(key=lambda r: r[1].endswith("logout"))
    checked = 0
    with ExitStack() as stack:
        clients: dict[str, httpx.Client] = {}
        for method, path in known:
            if not clients or path.endswith("logout"):  # fresh sessions for each sign-out
                clients = _callers(live)
                for c in clients.values():
                    stack.callback(c.close)
            needed = ROUTES[(method, path)]
            for caller, acts_as in CALLERS:
                answer = clients[caller].request(**_request(live, method, path, caller))
                code = answer.status_code
                where = f"{caller}: {method} {path} -> {code} {answer.text[:200]}"
                checked += 1
                assert code < 500, where
                if needed == PUBLIC:
                    continue
                if acts_as is None:
                    assert code == 401, where
                    assert "WWW-Authenticate" in answer.headers, where
                elif acts_as < needed:
                    assert code == 403, where
                else:
                    assert code not in (401, 403), where
                    if method == "GET":
                        assert 200 <= code < 300, where
    assert checked == len(known) * len(CALLERS) and len(known) == len(ROUTES)


def test_viewer_cannot_release_and_analyst_can(live: LiveConsole) -> None:
    held = live.extras["held"]
    body = {"reason": "user asked, checked the sender"}
    with closing(sign_in(live.base, "viewer", PASSWORD)) as viewer:
        refused = viewer.post(f"/api/quarantine/{held}/release", json=body)
        assert refused.status_code == 403
    with client(live.base, token=live.tokens["narrow"]) as narrow:
        assert narrow.post(f"/api/quarantine/{held}/release", json=body).status_code == 403
    assert live.extras["sink"].received == []
    with closing(sign_in(live.base, "analyst", PASSWORD)) as analyst:
        done = analyst.post(f"/api/quarantine/{held}/release", json=body)
        assert done.status_code == 200, done.text
        again = analyst.post(f"/api/quarantine/{held}/release", json=body)
        assert again.status_code == 409
    (delivery,) = live.extras["sink"].received
    assert delivery.rcpt_tos == ("victim@example.org",)
    assert b"invoice.pdf.exe" in delivery.data


@pytest.mark.parametrize("path", ["/api/alerts", "/api/openapi.json", "/api/health"])
def test_fixed_paths(live: LiveConsole, path: str) -> None:
    answer = httpx.get(live.base + path)
    if path == "/api/alerts":
        assert answer.status_code == 401
    else:
        assert answer.status_code == 200
