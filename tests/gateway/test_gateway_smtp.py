"""The gateway over real SMTP on loopback: smtplib client -> gateway -> aiosmtpd next hop.

Each verdict does what it says (relay, relay tagged, hold, refuse), the protocol limits
answer as RFC 5321 wants, and a next hop or spool that fails gets 451, never a loss.
"""

from __future__ import annotations

import re
import sqlite3
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from gw_util import TEST_POLICY, InProcessGateway, Sink, ham, sample, send

from floodwall.mail.detectors import ATTACHMENT_DETECTORS
from floodwall.mail.spool import SpoolError
from floodwall.respond.policy import Policy

pytestmark = pytest.mark.timeout(120)

TRACE = re.compile(
    rb"\AAuthentication-Results: floodwall; (?:[^\r\n]|\r\n )*\r\n"
    rb"Received: from client\.test \(127\.0\.0\.1\) by gw\.test \(Floodwall\) with ESMTPS? id"
    rb"(?:[^\r\n]|\r\n )*\r\nX-Floodwall-Spool-Id: ([0-9a-f]{24})\r\n"
)


@pytest.fixture
def policy(tmp_path: Path) -> Policy:
    path = tmp_path / "policy.toml"
    path.write_text(TEST_POLICY)
    return Policy.load(path)


@pytest.fixture
def sink() -> Iterator[Sink]:
    s = Sink().start()
    yield s
    s.close()


@pytest.fixture
def gw(tmp_path: Path, sink: Sink, policy: Policy) -> Iterator[InProcessGateway]:
    with InProcessGateway(tmp_path / "data", sink.port, policy=policy) as gateway:
        yield gateway


def rows(data_dir: Path, table: str = "messages") -> list[dict[str, object]]:
    conn = sqlite3.connect(data_dir / "floodwall.db")
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(f"SELECT * FROM {table}")]
    finally:
        conn.close()


def test_accept_is_relayed_byte_exact_after_the_trace_fields(
    gw: InProcessGateway, sink: Sink, tmp_path: Path
) -> None:
    original = ham("acc1", body="line\r\n.leading dot survives\r\n\u00e9t\u00e9 8-bit")
    code, text = send(gw.port, original, ("bob@example.net", "carol@example.net"))
    assert code == 250
    sid = re.search(r"queued as ([0-9a-f]{24})", text)
    assert sid is not None
    gw.wait_idle()
    (got,) = sink.received
    assert got.rcpt_tos == ("bob@example.net", "carol@example.net")
    assert got.mail_from == "alice@example.org"
    trace = TRACE.match(got.data)
    assert trace is not None, got.data[:300]
    assert trace.group(1).decode() == sid.group(1)
    assert got.data[trace.end() :] == original  # nothing else added, nothing changed
    (row,) = rows(tmp_path / "data")
    assert (row["source"], row["verdict"], row["recipients"], row["path"]) == (
        "gateway", "accept", 2, f"gateway/{sid.group(1)}",
    )  # fmt: skip
    assert not list((tmp_path / "data" / "spool" / "queue").iterdir())


def test_tag_adds_verdict_score_and_symbols(gw: InProcessGateway, sink: Sink) -> None:
    original = sample("auth_fail")
    code, _ = send(gw.port, original)
    assert code == 250
    gw.wait_idle()
    (got,) = sink.received
    trace = TRACE.match(got.data)
    assert trace is not None
    rest = got.data[trace.end() :]
    assert rest.endswith(original)
    added = rest[: -len(original)].split(b"\r\n")
    assert added[:2] == [b"X-Floodwall-Verdict: tag", b"X-Floodwall-Score: 5"]
    assert added[2].startswith(b"X-Floodwall-Symbols: mail.auth_fail(5) [authentication")
    assert added[-1] == b""
    assert all(len(line) <= 78 for line in added)
    assert all(line.startswith(b" ") for line in added[3:-1])  # folded (RFC 5322 §2.2.3)
    assert got.headers()["X-Floodwall-Verdict"] == "tag"
    assert "authentication failed" in got.headers()["X-Floodwall-Symbols"]


