"""Hostile input over SMTP: refused by the protocol limits, or held as unscannable.

Never a crash, a hang, unbounded memory, or a silent pass: every message is either
refused with an error the client sees (and keeps the message), or accepted, counted,
and held.
"""

from __future__ import annotations

import json
import resource
import smtplib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from gw_util import InProcessGateway, Sink, ham, send

from floodwall.ingest.smtp_source import MAX_LINE

pytestmark = pytest.mark.timeout(300)

HEAD = b"From: a@example.org\r\nTo: b@example.net\r\nSubject: hostile\r\n"


@pytest.fixture
def sink() -> Iterator[Sink]:
    s = Sink().start()
    yield s
    s.close()


@pytest.fixture
def gw(tmp_path: Path, sink: Sink) -> Iterator[InProcessGateway]:
    with InProcessGateway(tmp_path / "data", sink.port, max_size=4 << 20) as gateway:
        yield gateway


def stream_data(smtp: smtplib.SMTP, chunks: Iterator[bytes]) -> tuple[int, bytes]:
    """DATA sent piece by piece, so the test itself never holds 100 MB."""
    smtp.putcmd("data")
    code, _ = smtp.getreply()
    assert code == 354
    assert smtp.sock is not None
    for chunk in chunks:
        smtp.sock.sendall(chunk)
    smtp.sock.sendall(b"\r\n.\r\n")
    return smtp.getreply()


def huge_header(total: int, line: int) -> Iterator[bytes]:
    yield HEAD + b"X-Huge: start\r\n "
    piece = b"x" * (line - 3) + b"\r\n "  # folded (RFC 5322 §2.2.3)
    for _ in range(total // len(piece)):
        yield piece
    yield b"end\r\n\r\nbody"


def verdict_rows(data_dir: Path) -> list[tuple[str, list[str]]]:
    conn = sqlite3.connect(data_dir / "floodwall.db")
    try:
        return [
            (v, json.loads(u))
            for v, u in conn.execute("SELECT verdict, unscannable FROM messages ORDER BY id")
        ]
    finally:
        conn.close()


def held_count(data_dir: Path) -> int:
    conn = sqlite3.connect(data_dir / "floodwall.db")
    try:
        return int(conn.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.parametrize(("line", "code"), [(998, 552), (MAX_LINE + 1, 500)])
def test_100_mb_header_is_refused_and_the_session_goes_on(
    gw: InProcessGateway, sink: Sink, tmp_path: Path, line: int, code: int
) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with gw.client() as smtp:
        smtp.ehlo("client.test")
        smtp.mail("a@example.org")
        smtp.rcpt("b@example.net")
        # Folded lines: over the size limit (552, RFC 1870). One line: over the line
        # limit (MAX_LINE, 500; RFC 5321 §4.5.3.1.6). Either way the data is dropped.
        got, _ = stream_data(smtp, huge_header(100 << 20, line))
        assert got == code
        smtp.mail("a@example.org")
        smtp.rcpt("b@example.net")
        assert smtp.data(ham("after"))[0] == 250
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 64, f"the gateway kept the data: peak RSS grew {grown_mb:.0f} MB"
    gw.wait_idle()
    assert [g.token for g in sink.received] == ["after"]
    assert [v for v, _ in verdict_rows(tmp_path / "data")] == ["accept"]


CASES = {
    "header longer than the parser takes (1.5 MB, under the size limit)": b"".join(
        huge_header(1_500_000, 998)
    ),
    "invalid UTF-8 in headers and body": (
        b"From: \xff\xfe <a@example.org>\r\nTo: b@example.net\r\nSubject: \xc3\x28 \xed\xa0\x80\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nbody \xff\xfe\xc0\xaf\r\n"
    ),
    "truncated MIME": (
        HEAD + b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=BB\r\n\r\n"
        b"--BB\r\nContent-Type: application/pdf; name=a.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\nJVBER"
    ),
    "10,000 MIME parts": (
        HEAD
        + b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=BB\r\n\r\n"
        + b"--BB\r\nContent-Type: text/plain\r\n\r\nx\r\n" * 10_000
        + b"--BB--\r\n"
    ),
    "empty message": b"",
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_message_is_held_as_unscannable(
    gw: InProcessGateway, sink: Sink, tmp_path: Path, case: str
) -> None:
    code, _ = send(gw.port, CASES[case])
    assert code == 250  # accepted: durably spooled, then held, never lost
    gw.wait_idle()
    assert sink.received == []
    ((verdict, unscannable),) = verdict_rows(tmp_path / "data")
    assert verdict == "quarantine"
    assert unscannable, "held without saying why"
    assert held_count(tmp_path / "data") == 1


def test_binary_garbage_is_never_lost(gw: InProcessGateway, sink: Sink, tmp_path: Path) -> None:
    garbage = bytes(range(256)).replace(b"\n", b"").replace(b"\r", b"") * 200
    garbage = b"\r\n".join(garbage[i : i + 700] for i in range(0, len(garbage), 700))
    code, _ = send(gw.port, garbage)
    assert code == 250
    gw.wait_idle()
    ((verdict, _),) = verdict_rows(tmp_path / "data")
    delivered = len(sink.received)
    held = held_count(tmp_path / "data")
    assert (delivered, held) in ((1, 0), (0, 1)), (verdict, delivered, held)
    assert (verdict in ("accept", "tag")) == (delivered == 1)
