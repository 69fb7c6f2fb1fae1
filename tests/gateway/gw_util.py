"""Test parts for the gateway: a next-hop sink and a gateway running in this process.

Both are real SMTP servers on loopback. The sink's socket is bound before anything
starts (port 0, no race) and may stay unlistened for a while: connecting then gets
"connection refused", which is how a next hop that is down looks.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import re
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from floodwall.ingest.smtp_source import LongLineSMTP, SmtpSource
from floodwall.mail.delivery import RetryPolicy
from floodwall.mail.gateway import Gateway, GatewayConfig
from floodwall.mail.recorder import GatewayRecorder
from floodwall.mail.scan_pool import ScanConfig, ScanPool
from floodwall.respond.policy import Policy
from floodwall.settings import Settings

TEST_POLICY = """
[thresholds]
tag = 4.0
quarantine = 8.0
reject = 15.0
[unscannable]
action = "quarantine"
[weights]
"mail.auth_fail" = 5.0
"mail.rtlo_filename" = 5.0
"mail.html_smuggling" = 10.0
"mail.dangerous_attachment" = 20.0
[severity_weights]
informational = 0.0
low = 0.0
medium = 0.0
high = 0.0
critical = 0.0
"""
"""Verdicts the tests can count on, whatever the shipped weights become: auth_fail
and rtlo_filename alone tag, html_smuggling quarantines, a dangerous attachment rejects."""

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "detect" / "mail"
SPOOL_ID = re.compile(rb"^X-Floodwall-Spool-Id: ([0-9a-f]{24})\r?$", re.M)
TOKEN = re.compile(rb"^X-Test-Token: (\S+)\r?$", re.M)


def sample(name: str) -> bytes:
    """A harmless attack sample's bytes, CRLF line ends as on the wire."""
    data = (SAMPLES / name / "sample.eml").read_bytes()
    return re.sub(rb"(?<!\r)\n", b"\r\n", data)


def ham(token: str, body: str = "hello there") -> bytes:
    """A plain message that every policy accepts, marked with ``token``."""
    return (
        f"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: note {token}\r\n"
        f"Message-ID: <{token}@example.org>\r\nX-Test-Token: {token}\r\n\r\n{body}\r\n"
    ).encode()


