"""The console in a real browser: ``floodwall serve`` as its own process over a data dir
filled by the real pipeline (hunt on the sample logs, mail scan of real phishing and
harmless attack samples, two messages held), driven by Playwright with Debian's
chromium. Screenshots of every page go to $FLOODWALL_SCREENSHOTS (default: the temp folder).
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from floodwall.console.passwords import PasswordHasherAdapter
from floodwall.console.roles import Role
from floodwall.console.users import UserStore
from floodwall.ingest.mail_source import RawMail
from floodwall.mail.detectors import build_detectors
from floodwall.mail.scan import scan_message
from floodwall.normalize.mime import parse_message
from floodwall.records import Origin
from floodwall.respond.policy import Policy
from floodwall.settings import Settings
from floodwall.store.db import open_store
from floodwall.store.quarantine import QuarantineStore

if "smtp_sink" not in sys.modules:
    _spec = importlib.util.spec_from_file_location(
        "smtp_sink", Path(__file__).resolve().parents[2] / "respond" / "smtp_sink.py"
    )
    assert _spec is not None and _spec.loader is not None
    sys.modules["smtp_sink"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["smtp_sink"])
from smtp_sink import SinkHandler, smtp_sink

CHROMIUM = Path("/usr/bin/chromium")
playwright_sync = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]

TESTS = Path(__file__).resolve().parents[2]
SAMPLES = TESTS / "samples"
# FLOODWALL_SCREENSHOTS chooses where; by default the system temp folder (printed per shot).
SHOTS = Path(
    os.environ.get("FLOODWALL_SCREENSHOTS") or Path(tempfile.gettempdir()) / "floodwall-screenshots"
)
PHISHING = TESTS.parents[1] / "shared" / "data" / "mail" / "phishing_pot"
ATTACKS = ("double_extension", "macro_autoexec", "html_smuggling", "lookalike_link")
PASSWORD = {"ana": "analyst passphrase 4 tests", "vic": "viewer passphrase 4 tests"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def floodwall(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "floodwall", *argv], capture_output=True, text=True,
        timeout=240, env=env, check=False,
    )  # fmt: skip


def fill(data: Path) -> list[str]:
    """The sample data through the real pipeline; returns the held messages' ids."""
    logs = [str(SAMPLES / "ingest" / "evtx"), str(SAMPLES / "ingest" / "ndjson")]
    done = floodwall("hunt", "--data", str(data), "--format", "jsonl", "--workers", "1", *logs)
    assert done.returncode in (0, 1), done.stderr
    mails = [str(SAMPLES / "detect" / "mail" / name / "sample.eml") for name in ATTACKS]
    if PHISHING.is_dir():
        # 60 real phishing mails: enough for campaigns to form (shared senders, hosts).
        mails += [str(p) for p in sorted(PHISHING.glob("*.eml"))[:60]]
    done = floodwall("mail", "scan", "--data", str(data), "--format", "jsonl", *mails)
    assert done.returncode in (0, 1), done.stderr
    done = floodwall("campaigns", "build", "--data", str(data))  # as the demo does
    assert done.returncode == 0, done.stderr
    detectors = build_detectors(Settings(data_dir=data), None)
    policy = Policy.load(None)
    held: list[str] = []
    with open_store(data) as store:
        quarantine = QuarantineStore(store, data / "quarantine")
        for name in ATTACKS[:2]:
            raw = (SAMPLES / "detect" / "mail" / name / "sample.eml").read_bytes()
            raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            result = scan_message(parse_message(RawMail(Origin(name, 1), raw)), detectors, policy)
            held.append(
                quarantine.hold(raw, result, mail_from="billing@example.com",
                                rcpt_to=[f"{name}@example.org"], key=name)
            )  # fmt: skip
        users = UserStore(store, PasswordHasherAdapter(), lambda: datetime.now(UTC))
        users.create("ana", Role.ANALYST, PASSWORD["ana"], actor="test")
        users.create("vic", Role.VIEWER, PASSWORD["vic"], actor="test")
    return held


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("console") / "data"
    with smtp_sink() as (sink, host, port):
        data.mkdir()
        (data / "floodwall.toml").write_text(
            f'[gateway]\nrelay = "{host}:{port}"\n[origin]\nhome_country = "DE"\n'
        )
        held = fill(data)
        web = free_port()
        env = {**os.environ, "FLOODWALL_ADMIN_PASSWORD": "admin passphrase 4 tests"}
        log = (data / "serve.log").open("w")
        server = subprocess.Popen(
            [sys.executable, "-m", "floodwall", "serve", "--listen", f"127.0.0.1:{web}",
             "--data", str(data)],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        base = f"http://127.0.0.1:{web}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/api/health", timeout=2) as answer:
                        if answer.status == 200:
                            break
                except OSError:
                    pass
                assert server.poll() is None, (data / "serve.log").read_text()
                assert time.monotonic() < deadline, "floodwall serve did not come up"
                time.sleep(0.2)
            yield {"base": base, "data": data, "sink": sink, "held": held}
        finally:
            server.terminate()
            server.wait(timeout=20)
            log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield chromium
        chromium.close()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def sign_in(browser: Any, base: str, name: str) -> Any:
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.errors = errors
    page.goto(f"{base}/alerts")
    assert "/login" in page.url  # no session: sent to sign in
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD[name])
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/alerts$"))
    return page