def test_reject_is_refused_with_550_and_a_reference(
    gw: InProcessGateway, sink: Sink, tmp_path: Path
) -> None:
    code, text = send(gw.port, sample("dangerous_attachment"), ("a@x.net", "b@x.net"))
    assert code == 550
    ref = re.fullmatch(r"5\.7\.1 .*\(ref ([0-9a-f]{24})\)", text)
    assert ref is not None, text
    gw.wait_idle()
    assert sink.received == []
    (row,) = rows(tmp_path / "data")
    assert (row["verdict"], row["recipients"], row["path"]) == (
        "reject", 2, f"gateway/{ref.group(1)}",
    )  # fmt: skip
    assert not list((tmp_path / "data" / "spool" / "queue").iterdir())


def test_quarantine_is_held_not_relayed(gw: InProcessGateway, sink: Sink, tmp_path: Path) -> None:
    original = sample("html_smuggling")
    rcpt = ("a@x.net", "b@x.net", "c@x.net")
    code, text = send(gw.port, original, rcpt)
    assert code == 250
    sid = text.rsplit(" ", 1)[-1]
    gw.wait_idle()
    assert sink.received == []
    (held,) = rows(tmp_path / "data", "quarantine")
    assert held["hold_key"] == sid
    assert held["rcpt_to"] == '["a@x.net", "b@x.net", "c@x.net"]'
    assert (tmp_path / "data" / "quarantine" / str(held["file"])).read_bytes() == original
    (row,) = rows(tmp_path / "data")
    assert (row["verdict"], row["recipients"]) == ("quarantine", 3)  # once per recipient


def test_a_long_queue_is_read_back_from_the_spool_not_kept_in_memory(
    tmp_path: Path, sink: Sink, policy: Policy
) -> None:
    # keep_in_memory=0: no queued message keeps its bytes; each delivery and each hold
    # reads them back from the spool, and they arrive unchanged.
    with InProcessGateway(tmp_path / "data", sink.port, policy=policy, keep_in_memory=0) as gw:
        original = ham("from-disk", body="line\r\n.dot\r\nend")
        assert send(gw.port, original)[0] == 250
        assert send(gw.port, sample("html_smuggling"))[0] == 250
        gw.wait_idle()
    (got,) = sink.received
    assert got.data.endswith(original)
    (held,) = rows(tmp_path / "data", "quarantine")
    assert (tmp_path / "data" / "quarantine" / str(held["file"])).read_bytes() == sample(
        "html_smuggling"
    )
    verdicts = sorted(str(r["verdict"]) for r in rows(tmp_path / "data"))
    assert verdicts == ["accept", "quarantine"]  # each counted once


def test_the_store_commits_with_fsync_before_the_250(gw: InProcessGateway) -> None:
    # The verdict row and the quarantine are acknowledged by the 250 (or the 550), so
    # every store connection of the gateway runs synchronous=FULL (open_store durable).
    assert send(gw.port, sample("html_smuggling"))[0] == 250
    gw.wait_idle()
    recorder = gw.gateway.recorder
    writers = [recorder._rows, *recorder._holders]

    async def modes() -> list[int]:
        return [
            await w.run(lambda store: store.connection.execute("PRAGMA synchronous").fetchone()[0])
            for w in writers
        ]

    assert gw.call(modes) == [2] * len(writers)  # 2 is FULL


def test_recipient_limit(gw: InProcessGateway) -> None:
    with gw.client() as smtp:
        smtp.ehlo("client.test")
        smtp.mail("alice@example.org")
        codes = [smtp.rcpt(f"u{i}@example.net")[0] for i in range(101)]
    assert codes[:100] == [250] * 100
    assert codes[100] == 452  # RFC 5321 §4.5.3.1.10


def test_size_limit_gives_552(gw: InProcessGateway, sink: Sink) -> None:
    with gw.client() as smtp:
        smtp.ehlo("client.test")
        assert smtp.has_extn("size")
        assert int(smtp.esmtp_features["size"]) == 1 << 20
        code, _ = smtp.mail("alice@example.org", ["SIZE=5000000"])
        assert code == 552  # RFC 1870: refused up front when the client says the size
        smtp.rset()
        smtp.mail("alice@example.org")
        smtp.rcpt("bob@example.net")
        code, _ = smtp.data(ham("big", body="x" * 900 + ("\r\n" + "x" * 900) * 1500))
        assert code == 552
        # The session goes on: the next message is accepted.
        smtp.mail("alice@example.org")
        smtp.rcpt("bob@example.net")
        assert smtp.data(ham("small"))[0] == 250
    gw.wait_idle()
    assert [g.token for g in sink.received] == ["small"]


