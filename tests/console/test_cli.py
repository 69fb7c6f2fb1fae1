"""``floodwall audit verify`` and ``floodwall serve``, run as the user runs them."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from floodwall.cli.main import main
from floodwall.console import audit
from floodwall.store.db import DB_NAME, open_store


def _fill(data: Path, n: int) -> None:
    with open_store(data) as store:
        for i in range(n):
            with store.write() as conn:
                audit.append(conn, actor="ann", action="alert_status", target=f"a{i}")


def _tamper(data: Path, sql: str) -> None:
    """Edit the file directly, as an intruder would: drop the triggers, then change it."""
    conn = sqlite3.connect(data / DB_NAME)
    try:
        conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        conn.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        conn.execute(sql)
        conn.commit()
    finally:
        conn.close()


def test_audit_verify_intact_then_edited(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    _fill(data, 4)
    assert main(["audit", "verify", "--data", str(data)]) == 0
    out = capsys.readouterr().out
    head = re.search(r"head (\d+:[0-9a-f]{64})", out)
    assert head is not None and "4 entries" in out
    _tamper(data, "UPDATE audit_log SET target = 'other' WHERE seq = 2")
    assert main(["audit", "verify", "--data", str(data)]) == 1
    err = capsys.readouterr().err
    assert "BROKEN at entry 2" in err and "edited" in err


@pytest.mark.parametrize(
    ("sql", "first_bad"),
    [("DELETE FROM audit_log WHERE seq = 2", 3), ("DELETE FROM audit_log WHERE seq = 4", 4)],
)
def test_audit_verify_finds_removal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sql: str, first_bad: int
) -> None:
    data = tmp_path / "data"
    _fill(data, 4)
    _tamper(data, sql)
    assert main(["audit", "verify", "--data", str(data)]) == 1
    assert f"BROKEN at entry {first_bad}" in capsys.readouterr().err


def test_audit_verify_anchor_usage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    _fill(data, 2)
    assert main(["audit", "verify", "--data", str(data), "--anchor", "nonsense"]) == 2
    wrong = "2:" + "0" * 64
    assert main(["audit", "verify", "--data", str(data), "--anchor", wrong]) == 1
    assert "anchor" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(60)
def test_serve_prints_address_and_a_one_time_admin_password(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "FLOODWALL_ADMIN_PASSWORD"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "floodwall", "serve", "--listen", f"127.0.0.1:{port}",
         "--data", str(tmp_path / "data")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        assert f"http://127.0.0.1:{port}/" in lines[0]
        found = re.search(r"user 'admin' with password\s+(\S+)", "".join(lines))
        assert found is not None, lines
        password = found.group(1)
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "serve did not answer"
                time.sleep(0.1)
        assert health.status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/api/alerts").status_code == 401
        login = httpx.post(
            f"http://127.0.0.1:{port}/api/login", json={"name": "admin", "password": password}
        )
        assert login.status_code == 200 and login.json()["role"] == "admin"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
    # A bad address is a usage error, said plainly.
    again = subprocess.run(
        [sys.executable, "-m", "floodwall", "serve", "--listen", "bad", "--data",
         str(tmp_path / "data")],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert again.returncode == 2 and "HOST:PORT" in again.stderr
