"""The gateway's scan workers flag links to domains new to the organisation's mail
(``mail.newly_seen_domain``) from the store's history, and its recorder adds every
relayed message's domains to that history: a real gateway process, real SMTP."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
from gw_util import GatewayProcess, Sink, send

from floodwall.store.db import open_store
from floodwall.store.mail_domains import MailDomainStore

pytestmark = pytest.mark.timeout(180)


def message(token: str, link: str) -> bytes:
    return (
        "From: Billing <billing@supplier.example>\r\nTo: bob@example.net\r\n"
        f"Subject: Statement {token}\r\nMessage-ID: <{token}@supplier.example>\r\n"
        f"X-Test-Token: {token}\r\nContent-Type: text/html\r\n\r\n"
        f'<p>Your statement: <a href="{link}">view</a></p>\r\n'
    ).encode()


def test_gateway_flags_new_link_domains_and_learns_them(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    month_ago = time.time() - 30 * 86_400
    with open_store(data) as store:  # a month of mail history before this test
        MailDomainStore(store).observe([(["supplier.example"], month_ago)])
    sink = Sink().start()
    gw = GatewayProcess(data, sink.port, tmp_path / "gw.log", "--workers", "1")
    try:
        gw.start()
        assert send(gw.port, message("usual", "https://portal.supplier.example/s"))[0] == 250
        assert send(gw.port, message("fresh", "https://statement-view.example/x"))[0] == 250
        sink.wait_for(2)
        assert gw.terminate() == 0
    finally:
        if gw.proc is not None and gw.proc.poll() is None:
            gw.proc.kill()
        sink.close()
    db = sqlite3.connect(data / "floodwall.db")
    rows = dict(db.execute("SELECT subject, symbols FROM messages").fetchall())
    learned = dict(db.execute("SELECT domain, messages FROM mail_domains").fetchall())
    db.close()
    ids = {s: [x["id"] for x in json.loads(v)] for s, v in rows.items()}
    assert "mail.newly_seen_domain" not in ids["Statement usual"]
    assert "mail.newly_seen_domain" in ids["Statement fresh"]
    assert learned == {"supplier.example": 3, "statement-view.example": 1}


def test_in_process_scanner_keeps_its_history_on_its_own_thread(tmp_path: Path) -> None:
    """``--workers 0``: the pool scans on one thread of the gateway process; the history's
    SQLite connection is made and written on it, and what it saw is written at close."""
    import asyncio

    from floodwall.mail.scan_pool import ScanConfig, ScanPool
    from floodwall.respond.policy import Policy
    from floodwall.settings import Settings

    settings = Settings(data_dir=tmp_path / "data")
    config = ScanConfig(settings, Policy.load(), use_clamd=False, use_history=True)

    async def run() -> None:
        pool = ScanPool(config, workers=0)
        await pool.start()
        session = ("203.0.113.5", "billing@supplier.example", "mail.supplier.example")
        await pool.scan(message("local", "https://statement-view.example/x"), "t", session)
        await pool.close()

    asyncio.run(run())
    db = sqlite3.connect(tmp_path / "data" / "floodwall.db")
    learned = dict(db.execute("SELECT domain, messages FROM mail_domains").fetchall())
    db.close()
    assert learned == {"supplier.example": 1, "statement-view.example": 1}
