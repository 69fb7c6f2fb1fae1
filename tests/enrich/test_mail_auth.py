"""SenderAuthVerifier against a real DNS server on loopback (``dns_util.DnsServer``):
SPF (RFC 7208), DKIM (RFC 6376) and DMARC (RFC 7489) with keys made and messages signed
here, DNS off or unreachable, and hostile DNS and messages that must end fast."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import dns_util as du
import pytest

from floodwall.detect.mail.auth_results import AuthResultsDetector, parse_results
from floodwall.detect.mail.reference import load_psl
from floodwall.enrich.mail_auth import DnsOff, build_verifier, parse_dns_setting
from floodwall.enrich.mail_auth.resolver import Limits
from floodwall.enrich.mail_auth.verifier import SenderAuthVerifier
from floodwall.ingest.mail_source import RawMail
from floodwall.normalize.mime import parse_message
from floodwall.records import MailMessage, Origin, SenderAuth, SmtpEnvelope

pytestmark = pytest.mark.timeout(60)

GOOD_IP, BAD_IP = "1.2.3.4", "5.6.7.8"  # strings in SPF records only: no traffic


@pytest.fixture(scope="module")
def key() -> tuple[bytes, str]:
    return du.dkim_key()


@pytest.fixture(scope="module")
def psl() -> Any:
    return load_psl()


@pytest.fixture
def server(key: tuple[bytes, str]) -> Iterator[du.DnsServer]:
    with du.DnsServer() as srv:
        srv.add_txt("sel._domainkey.example.com", key[1])
        srv.add_txt("example.com", f"v=spf1 ip4:{GOOD_IP} -all")
        srv.add_txt("_dmarc.example.com", "v=DMARC1; p=reject; rua=mailto:d@example.com")
        srv.add_txt("example.net", f"v=spf1 ip4:{BAD_IP} -all")  # the attacker's own domain
        srv.add_txt("example.org", f"v=spf1 ip4:{GOOD_IP} ~all")
        srv.add_txt("neutral.example.org", "v=spf1 ?all")
        yield srv


def verifier(address: str, psl: Any, **limits: Any) -> SenderAuthVerifier:
    return SenderAuthVerifier(parse_dns_setting(address), psl, Limits(**limits))


def parsed(raw: bytes) -> MailMessage:
    return parse_message(RawMail(Origin("t", 1), raw))


def verify(v: SenderAuthVerifier | DnsOff, raw: bytes, ip: str | None = GOOD_IP,
           mail_from: str | None = "alerts@example.com") -> SenderAuth:  # fmt: skip
    return v.verify(raw, parsed(raw), SmtpEnvelope(ip, mail_from, "mail.example.com"))


def results(auth: SenderAuth) -> dict[str, str]:
    return {c.method: c.result for c in auth.checks}


def failed(auth: SenderAuth, raw: bytes) -> list[list[str]]:
    msg = parsed(raw)
    found = AuthResultsDetector(("mx.example.org",)).detect(replace(msg, sender_auth=auth))
    return [f.evidence["failed"] for f in found]


def signed(key: tuple[bytes, str], **kw: str) -> bytes:
    return du.dkim_sign(du.message(**kw), "example.com", "sel", key[0])


def test_dkim_spf_dmarc_pass(server: du.DnsServer, psl: Any, key: tuple[bytes, str]) -> None:
    raw = signed(key)
    auth = verify(verifier(server.address, psl), raw)
    assert results(auth) == {"spf": "pass", "dkim": "pass", "dmarc": "pass"}
    value = auth.header_value()
    assert value.startswith("floodwall; spf=pass") and "header.d=example.com" in value
    # RFC 8601 form, read back by the parser of trusted hosts' headers
    assert parse_results(value) == ("floodwall", {"spf": "pass", "dkim": "pass", "dmarc": "pass"})
    assert failed(auth, raw) == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ((b"statement is ready", b"statement is READY"), "body hash did not verify"),
        ((b"Subject: Your statement", b"Subject: Your invoice"), "signature did not verify"),
    ],
)
def test_dkim_fail_after_signing(
    server: du.DnsServer, psl: Any, key: tuple[bytes, str], change: tuple[bytes, bytes],
    reason: str,
) -> None:  # fmt: skip
    raw = signed(key).replace(*change)
    auth = verify(verifier(server.address, psl), raw, ip=BAD_IP)
    (dkim,) = auth.results("dkim")
    assert (dkim.result, dkim.reason) == ("fail", reason)
    assert results(auth) == {"spf": "fail", "dkim": "fail", "dmarc": "fail"}
    assert failed(auth, raw) == [["dkim=fail", "dmarc=fail", "spf=fail"]]


@pytest.fixture(scope="module")
def ed_key() -> tuple[bytes, str]:
    return du.ed25519_key()


def test_ed25519_signatures_verify(
    server: du.DnsServer, psl: Any, key: tuple[bytes, str], ed_key: tuple[bytes, str]
) -> None:
    """RFC 8463 signatures, alone and beside an RSA one (the usual dual signing)."""
    server.add_txt("ed._domainkey.example.com", ed_key[1])
    ed = du.dkim_sign(du.message(), "example.com", "ed", ed_key[0], b"ed25519-sha256")
    v = verifier(server.address, psl)
    auth = verify(v, ed, ip=BAD_IP)  # DMARC passes by the aligned ed25519 signature alone
    assert results(auth) == {"spf": "fail", "dkim": "pass", "dmarc": "pass"}
    assert "header.s=ed" in auth.header_value()
    both = du.dkim_sign(signed(key), "example.com", "ed", ed_key[0], b"ed25519-sha256")
    assert [c.result for c in verify(v, both).results("dkim")] == ["pass", "pass"]
    altered = verify(v, ed.replace(b"is ready", b"is READY"), ip=BAD_IP)
    (dkim,) = altered.results("dkim")
    assert (dkim.result, dkim.reason) == ("fail", "body hash did not verify")
    assert results(altered)["dmarc"] == "fail"
    # the right key under the wrong algorithm: the signature does not verify
    server.add_txt("edrsa._domainkey.example.com", key[1])
    wrong = du.dkim_sign(du.message(), "example.com", "edrsa", ed_key[0], b"ed25519-sha256")
    (dkim,) = verify(v, wrong).results("dkim")
    assert dkim.result in ("fail", "permerror", "neutral") and dkim.result != "pass"


@pytest.mark.parametrize(
    ("ip", "mail_from", "expected"),
    [
        (GOOD_IP, "a@example.com", "pass"),
        (BAD_IP, "a@example.com", "fail"),
        (BAD_IP, "a@example.org", "softfail"),
        (BAD_IP, "a@neutral.example.org", "neutral"),
        (BAD_IP, "a@nospf.example.org", "none"),
        (None, "a@example.com", "none"),  # no public client address: nothing to check
        (BAD_IP, None, "none"),  # MAIL FROM unknown (a stored message without Return-Path)
    ],
)
def test_spf_for_the_connecting_ip(
    server: du.DnsServer, psl: Any, ip: str | None, mail_from: str | None, expected: str
) -> None:
    auth = verify(verifier(server.address, psl), du.message(), ip=ip, mail_from=mail_from)
    (spf,) = auth.results("spf")
    assert spf.result == expected, spf
    named = [x for f in failed(auth, du.message()) for x in f if x.startswith("spf=")]
    assert named == ([f"spf={expected}"] if expected in ("fail", "softfail") else [])


def test_spf_null_sender_checks_helo(server: du.DnsServer, psl: Any) -> None:
    server.add_txt("mail.example.com", f"v=spf1 ip4:{GOOD_IP} -all")
    auth = verify(verifier(server.address, psl), du.message(), mail_from="")
    (spf,) = auth.results("spf")
    assert (spf.result, spf.props) == ("pass", (("smtp.helo", "mail.example.com"),))


def test_dmarc_fail_without_aligned_pass(server: du.DnsServer, psl: Any) -> None:
    # SPF passes for the attacker's own envelope domain, which is not the From domain.
    auth = verify(verifier(server.address, psl), du.message(), ip=BAD_IP, mail_from="x@example.net")
    assert results(auth) == {"spf": "pass", "dkim": "none", "dmarc": "fail"}
    (dmarc,) = auth.results("dmarc")
    assert "p=reject" in dmarc.reason and dmarc.props == (("header.from", "example.com"),)
    assert failed(auth, du.message()) == [["dmarc=fail"]]


def test_dmarc_pass_by_aligned_spf_alone(server: du.DnsServer, psl: Any) -> None:
    server.add_txt("mail.example.com", f"v=spf1 ip4:{GOOD_IP} -all")
    auth = verify(verifier(server.address, psl), du.message(), mail_from="bounce@mail.example.com")
    assert results(auth) == {"spf": "pass", "dkim": "none", "dmarc": "pass"}


def test_dmarc_subdomain_policy_and_strict_alignment(server: du.DnsServer, psl: Any) -> None:
    server.add_txt("_dmarc.example.org", "v=DMARC1; p=none; sp=quarantine; aspf=s")
    server.add_txt("mail.example.org", f"v=spf1 ip4:{GOOD_IP} -all")
    raw = du.message(sender="a@shop.example.org")
    auth = verify(verifier(server.address, psl), raw, mail_from="b@mail.example.org")
    (dmarc,) = auth.results("dmarc")  # relaxed would align; aspf=s does not
    assert (dmarc.result, dmarc.reason.split(";")[0]) == ("fail", "p=quarantine")


def test_dmarc_none_without_policy(server: du.DnsServer, psl: Any) -> None:
    auth = verify(verifier(server.address, psl), du.message(sender="a@example.net"), ip=BAD_IP,
                  mail_from="a@example.net")  # fmt: skip
    assert results(auth) == {"spf": "pass", "dkim": "none", "dmarc": "none"}


def test_dns_off_makes_no_lookup(server: du.DnsServer, psl: Any) -> None:
    v = build_verifier("off", lambda: psl)
    assert isinstance(v, DnsOff)
    auth = verify(v, du.message(), ip=BAD_IP)
    assert auth.checks == () and server.queries == []
    assert auth.header_value() == 'floodwall; none (not verified: [mail] dns is "off")'
    assert failed(auth, du.message()) == []
    assert "off" in v.probe()


def test_unreachable_resolver_is_temperror_and_fast(psl: Any, key: tuple[bytes, str]) -> None:
    v = build_verifier(f"127.0.0.1:{du.closed_port()}", lambda: psl)
    started = time.monotonic()
    why = v.probe()
    assert "does not answer" in why and "refused" in why.lower()
    raw = signed(key)
    auth = verify(v, raw, ip=BAD_IP)
    assert results(auth) == {"spf": "temperror", "dkim": "temperror", "dmarc": "temperror"}
    assert all("not verified: DNS unreachable" in c.reason for c in auth.checks)
    assert failed(auth, raw) == []
    assert time.monotonic() - started < 1.0


def test_unreachable_without_probe_costs_one_timeout(psl: Any) -> None:
    # No probe first: the first lookup waits for its timeout, finds the resolver down by a
    # probe, and every later lookup fails at once.
    v = verifier(f"127.0.0.1:{du.closed_port()}", psl, lookup_timeout=0.5)
    started = time.monotonic()
    first = verify(v, du.message(), ip=BAD_IP)
    second = verify(v, du.message(), ip=BAD_IP)
    assert results(first)["spf"] == "temperror"
    assert results(second) == {"spf": "temperror", "dkim": "temperror", "dmarc": "temperror"}
    assert time.monotonic() - started < 2.0


def test_slow_domain_is_temperror_within_budget(server: du.DnsServer, psl: Any) -> None:
    server.add_txt("slow.example.net", "v=spf1 -all")
    server.delays["slow.example.net."] = 3.0
    v = verifier(server.address, psl, lookup_timeout=0.5, budget=1.5)
    started = time.monotonic()
    auth = verify(v, du.message(sender="a@slow.example.net"), mail_from="a@slow.example.net")
    assert results(auth)["spf"] == "temperror"
    assert time.monotonic() - started < 2.5
    assert v.resolver.unavailable() == ""  # the resolver answered its probe: not down