def test_lines_longer_than_rfc_5321_are_taken_as_real_mail_has_them(
    gw: InProcessGateway, sink: Sink
) -> None:
    # 12% of phishing_pot has lines over 1000 octets (HTML on one line): aiosmtpd's own
    # limit would refuse them for good with 500. Up to MAX_LINE they pass byte-exact.
    original = ham("long", body="<p>" + "x" * 200_000 + "</p>")
    assert max(len(line) for line in original.split(b"\r\n")) > 200_000
    assert send(gw.port, original)[0] == 250
    gw.wait_idle()
    (got,) = sink.received
    assert got.data.endswith(original)


def test_starttls(tmp_path: Path, sink: Sink, policy: Policy) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("gw.test", "127.0.0.1")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    client_ctx.check_hostname = False  # the certificate names gw.test; we dial 127.0.0.1
    with InProcessGateway(
        tmp_path / "data", sink.port, policy=policy, tls=server_ctx, require_tls=True
    ) as gw:
        with gw.client() as smtp:
            smtp.ehlo("client.test")
            assert smtp.has_extn("starttls")
            code, _ = smtp.mail("alice@example.org")
            assert code == 530  # RFC 3207 §4: STARTTLS first
            smtp.starttls(context=client_ctx)
            smtp.ehlo("client.test")
            smtp.mail("alice@example.org")
            smtp.rcpt("bob@example.net")
            assert smtp.data(ham("tls"))[0] == 250
        gw.wait_idle()
    (got,) = sink.received
    assert b" with ESMTPS id" in got.data  # RFC 3848


def test_next_hop_down_gives_451_and_spooled_mail_goes_when_it_returns(
    tmp_path: Path, policy: Policy
) -> None:
    sink = Sink()  # bound, not listening: connections are refused
    try:
        with InProcessGateway(
            tmp_path / "data", sink.port, policy=policy, hop_down_after=2, retry_first=0.1
        ) as gw:
            assert send(gw.port, ham("early1"))[0] == 250
            assert send(gw.port, ham("early2"))[0] == 250
            deadline = time.monotonic() + 20
            while not gw.gateway.health.is_down():
                assert time.monotonic() < deadline, "the next hop never counted as down"
                time.sleep(0.05)
            code, text = send(gw.port, ham("while-down"))
            assert (code, text[:5]) == (451, "4.4.1")
            # Mail that does not go to the next hop is still taken while it is down.
            assert send(gw.port, sample("html_smuggling"))[0] == 250
            assert len(list((tmp_path / "data" / "spool" / "queue").iterdir())) >= 2
            sink.start()
            sink.wait_for(2)
            gw.wait_idle()
            assert send(gw.port, ham("after"))[0] == 250
            gw.wait_idle()
        assert sorted(g.token for g in sink.received) == ["after", "early1", "early2"]
    finally:
        sink.close()


def test_unwritable_spool_gives_451(gw: InProcessGateway, sink: Sink, tmp_path: Path) -> None:
    tmp = tmp_path / "data" / "spool" / "tmp"
    tmp.rmdir()
    tmp.write_text("a file where the spool's tmp/ folder should be")  # root ignores modes
    try:
        code, text = send(gw.port, ham("refused"))
        assert (code, text[:5]) == (451, "4.3.0")
    finally:
        tmp.unlink()
        tmp.mkdir()
    assert send(gw.port, ham("taken"))[0] == 250
    gw.wait_idle()
    assert [g.token for g in sink.received] == ["taken"]
    assert [r["verdict"] for r in rows(tmp_path / "data")] == ["accept"]  # 451: not counted


