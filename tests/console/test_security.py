"""The console's own defences over real HTTP: cookie flags, CSRF on every state change,
the failed-login rate limit, login CSRF and open redirects, audit of sign-ins."""

from __future__ import annotations

from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest
from console_util import PASSWORD, LiveConsole, build_console, client, live_server, sign_in

from floodwall.console import audit
from floodwall.console.context import ConsoleConfig
from floodwall.console.passwords import PasswordHasherAdapter
from floodwall.console.ratelimit import LoginLimits


def test_session_cookie_flags(live: LiveConsole) -> None:
    with closing(client(live.base)) as c:
        r = c.post("/api/login", json={"name": "viewer", "password": PASSWORD})
        assert r.status_code == 200
        cookies = {h.split("=", 1)[0]: h for h in r.headers.get_list("set-cookie")}
        session = cookies["fw_session"].lower()
        assert "httponly" in session and "samesite=strict" in session and "path=/" in session
        assert "secure" not in session  # plain HTTP on loopback: a Secure cookie would vanish
        csrf = cookies["fw_csrf"].lower()
        assert "httponly" not in csrf and "samesite=strict" in csrf
        assert r.json()["csrf"] in cookies["fw_csrf"]
        assert r.json()["csrf"] not in cookies["fw_session"]


def test_secure_cookies_when_configured(tmp_path: Path, hasher: PasswordHasherAdapter) -> None:
    app, store, *_ = build_console(tmp_path, hasher, config=ConsoleConfig(secure_cookies=True))
    with live_server(app) as base, closing(client(base)) as c:
        r = c.post("/api/login", json={"name": "viewer", "password": PASSWORD})
        assert all("secure" in h.lower() for h in r.headers.get_list("set-cookie"))
    store.close()


def test_state_changes_need_the_csrf_token(live: LiveConsole) -> None:
    alert = live.alerts[0]
    body = {"status": "acknowledged", "comment": "seen"}
    with closing(sign_in(live.base, "analyst", PASSWORD)) as c:
        token = c.headers.pop("X-CSRF-Token")
        missing = c.post(f"/api/alerts/{alert}/status", json=body)
        assert missing.status_code == 403 and "CSRF" in missing.text
        wrong = c.post(f"/api/alerts/{alert}/status", json=body, headers={"X-CSRF-Token": "x"})
        assert wrong.status_code == 403
        # The readable cookie alone proves nothing: a page must copy it into the header.
        assert c.cookies.get("fw_csrf") == token
        assert c.post("/api/logout").status_code == 403
        ok = c.post(f"/api/alerts/{alert}/status", json=body, headers={"X-CSRF-Token": token})
        assert ok.status_code == 200, ok.text
        # A form post carries it as a field instead.
        form = c.post("/logout", data={"csrf_token": token})
        assert form.status_code == 303 and form.headers["location"] == "/login"
        assert c.get("/api/me").status_code == 401  # the session is gone
    # Another session's token does not fit this one.
    with (
        closing(sign_in(live.base, "analyst", PASSWORD)) as a,
        closing(sign_in(live.base, "admin", PASSWORD)) as b,
    ):
        a.headers["X-CSRF-Token"] = b.headers["X-CSRF-Token"]
        body2 = {"status": "resolved", "comment": "done"}
        assert a.post(f"/api/alerts/{alert}/status", json=body2).status_code == 403
    # Bearer tokens need none: browsers never send them on their own.
    with closing(client(live.base, token=live.tokens["triage"])) as t:
        body3 = {"status": "resolved", "comment": "closed by the bot"}
        assert t.post(f"/api/alerts/{alert}/status", json=body3).status_code == 200


def test_failed_logins_are_rate_limited(tmp_path: Path, hasher: PasswordHasherAdapter) -> None:
    limits = LoginLimits(per_user=3, per_ip=6, window=timedelta(minutes=15))
    app, store, *_ = build_console(tmp_path, hasher, config=ConsoleConfig(login_limits=limits))
    with live_server(app) as base, closing(client(base)) as c:
        wrong = {"name": "viewer", "password": "not the password"}
        codes = [c.post("/api/login", json=wrong).status_code for _ in range(3)]
        assert codes == [401, 401, 401]
        limited = c.post("/api/login", json={"name": "viewer", "password": PASSWORD})
        assert limited.status_code == 429  # even the right password waits
        assert int(limited.headers["retry-after"]) > 0
        # Per address: spraying other names from the same address runs out too.
        spray = [
            c.post("/api/login", json={"name": f"u{i}", "password": "x" * 12}).status_code
            for i in range(4)
        ]
        assert spray[:3] == [401, 401, 401] and spray[3] == 429
        assert (
            c.post("/login", data={"name": "admin", "password": PASSWORD}).headers["location"]
            == "/login?failed=429"
        )
    actions = [e.action for e in audit.entries(store.connection, limit=50)]
    assert actions.count("login_failed") == 6 and actions.count("login_throttled") >= 2
    store.close()


