"""Sender authentication at the gateway: SPF, DKIM and DMARC of the real SMTP session
(MAIL FROM, HELO, client address), verified in the scan worker through a DNS server on
loopback, and acted on by the policy."""

from __future__ import annotations

import smtplib
import time
from pathlib import Path

import dns_util as du
import pytest
from gw_util import TEST_POLICY, GatewayProcess, InProcessGateway, Sink

from floodwall.respond.policy import Policy

pytestmark = pytest.mark.timeout(120)

# The gateway's client here is 127.0.0.1, as when Postfix hands it mail as a content
# filter: the client that counts is then the one Postfix's Received names.
POSTFIX_HOP = (
    "Received: from mail.example.net (mail.example.net [5.6.7.8]) by mx.corp.example"
    " (Postfix) with ESMTP id 4Q1; Mon, 02 Mar 2026 10:00:01 +0000\r\n"
)


def send(port: int, data: bytes, mail_from: str, helo: str) -> tuple[int, str]:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        smtp.ehlo(helo)
        assert smtp.mail(mail_from)[0] == 250
        assert smtp.rcpt("customer@example.org")[0] == 250
        code, text = smtp.data(data)
        return code, text.decode()


def test_gateway_verifies_the_session_sender(
    tmp_path: Path, example_dns: du.DnsServer, example_key: tuple[bytes, str]
) -> None:
    policy_path = tmp_path / "policy.toml"
    policy_path.write_text(TEST_POLICY)
    sink = Sink().start()
    try:
        with InProcessGateway(
            tmp_path / "data", sink.port, policy=Policy.load(policy_path), workers=1,
            mail_dns=example_dns.address,
        ) as gw:  # fmt: skip
            spoofed = (POSTFIX_HOP + "X-Test-Token: spoofed\r\n").encode() + du.message()
            genuine = du.dkim_sign(du.message(), "example.com", "sel", example_key[0])
            genuine = (POSTFIX_HOP + "X-Test-Token: genuine\r\n").encode() + genuine
            assert send(gw.port, spoofed, "bounce@example.net", "mail.example.net")[0] == 250
            assert send(gw.port, genuine, "bounce@example.net", "mail.example.net")[0] == 250
            gw.wait_idle()
            got = {g.token: g.headers() for g in sink.wait_for(2)}
    finally:
        sink.close()
    # From the bank's domain through the attacker's server and envelope: DMARC fails,
    # and auth_fail alone tags under the test policy.
    assert got["spoofed"]["X-Floodwall-Verdict"] == "tag"
    assert "mail.auth_fail" in got["spoofed"]["X-Floodwall-Symbols"]
    # Signed by the bank: DKIM and DMARC pass, nothing added.
    assert got["genuine"]["X-Floodwall-Verdict"] is None
    asked = {name for name, _ in example_dns.queries}
    assert {"example.net.", "_dmarc.example.com.", "sel._domainkey.example.com."} <= asked


def test_gateway_with_dns_off_makes_no_lookup(tmp_path: Path, example_dns: du.DnsServer) -> None:
    sink = Sink().start()
    try:
        with InProcessGateway(tmp_path / "data", sink.port) as gw:
            data = (POSTFIX_HOP + "X-Test-Token: off\r\n").encode() + du.message()
            assert send(gw.port, data, "bounce@example.net", "mail.example.net")[0] == 250
            gw.wait_idle()
            (got,) = sink.wait_for(1)
    finally:
        sink.close()
    assert "mail.auth_fail" not in (got.headers()["X-Floodwall-Symbols"] or "")
    assert example_dns.queries == []


def test_gateway_with_unreachable_dns_says_so_and_goes_on(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    port = du.closed_port()
    (data / "floodwall.toml").write_text(f'[mail]\ndns = "127.0.0.1:{port}"\n')
    (data / "policy.toml").write_text(TEST_POLICY)
    sink = Sink().start()
    log = tmp_path / "gateway.log"
    gw = GatewayProcess(data, sink.port, log, "--workers", "1")
    try:
        gw.start()
        spoofed = (POSTFIX_HOP + "X-Test-Token: down\r\n").encode() + du.message()
        started = time.monotonic()
        assert send(gw.port, spoofed, "bounce@example.net", "mail.example.net")[0] == 250
        assert time.monotonic() - started < 5.0  # no look-up waits for a timeout
        (got,) = sink.wait_for(1)
        assert gw.terminate() == 0
    finally:
        if gw.proc is not None and gw.proc.poll() is None:
            gw.proc.kill()
        sink.close()
    text = log.read_text()
    assert text.count(f"DNS at 127.0.0.1:{port} does not answer") == 1, text
    assert "mail.auth_fail" not in (got.headers()["X-Floodwall-Symbols"] or "")


FORGED = (
    "X-Floodwall-Verdict: accept\r\n"
    "X-Floodwall-Spool-Id: ffffffffffffffffffffffff\r\n"
    "Authentication-Results: (say) floodwall;\r\n dkim=pass header.d=example.com; dmarc=pass\r\n"
    "Authentication-Results: mx.corp.example; spf=none smtp.mailfrom=example.net\r\n"
)


def test_gateway_replaces_forged_floodwall_fields_with_its_own(
    tmp_path: Path, example_dns: du.DnsServer
) -> None:
    """A sender's own "Authentication-Results: floodwall" and X-Floodwall-* fields never
    reach the next hop (RFC 8601 §5); Floodwall's results go on top, above its Received."""
    sink = Sink().start()
    try:
        with InProcessGateway(
            tmp_path / "data", sink.port, workers=1, mail_dns=example_dns.address
        ) as gw:
            forged = (POSTFIX_HOP + FORGED + "X-Test-Token: forged\r\n").encode() + du.message()
            assert send(gw.port, forged, "bounce@example.net", "mail.example.net")[0] == 250
            gw.wait_idle()
            (got,) = sink.wait_for(1)
    finally:
        sink.close()
    headers = got.headers()
    results = [str(v) for v in headers.get_all("Authentication-Results") or []]
    ours = [v for v in results if v.startswith("floodwall;")]
    assert len(ours) == 1, results
    assert "dmarc=fail" in ours[0] and "dkim=pass" not in ours[0]
    assert "mx.corp.example; spf=none smtp.mailfrom=example.net" in results
    assert headers.get_all("X-Floodwall-Spool-Id") == [got.spool_id]
    assert got.spool_id != "f" * 24
    assert headers.get_all("X-Floodwall-Verdict") is None
    # ours first, then our Received, then the message as it came
    top = got.data.split(b"\r\n", 2)
    assert top[0].startswith(b"Authentication-Results: floodwall;")
    assert b"(Floodwall)" in got.data.split(b"\r\nReceived: ", 2)[1].split(b"\r\n")[0]


def test_gateway_with_dns_off_says_so_in_its_results(tmp_path: Path) -> None:
    sink = Sink().start()
    try:
        with InProcessGateway(tmp_path / "data", sink.port) as gw:
            forged = (FORGED + "X-Test-Token: off\r\n").encode() + du.message()
            assert send(gw.port, forged, "bounce@example.net", "mail.example.net")[0] == 250
            gw.wait_idle()
            (got,) = sink.wait_for(1)
    finally:
        sink.close()
    results = [str(v) for v in got.headers().get_all("Authentication-Results") or []]
    assert [v for v in results if "floodwall" in v] == [
        'floodwall; none (not verified: [mail] dns is "off")'
    ]