def test_hostile_symbol_reason_cannot_add_a_header(gw: InProcessGateway, sink: Sink) -> None:
    # The file name reaches the rtlo_filename symbol's reason, and from there a header.
    raw = (
        b"From: a@example.org\r\nTo: b@example.net\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=BB\r\n\r\n--BB\r\nContent-Type: text/plain"
        b"\r\n\r\nhi\r\n--BB\r\nContent-Type: text/plain\r\nContent-Disposition: attachment;"
        b" filename*=utf-8''a%0D%0AX-Injected%3A%20yes%0A%0Dz%E2%80%AEtxt.doc\r\n\r\nhello\r\n"
        b"--BB--\r\n"
    )
    assert send(gw.port, raw)[0] == 250
    gw.wait_idle()
    (got,) = sink.received
    msg = got.headers()
    assert msg["X-Floodwall-Verdict"] == "tag"
    assert "X-Injected" not in msg
    header_block = got.data.split(b"\r\n\r\n", 1)[0]
    assert header_block.isascii()
    assert b"\\u202e" in header_block  # the control character is shown, escaped


def test_attachment_attack_samples_are_never_relayed(tmp_path: Path, sink: Sink) -> None:
    """The issue's rule at the gateway, with the shipped policy: every harmless attack
    sample of an attachment technique is refused or held."""
    names = [cls.id.removeprefix("mail.") for cls in ATTACHMENT_DETECTORS] + ["yara", "clamav"]
    with InProcessGateway(tmp_path / "data", sink.port) as gw:
        replies = {name: send(gw.port, sample(name))[0] for name in names}
        gw.wait_idle()
    assert sink.received == []
    assert set(replies.values()) <= {250, 550}
    held = rows(tmp_path / "data", "quarantine")
    assert len(held) == list(replies.values()).count(250)


def test_scanning_in_a_worker_process(tmp_path: Path, sink: Sink, policy: Policy) -> None:
    with InProcessGateway(tmp_path / "data", sink.port, policy=policy, workers=1) as gw:
        assert send(gw.port, ham("pool"))[0] == 250
        assert send(gw.port, sample("dangerous_attachment"))[0] == 550
        gw.wait_idle()
    assert [g.token for g in sink.received] == ["pool"]


def test_restart_finishes_spooled_mail_once(tmp_path: Path, policy: Policy) -> None:
    sink = Sink()
    try:
        with InProcessGateway(tmp_path / "data", sink.port, policy=policy) as gw:
            for i in range(3):
                assert send(gw.port, ham(f"r{i}"))[0] == 250
            assert send(gw.port, sample("html_smuggling"))[0] == 250
        # Stopped with the next hop down: the accepted mail waits in the spool.
        assert len(list((tmp_path / "data" / "spool" / "queue").iterdir())) == 3
        sink.start()
        with InProcessGateway(tmp_path / "data", sink.port, policy=policy) as gw:
            gw.wait_idle()
        assert sorted(g.token for g in sink.received) == ["r0", "r1", "r2"]
        counted = rows(tmp_path / "data")
        assert len(counted) == 4  # each message recorded once, not again after restart
        assert len({r["path"] for r in counted}) == 4
        assert len(rows(tmp_path / "data", "quarantine")) == 1
    finally:
        sink.close()


def test_second_gateway_on_the_same_spool_is_refused(
    gw: InProcessGateway, sink: Sink, tmp_path: Path, policy: Policy
) -> None:
    other = InProcessGateway(tmp_path / "data", sink.port, policy=policy)
    with pytest.raises(SpoolError, match="in use by another gateway"):
        other.__enter__()
    other.abort()


def test_client_that_drops_mid_data_leaves_nothing(
    gw: InProcessGateway, sink: Sink, tmp_path: Path
) -> None:
    with gw.client() as smtp:
        smtp.ehlo("client.test")
        smtp.mail("alice@example.org")
        smtp.rcpt("bob@example.net")
        smtp.putcmd("data")
        assert smtp.getreply()[0] == 354
        assert smtp.sock is not None
        smtp.sock.sendall(ham("cut")[:40])
        smtp.sock.close()
        smtp.sock = None
        smtp.file = None
    time.sleep(0.3)
    gw.wait_idle()
    assert sink.received == []
    assert rows(tmp_path / "data") == []
    assert not list((tmp_path / "data" / "spool" / "queue").iterdir())