def test_form_login_redirects_only_to_local_paths(live: LiveConsole) -> None:
    with closing(client(live.base)) as c:
        form = {"name": "viewer", "password": PASSWORD}
        for target, expected in [
            ("/alerts?status=open", "/alerts?status=open"),
            ("https://evil.example/", "/"),
            ("//evil.example/", "/"),
            ("/\\evil.example", "/"),
        ]:
            r = c.post("/login", data={**form, "next": target})
            assert r.status_code == 303 and r.headers["location"] == expected, target
        bad = c.post("/login", data={"name": "viewer", "password": "wrong password!"})
        assert bad.headers["location"] == "/login?failed=401"


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://127.0.0.1:1"])
def test_login_from_another_site_is_refused(live: LiveConsole, origin: str) -> None:
    with closing(client(live.base)) as c:
        r = c.post(
            "/api/login",
            json={"name": "viewer", "password": PASSWORD},
            headers={"Origin": origin},
        )
        assert r.status_code == 403
        form = c.post("/login", data={"name": "viewer", "password": PASSWORD},
                      headers={"Origin": origin})  # fmt: skip
        assert form.headers["location"] == "/login?failed=403"
        assert "fw_session" not in c.cookies
        ours = c.post("/api/login", json={"name": "viewer", "password": PASSWORD},
                      headers={"Origin": live.base})  # fmt: skip
        assert ours.status_code == 200


@pytest.mark.parametrize("origin", ["https://evil.example", "null"])
def test_state_change_from_another_origin_is_refused_even_with_the_token(
    live: LiveConsole, origin: str
) -> None:
    alert = live.alerts[1]
    body = {"status": "acknowledged", "comment": "seen"}
    with closing(sign_in(live.base, "analyst", PASSWORD)) as c:
        refused = c.post(f"/api/alerts/{alert}/status", json=body, headers={"Origin": origin})
        assert refused.status_code == 403 and "another site" in refused.text
        assert c.get(f"/api/alerts/{alert}").json()["status"] == "open"
        form = c.post("/logout", data={"csrf_token": c.headers["X-CSRF-Token"]},
                      headers={"Origin": origin})  # fmt: skip
        assert form.status_code == 403
        # Reads are not state changes; the page's own origin is accepted.
        assert c.get("/api/me", headers={"Origin": origin}).status_code == 200
        ok = c.post(f"/api/alerts/{alert}/status", json=body, headers={"Origin": live.base})
        assert ok.status_code == 200, ok.text


def test_sign_ins_and_failures_are_audited_without_passwords(live: LiveConsole) -> None:
    with closing(client(live.base)) as c:
        c.post("/api/login", json={"name": "viewer", "password": "wrong password!"})
    with closing(sign_in(live.base, "viewer", PASSWORD)):
        pass
    rows = audit.entries(live.store.connection, limit=20)
    assert [r.action for r in rows][:2] == ["login", "login_failed"]
    assert all(PASSWORD not in str(r) and "wrong password" not in str(r) for r in rows)
    assert rows[0].client_ip == "127.0.0.1"
    assert audit.verify(live.store.connection).is_intact


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer x y", "Basic YWRtaW46eA==", "Bearer fw_zz_zz", "Bearer " + "A" * 10_000],
)
def test_malformed_authorization_is_401(live: LiveConsole, header: str) -> None:
    with closing(client(live.base)) as c:
        r = c.get("/api/alerts", headers={"Authorization": header})
        assert r.status_code == 401


def test_security_headers(live: LiveConsole) -> None:
    with closing(client(live.base)) as c:
        r = c.get("/api/health")
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["cache-control"] == "no-store"
        # The same referrer policy on the API and the pages: nothing leaks off-site, and
        # the console's own posts carry a real Origin (see auth.is_same_origin).
        assert r.headers["referrer-policy"] == "same-origin"
        assert c.get("/login").headers["referrer-policy"] == "same-origin"
