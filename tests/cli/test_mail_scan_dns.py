"""``floodwall mail scan --data DIR`` with ``[mail] dns`` pointing at a real DNS server on
loopback: Floodwall's own SPF, DKIM and DMARC results in the jsonl and in the symbols; and
DNS off or unreachable said once on stderr, with nothing claimed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import dns_util as du
import pytest

pytestmark = pytest.mark.timeout(300)

RECEIVED = (
    "Return-Path: <{mail_from}>\r\n"
    "Received: from mail.example.net (mail.example.net [5.6.7.8]) by mx.corp.example"
    " with ESMTP id 1; Mon, 02 Mar 2026 10:00:01 +0000\r\n"
)


@pytest.fixture
def mails(tmp_path: Path, example_key: tuple[bytes, str]) -> Path:
    folder = tmp_path / "mail"
    folder.mkdir()
    head = RECEIVED.format(mail_from="bounce@example.net")
    # From the bank's domain, sent from the attacker's server and envelope: DMARC fails.
    (folder / "spoofed.eml").write_bytes(head.encode() + du.message())
    # Signed by the bank, then its body altered: DKIM and DMARC fail.
    signed = du.dkim_sign(du.message(), "example.com", "sel", example_key[0])
    (folder / "altered.eml").write_bytes(head.encode() + signed.replace(b"ready", b"late"))
    # Signed by the bank and intact: DKIM and DMARC pass, whatever SPF says.
    (folder / "genuine.eml").write_bytes(head.encode() + signed)
    return folder


def scan(data: Path, *paths: Path, dns: str | None) -> subprocess.CompletedProcess[str]:
    data.mkdir(exist_ok=True)
    if dns is not None:
        (data / "floodwall.toml").write_text(f'[mail]\ndns = "{dns}"\n')
    return subprocess.run(
        [sys.executable, "-m", "floodwall", "mail", "scan", "--data", str(data),
         "--format", "jsonl", "--no-store", "--no-intel", *map(str, paths)],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip


def by_name(out: str) -> dict[str, dict[str, Any]]:
    objs = [json.loads(line) for line in out.splitlines()]
    return {Path(o["path"]).name: o for o in objs}


def symbol(obj: dict[str, Any], sid: str = "mail.auth_fail") -> dict[str, Any] | None:
    return next((s for s in obj["symbols"] if s["id"] == sid), None)


def test_own_verification_through_loopback_dns(
    tmp_path: Path, example_dns: du.DnsServer, mails: Path
) -> None:
    r = scan(tmp_path / "data", mails, dns=example_dns.address)
    assert r.returncode in (0, 1), r.stderr
    assert "Sender authentication" not in r.stderr  # DNS answered: nothing to say
    got = by_name(r.stdout)
    spoofed, altered, genuine = got["spoofed.eml"], got["altered.eml"], got["genuine.eml"]
    assert spoofed["authentication"].startswith(
        "floodwall; spf=pass (domain of bounce@example.net designates 5.6.7.8"
    )
    assert (
        "dmarc=fail (p=reject; no aligned SPF or DKIM pass) header.from=example.com"
        in (spoofed["authentication"])
    )
    found = symbol(spoofed)
    assert found is not None and "Floodwall's own check: dmarc=fail" in found["reason"]
    assert "dkim=fail (body hash did not verify)" in altered["authentication"]
    found = symbol(altered)
    assert found is not None and "dkim=fail" in found["reason"]
    assert "dkim=pass" in genuine["authentication"] and "dmarc=pass" in genuine["authentication"]
    assert symbol(genuine) is None
    asked = {name for name, _ in example_dns.queries}
    assert {"example.net.", "_dmarc.example.com.", "sel._domainkey.example.com."} <= asked


def test_dns_off_is_said_once_and_nothing_claimed(
    tmp_path: Path, example_dns: du.DnsServer, mails: Path
) -> None:
    r = scan(tmp_path / "data", mails, dns=None)  # no floodwall.toml: the default, off
    assert r.stderr.count("Sender authentication") == 1, r.stderr
    assert 'Sender authentication: [mail] dns is "off"' in r.stderr
    for obj in by_name(r.stdout).values():
        assert obj["authentication"] == 'floodwall; none (not verified: [mail] dns is "off")'
        assert symbol(obj) is None
    assert example_dns.queries == []


def test_unreachable_dns_is_said_once_and_fast(tmp_path: Path, mails: Path) -> None:
    port = du.closed_port()
    started = time.monotonic()
    scan(tmp_path / "off", mails, dns="off")
    off_time = time.monotonic() - started
    started = time.monotonic()
    r = scan(tmp_path / "data", mails, dns=f"127.0.0.1:{port}")
    took = time.monotonic() - started
    assert r.returncode in (0, 1), r.stderr
    assert r.stderr.count("Sender authentication") == 1, r.stderr
    assert f"DNS at 127.0.0.1:{port} does not answer" in r.stderr
    for obj in by_name(r.stdout).values():
        assert obj["authentication"].startswith(
            "floodwall; spf=temperror (not verified: DNS unreachable"
        )
        assert symbol(obj) is None
    assert took < off_time + 5.0  # no lookup waits for a timeout


def test_bad_setting_exits_two(tmp_path: Path, mails: Path) -> None:
    r = scan(tmp_path / "data", mails, dns="resolver.example.com:53")
    assert r.returncode == 2
    assert "HOST must be an IP address" in r.stderr
