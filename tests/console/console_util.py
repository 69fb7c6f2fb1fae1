"""Test helpers shared by the console tests (registered by conftest.py as ``console_util``):
a settable clock, a live console on loopback (real uvicorn, real HTTP), and sample data."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from floodwall.console.app import create_app
from floodwall.console.context import ConsoleConfig, utc_now
from floodwall.console.passwords import PasswordHasherAdapter
from floodwall.console.roles import Role
from floodwall.console.tokens import TokenStore
from floodwall.console.users import UserStore
from floodwall.ingest.mail_source import RawMail
from floodwall.mail.scan import ScanResult
from floodwall.normalize.mime import parse_message
from floodwall.records import Finding, Origin, Severity
from floodwall.respond.policy import Policy
from floodwall.settings import Settings
from floodwall.store.alerts import AlertStore
from floodwall.store.db import Store, open_store
from floodwall.store.quarantine import QuarantineStore


class ManualClock:
    """A clock the test moves by hand (session expiry, token expiry, rate-limit windows)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 in a thread; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the console did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()


@dataclass(frozen=True)
class SampleAlert:
    rule_id: str
    level: Severity
    attack: tuple[str, ...]
    ip: str | None
    country: str | None
    origin: str
    host: str


SAMPLES: tuple[SampleAlert, ...] = (
    SampleAlert("sigma.a1", Severity.HIGH, ("T1059.001",), "203.0.113.9", "RU", "abroad", "ws1"),
    SampleAlert("sigma.a2", Severity.LOW, ("T1110",), "198.51.100.7", "DE", "domestic", "ws2"),
    SampleAlert(
        "mail.double_extension", Severity.HIGH, ("T1566.001",), "192.0.2.1", "CN", "abroad", "mx"
    ),
    SampleAlert("sigma.a3", Severity.CRITICAL, ("T1041",), None, None, "unknown", "db1"),
    SampleAlert(
        "mail.macro_autoexec",
        Severity.MEDIUM,
        ("T1566.001", "T1204.002"),
        "10.0.0.5",
        None,
        "internal",
        "mx",
    ),
)


def add_alerts(store: Store, samples: Sequence[SampleAlert], start: datetime) -> list[str]:
    """Store ``samples`` through AlertStore, one hour apart from ``start``; returns ids."""
    findings = [Finding(s.rule_id, f"title {s.rule_id}", s.level, attack=s.attack) for s in samples]
    contexts: list[dict[str, Any]] = [
        {
            "source": {"ip": s.ip, "geo": {"country_iso_code": s.country}} if s.ip else {},
            "origin": {"class": s.origin, "reason": "test"},
        }
        for s in samples
    ]
    AlertStore(store).add_findings(None, findings, contexts)
    ids = [r[0] for r in store.connection.execute("SELECT id FROM alerts ORDER BY rowid")]
    ids = ids[-len(samples) :]
    with store.write() as conn:
        for i, (aid, s) in enumerate(zip(ids, samples, strict=True)):
            created = (start + timedelta(hours=i)).isoformat(timespec="microseconds")
            conn.execute(
                "UPDATE alerts SET created = ?, host = ? WHERE id = ?", (created, s.host, aid)
            )
    return ids


def client(base: str, *, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base, headers=headers, timeout=30, follow_redirects=False)


def sign_in(base: str, name: str, password: str) -> httpx.Client:
    """A client holding a session; its CSRF token is sent on every request."""
    c = client(base)
    r = c.post("/api/login", json={"name": name, "password": password})
    r.raise_for_status()
    c.headers["X-CSRF-Token"] = r.json()["csrf"]
    return c


HELD_MAIL = (
    b"From: Accounts <billing@example.com>\r\nTo: victim@example.org\r\n"
    b"Subject: Invoice\r\nMessage-ID: <inv@example.com>\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\n\r\nSee the invoice.\r\n"
    b"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
    b'Content-Disposition: attachment; filename="invoice.pdf.exe"\r\n\r\n'
    b"TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n"
    b"--b--\r\n"
)


def hold_sample(store: Store, data_dir: Path, raw: bytes = HELD_MAIL) -> str:
    """Hold ``raw`` in the quarantine with a real policy verdict; returns its id."""
    msg = parse_message(RawMail(Origin("test.eml", 1), raw))
    findings = [
        Finding("mail.double_extension", "double extension", Severity.HIGH,
                evidence={"reason": "poses as .pdf", "attachment": "invoice.pdf.exe"})
    ]  # fmt: skip
    result = ScanResult(msg, tuple(findings), Policy.load(None).decide(findings, msg.unscannable))
    q = QuarantineStore(store, data_dir / "quarantine")
    return q.hold(raw, result, mail_from="billing@example.com", rcpt_to=["victim@example.org"])


PASSWORD = "correct horse battery"


@dataclass
class LiveConsole:
    """A running console: its URL, its store, users per role, tokens and sample data."""

    base: str
    data: Path
    store: Store
    alerts: list[str]
    tokens: dict[str, str] = field(default_factory=dict)
    token_ids: dict[str, str] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)


def build_console(
    tmp_path: Path,
    hasher: PasswordHasherAdapter,
    *,
    relay: str = "",
    config: ConsoleConfig | None = None,
) -> tuple[FastAPI, Store, list[str], dict[str, str], dict[str, str]]:
    data = tmp_path / "data"
    store = open_store(data)
    users = UserStore(store, hasher, utc_now)
    users.ensure_admin({"FLOODWALL_ADMIN_PASSWORD": PASSWORD})
    ids: dict[str, int] = {"admin": users.need("admin").id}
    for name, role in (("analyst", Role.ANALYST), ("viewer", Role.VIEWER),
                       ("target", Role.VIEWER)):  # fmt: skip
        ids[name] = users.create(name, role, PASSWORD, actor="admin").id
    tokens = TokenStore(store, utc_now)
    made = {
        "narrow": tokens.create(ids["analyst"], "narrow", "read", expires_days=None, actor="t"),
        "revoked": tokens.create(ids["analyst"], "old", "triage", expires_days=None, actor="t"),
        "triage": tokens.create(ids["analyst"], "bot", "triage", expires_days=None, actor="t"),
        "victim": tokens.create(ids["target"], "victim", "read", expires_days=None, actor="t"),
    }
    tokens.revoke(made["revoked"].record.id, actor="admin")
    alerts = add_alerts(store, SAMPLES, datetime.now(UTC) - timedelta(hours=6))
    with store.write() as conn:
        conn.execute("UPDATE alerts SET campaign_id = 'camp-1' WHERE id IN (?, ?)", alerts[:2])
        # A campaign row as floodwall/store/campaigns.py builds it (two alerts share an ASN).
        conn.execute(
            "INSERT INTO campaigns (id, first_seen, last_seen, alert_count, message_count,"
            " target_count, shared_keys, origin_confidence, updated)"
            ' VALUES (\'camp-1\', ?, ?, 2, 0, 2, \'[{"key": "asn:64500", "members": 2}]\','
            " 'medium', ?)",
            ("2026-11-24T06:00:00", "2026-11-24T07:00:00", "2026-11-24T08:00:00"),
        )
    settings = Settings(data_dir=data, gateway_relay=relay)
    app = create_app(settings, config, hasher=hasher)
    return (
        app, store, alerts,
        {k: v.token for k, v in made.items()}, {k: v.record.id for k, v in made.items()},
    )  # fmt: skip