@dataclass(frozen=True)
class Got:
    """One message the sink accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes

    @property
    def spool_id(self) -> str:
        m = SPOOL_ID.search(self.data)
        return m.group(1).decode() if m else ""

    @property
    def token(self) -> str:
        m = TOKEN.search(self.data)
        return m.group(1).decode() if m else ""

    def headers(self) -> email.message.EmailMessage:
        msg = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(msg, email.message.EmailMessage)
        return msg


@dataclass
class SinkHandler:
    """Keeps every message; ``delay`` seconds before each DATA reply."""

    delay: float = 0.0
    data_reply: str = "250 2.0.0 Ok: queued"
    received: list[Got] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    busy: int = 0  # DATA replies being prepared now

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.busy += 1
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            self.busy -= 1
        if self.data_reply.startswith("250"):
            # Kept as a real MTA keeps it: once the final dot is in, whether or not the
            # client is still there to read the 250.
            assert envelope.original_content is not None
            got = Got(str(envelope.mail_from), tuple(envelope.rcpt_tos), envelope.original_content)
            with self.lock:
                self.received.append(got)
        return self.data_reply


class _BoundController(Controller):
    def __init__(self, handler: Any, sock: socket.socket, **kwargs: Any) -> None:
        self._sock = sock
        host, port = sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, **kwargs)

    def factory(self) -> SMTP:
        return LongLineSMTP(self.handler, **self.SMTP_kwargs)

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._sock)


class Sink:
    """The next hop. ``start()`` serves; until then its port refuses connections."""

    def __init__(self, handler: SinkHandler | None = None) -> None:
        self.handler = handler or SinkHandler()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.host, self.port = "127.0.0.1", int(self.sock.getsockname()[1])
        self._controller: _BoundController | None = None

    @property
    def received(self) -> list[Got]:
        with self.handler.lock:
            return list(self.handler.received)

    def start(self) -> Sink:
        self.sock.listen(64)
        self._controller = _BoundController(self.handler, self.sock, enable_SMTPUTF8=True)
        self._controller.start()
        return self

    def close(self) -> None:
        if self._controller is not None:
            self._controller.stop()
        self.sock.close()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Got]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise AssertionError(f"sink got {len(self.received)} message(s), expected {count}")


class InProcessGateway:
    """A gateway on 127.0.0.1 (free port) in a thread with its own event loop."""

    def __init__(
        self,
        data_dir: Path,
        relay_port: int,
        *,
        policy: Policy | None = None,
        workers: int = 0,
        max_size: int = 1 << 20,
        tls: ssl.SSLContext | None = None,
        require_tls: bool = False,
        hop_down_after: int = 3,
        hop_down_hold: float = 30.0,
        retry_first: float = 0.2,
        port: int = 0,
        keep_in_memory: int = 256,
        mail_dns: str = "off",
    ) -> None:
        settings = Settings(data_dir=data_dir, mail_dns=mail_dns)
        policy = policy or Policy.load()
        config = GatewayConfig(
            relay_host="127.0.0.1", relay_port=relay_port, hostname="gw.test",
            retry=RetryPolicy(first=retry_first, cap=1.0), hop_down_after=hop_down_after,
            hop_down_hold=hop_down_hold, relay_timeout=10.0, grace=10.0,
            keep_in_memory=keep_in_memory,
        )  # fmt: skip
        scanner = ScanPool(ScanConfig(settings, policy, use_clamd=False), workers=workers)
        self.gateway = Gateway(data_dir, config, scanner, GatewayRecorder(data_dir))
        self.source = SmtpSource(
            self.gateway.on_message, "127.0.0.1", port, hostname="gw.test", tls_context=tls,
            require_tls=require_tls, max_size=max_size,
        )  # fmt: skip
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def call(self, fn: Callable[[], Any], timeout: float = 60.0) -> Any:
        return asyncio.run_coroutine_threadsafe(fn(), self.loop).result(timeout)

    @property
    def port(self) -> int:
        return self.source.port

    def __enter__(self) -> InProcessGateway:
        self._thread.start()
        self.call(self.gateway.start)
        self.call(self.source.start)
        return self

    def abort(self) -> None:
        """After a failed ``__enter__``: stop the loop's thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def wait_idle(self, timeout: float = 30.0) -> None:
        self.call(self.gateway.queue.wait_idle, timeout)

    def __exit__(self, *exc: object) -> None:
        try:
            self.call(lambda: self.source.stop(10.0))
            self.call(self.gateway.stop)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()

    def client(self) -> smtplib.SMTP:
        return smtplib.SMTP("127.0.0.1", self.port, timeout=60)


def send(port: int, data: bytes, rcpt: tuple[str, ...] = ("bob@example.net",)) -> tuple[int, str]:
    """One message over a fresh connection; returns the DATA reply (code, text)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        smtp.ehlo("client.test")
        code, _ = smtp.mail("alice@example.org")
        assert code == 250
        for r in rcpt:
            code, text = smtp.rcpt(r)
            assert code == 250, text
        code, text = smtp.data(data)
        return code, text.decode()


REPO = Path(__file__).resolve().parents[2]


class GatewayProcess:
    """``python -m floodwall gateway`` as a child process, on a free port."""

    def __init__(self, data_dir: Path, relay_port: int, log: Path, *extra: str) -> None:
        self.data_dir, self.relay_port, self.log, self.extra = data_dir, relay_port, log, extra
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self, timeout: float = 60.0) -> int:
        args = [
            sys.executable, "-m", "floodwall", "gateway", "--listen", "127.0.0.1:0",
            "--relay", f"127.0.0.1:{self.relay_port}", "--data", str(self.data_dir),
            "--hostname", "gw.test", *self.extra,
        ]  # fmt: skip
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(
                args, cwd=REPO, stdout=subprocess.PIPE, stderr=err,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = b""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line or b"listening on" in line:
                break
        m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", line)
        if m is None:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"gateway did not start: {self.log.read_text()[-2000:]}")
        self.port = int(m.group(1))
        return self.port

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self._close()

    def terminate(self, timeout: float = 60.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self._close()
        return code

    def _close(self) -> None:
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