def number(page: Any, selector: str) -> int:
    return int(page.inner_text(f"{selector} .num").strip())


def test_login_refuses_a_wrong_password(browser: Any, console: dict[str, Any]) -> None:
    page = browser.new_page()
    page.goto(f"{console['base']}/login")
    shot(page, "login")
    page.fill("input[name=name]", "ana")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert "Wrong name or password" in page.inner_text("#login-error")
    page.close()


def test_dashboard_shows_the_stores_figures(browser: Any, console: dict[str, Any]) -> None:
    from floodwall.store.figures import daily_figures

    page = sign_in(browser, console["base"], "ana")
    page.goto(f"{console['base']}/")
    today = datetime.now(UTC).date()
    with open_store(console["data"]) as store:
        want = daily_figures(store, today, home_country="DE")
    assert want.seen > 0  # the scanned attack mail counts today
    assert number(page, "#fig-seen") == want.seen
    assert number(page, "#fig-blocked") == want.blocked
    assert number(page, "#fig-through") == want.got_through
    assert page.locator("svg.spark").count() == 3
    assert page.locator("#intake tbody tr").count() >= 1
    shot(page, "dashboard")
    assert page.errors == []


def test_filter_and_acknowledge_an_alert(browser: Any, console: dict[str, Any]) -> None:
    page = sign_in(browser, console["base"], "ana")
    total = page.locator("#queue tbody tr[data-id]").count()
    assert total > 0
    shot(page, "alerts")
    page.select_option("select[name=source]", "logs")
    page.select_option("select[name=status]", "open")
    page.click("#filters button[type=submit]")
    page.wait_for_url(re.compile(r"source=logs"))
    rows = page.locator("#queue tbody tr[data-id]")
    assert 0 < rows.count() <= total
    for i in range(rows.count()):
        assert rows.nth(i).locator("td.status").inner_text() == "open"
    first_id = rows.nth(0).get_attribute("data-id")
    # Keyboard: j selects the first row, a acknowledges it with the comment given.
    page.fill("#bulk-comment", "seen in the lab run, tracked")
    page.locator("#bulk-comment").blur()
    page.keyboard.press("j")
    page.keyboard.press("a")
    page.wait_for_function(
        "id => document.querySelector(`tr[data-id='${id}'] td.status`).textContent"
        " === 'acknowledged'",
        arg=first_id,
    )
    page.goto(f"{console['base']}/alerts/{first_id}")
    assert page.inner_text("#alert-status").startswith("acknowledged")
    assert "seen in the lab run" in page.inner_text("#history")
    shot(page, "alert")
    page.goto(f"{console['base']}/alerts?status=acknowledged")
    assert page.locator(f"tr[data-id='{first_id}']").count() == 1
    # Bulk: two ticked alerts change in one request to the bulk endpoint.
    page.goto(f"{console['base']}/alerts?status=open")
    picked = [page.locator("#queue tbody tr[data-id]").nth(i) for i in range(2)]
    ids = [row.get_attribute("data-id") for row in picked]
    for row in picked:
        row.locator("input.pick").check()
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.fill("#bulk-comment", "lab noise")
    page.click("#bulk button[data-status=false_positive]")
    page.wait_for_function(
        "ids => ids.every(id => document.querySelector(`tr[data-id='${id}'] td.status`)"
        ".textContent === 'false_positive')",
        arg=ids,
    )
    assert posts == [f"{console['base']}/api/alerts/bulk/status"]
    assert page.errors == []


