"""kill -9 at several moments, restart, and every accepted message is finished once.

The gateway runs as a real child process (``python -m floodwall gateway``), clients
send over several connections, and the gateway is killed: while clients are in the
middle of DATA, while the next hop is holding a delivery, and while a restart is
recovering. After the last restart the spool drains and we check:

- every message that got ``250`` reached the next hop or the quarantine (none lost);
- a message reached the next hop twice only when the gateway said, at its restart,
  that a delivery of it was under way when it died (the one window SMTP cannot close:
  the next hop's ``250`` arrived, but our record of it did not reach the disk), and
  both copies carry the same ``X-Floodwall-Spool-Id``;
- each message is counted once in the store and held at most once.
"""

from __future__ import annotations

import re
import smtplib
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from gw_util import TEST_POLICY, GatewayProcess, Sink, SinkHandler, ham, sample, send

pytestmark = pytest.mark.timeout(300)


class Clients:
    """Threads sending numbered messages to whatever port the gateway has now; like a
    real client, one that gets no reply or a 4xx tries the same message again."""

    def __init__(self, count: int, threads: int = 4) -> None:
        self.port = 0
        self.replies: dict[str, int] = {}  # token -> final DATA reply code
        self.unanswered: set[str] = set()  # tokens sent at least once without a reply
        self._todo = list(range(count))
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        self.paused = threading.Event()

    def _next(self) -> int | None:
        with self._lock:
            return self._todo.pop(0) if self._todo else None

    def _run(self) -> None:
        while (n := self._next()) is not None:
            while self.paused.is_set():
                time.sleep(0.01)
            token = f"m{n:04d}"
            if n % 10 == 7:  # some mail for the quarantine too
                data = f"X-Test-Token: {token}\r\n".encode() + sample("html_smuggling")
            else:
                data = ham(token)
            for _ in range(2000):
                try:
                    code, _ = send(self.port, data)
                except (OSError, AssertionError, smtplib.SMTPException):
                    code = 0  # the gateway died under us, or is not up yet
                if code in (250, 550):
                    break
                with self._lock:
                    if code == 0:
                        self.unanswered.add(token)
                time.sleep(0.05)
            with self._lock:
                self.replies[token] = code

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def join(self) -> None:
        for t in self._threads:
            t.join(120)

    def accepted(self) -> int:
        with self._lock:
            return sum(1 for c in self.replies.values() if c == 250)


def wait(condition: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_kill_9_loses_nothing_and_delivers_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "policy.toml").write_text(TEST_POLICY)
    log = tmp_path / "gateway.log"
    handler = SinkHandler()
    sink = Sink(handler).start()
    args = ("--workers", "1", "--retry-first", "0.2", "--hop-down-hold", "1")
    clients = Clients(240)
    kills = 0
    try:
        gw = GatewayProcess(data, sink.port, log, *args)
        clients.port = gw.start()
        clients.start()

        # 1. While clients are sending (some are mid-DATA).
        wait(lambda: clients.accepted() >= 40)
        gw.kill9()
        kills += 1
        clients.port = gw.start()

        # 2. While the next hop holds a delivery (it has the message, we lack its 250).
        handler.delay = 0.3
        wait(lambda: clients.accepted() >= 100)
        wait(lambda: handler.busy > 0)
        gw.kill9()
        kills += 1
        handler.delay = 0.0
        clients.paused.set()  # 3. At restart, while recovery is delivering.
        clients.port = gw.start()
        gw.kill9()
        kills += 1
        clients.paused.clear()
        clients.port = gw.start()

        clients.join()
        queue = data / "spool" / "queue"
        wait(lambda: not list(queue.iterdir()), timeout=120)
        assert gw.terminate() == 0
    finally:
        sink.close()

    text = log.read_text()
    assert kills == 3
    accepted = {t for t, c in clients.replies.items() if c == 250}
    assert len(accepted) > 150, "too few accepted for the test to mean anything"
    ham_ok = {t for t in accepted if int(t[1:]) % 10 != 7}
    held_ok = accepted - ham_ok

    got = Counter(g.token for g in sink.received)
    lost = ham_ok - set(got)
    assert not lost, f"accepted and never delivered: {sorted(lost)}"

    flagged = set(re.findall(r"spool ([0-9a-f]{24}): a delivery was under way", text))
    by_spool_id = Counter(g.spool_id for g in sink.received)
    twice = {sid for sid, n in by_spool_id.items() if n > 1}
    assert twice <= flagged, f"delivered twice without warning: {sorted(twice - flagged)}"
    # A token may also come twice under two spool ids: its client got no reply to a
    # DATA that was in fact accepted, and sent it again (RFC 1047); nothing else may.
    resent = {t for t, n in got.items() if n > 1 and len({g.spool_id for g in sink.received
                                                          if g.token == t}) > 1}  # fmt: skip
    assert resent <= clients.unanswered
    print(f"{len(accepted)} accepted, {kills} kills, {len(twice)} duplicate(s) in the window,"
          f" {len(resent)} resent by clients")  # fmt: skip

    conn = sqlite3.connect(data / "floodwall.db")
    try:
        counted = conn.execute(
            "SELECT path, COUNT(*) FROM messages WHERE source = 'gateway' GROUP BY path"
        ).fetchall()
        held = conn.execute("SELECT hold_key, file FROM quarantine").fetchall()
    finally:
        conn.close()
    assert all(n == 1 for _, n in counted), "a message was counted twice"
    assert len(counted) >= len(accepted)  # every accepted one (and some cut off) counted
    held_tokens = Counter(
        re.search(rb"X-Test-Token: (\S+)", (data / "quarantine" / f).read_bytes()).group(1).decode()  # type: ignore[union-attr]
        for _, f in held
    )
    assert held_ok <= set(held_tokens), "accepted for the quarantine and not held"
    twice_held = {t for t, n in held_tokens.items() if n > 1}
    assert twice_held <= clients.unanswered, "a message was held twice"