def test_release_reaches_the_sink(browser: Any, console: dict[str, Any]) -> None:
    sink: SinkHandler = console["sink"]
    qid = console["held"][0]
    page = sign_in(browser, console["base"], "ana")
    page.goto(f"{console['base']}/quarantine")
    assert page.locator("#held tbody tr[data-href]").count() == len(console["held"])
    shot(page, "quarantine")
    page.goto(f"{console['base']}/quarantine/{qid}")
    shot(page, "message")
    before = len(sink.received)
    page.fill("#act-reason", "false positive: the customer's invoice")
    page.click("button[data-act=release]")
    page.wait_for_function(
        "() => document.querySelector('#msg-status').textContent.startsWith('released')"
    )
    assert len(sink.received) == before + 1
    assert sink.received[-1].rcpt_tos == ("double_extension@example.org",)
    assert "release" in page.inner_text("#msg-audit")
    assert page.errors == []


def test_viewer_cannot_release(browser: Any, console: dict[str, Any]) -> None:
    sink: SinkHandler = console["sink"]
    qid = console["held"][1]
    page = sign_in(browser, console["base"], "vic")
    page.goto(f"{console['base']}/quarantine/{qid}")
    assert page.locator("button[data-act=release]").is_disabled()
    assert "need the analyst role" in page.inner_text("#role-note")
    # Past the disabled button, straight to the API with the viewer's own session.
    status = page.evaluate(
        """async (qid) => {
            const csrf = document.querySelector('meta[name="csrf-token"]').content;
            const r = await fetch('/api/quarantine/' + qid + '/release', {method: 'POST',
                headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
                body: JSON.stringify({reason: 'viewer tries'})});
            return r.status; }""",
        qid,
    )
    assert status == 403
    before = len(sink.received)
    page.reload()
    assert page.inner_text("#msg-status").startswith("held")
    assert len(sink.received) == before
    shot(page, "message-viewer")
    page.goto(f"{console['base']}/campaigns")
    shot(page, "campaigns")
    with open_store(console["data"]) as store:
        built = store.connection.execute(
            "SELECT id, alert_count + message_count FROM campaigns ORDER BY last_seen DESC, id"
        ).fetchall()
    assert page.locator("#campaigns tbody tr[data-href]").count() == len(built)
    if not PHISHING.is_dir():
        pytest.skip("no campaigns form without the phishing corpus (../shared/data)")
    assert built, "60 phishing mails formed no campaign"
    page.click(f"#campaigns a[href='/campaigns/{built[0][0]}']")
    assert page.locator("#shared-keys tbody tr").count() >= 1
    assert page.locator("#members tbody tr").count() == min(built[0][1], 200)
    shot(page, "campaign")
    # No bulk actions for a viewer in the queue either.
    page.goto(f"{console['base']}/alerts")
    assert page.locator("#bulk").count() == 0
    # The only console error is the refused fetch above.
    assert [e for e in page.errors if "status of 403" not in e] == []
