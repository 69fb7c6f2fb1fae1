"""Hostile input for sender authentication: the sender writes the message and runs the
DNS of its domains. Each case ends fast, with a clear result and no finding it did not
earn (the loopback ``dns_util.DnsServer`` plays the sender's DNS)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import dns_util as du
import msgspec
import pytest

from floodwall.detect.mail.auth_results import AuthResultsDetector
from floodwall.detect.mail.reference import load_psl
from floodwall.enrich.mail_auth import parse_dns_setting
from floodwall.enrich.mail_auth.resolver import Limits
from floodwall.enrich.mail_auth.verifier import SenderAuthVerifier
from floodwall.ingest.mail_source import RawMail
from floodwall.normalize.mime import parse_message
from floodwall.records import Origin, SenderAuth, SmtpEnvelope

pytestmark = pytest.mark.timeout(60)

IP = "5.6.7.8"
FAST = 1.5  # seconds any one case may take


@pytest.fixture(scope="module")
def key() -> tuple[bytes, str]:
    return du.dkim_key(1024)


@pytest.fixture
def server(key: tuple[bytes, str]) -> Iterator[du.DnsServer]:
    with du.DnsServer() as srv:
        srv.add_txt("sel._domainkey.example.com", key[1])
        srv.add_txt("_dmarc.example.com", "v=DMARC1; p=reject")
        yield srv


@pytest.fixture(scope="module")
def psl() -> Any:
    return load_psl()


def run(server: du.DnsServer, psl: Any, raw: bytes, mail_from: str = "a@example.com",
        **limits: Any) -> SenderAuth:  # fmt: skip
    v = SenderAuthVerifier(parse_dns_setting(server.address), psl, Limits(**limits))
    msg = parse_message(RawMail(Origin("t", 1), raw))
    started = time.monotonic()
    auth = v.verify(raw, msg, SmtpEnvelope(IP, mail_from, "mail.example.net"))
    assert time.monotonic() - started < FAST
    msgspec.json.encode(auth.header_value())  # always a valid string for the jsonl
    found = AuthResultsDetector().detect(replace(msg, sender_auth=auth))
    assert all("temperror" not in x for f in found for x in f.evidence["failed"])
    return auth


def test_fifty_dkim_signatures_verify_three(server: du.DnsServer, psl: Any,
                                            key: tuple[bytes, str]) -> None:  # fmt: skip
    raw = du.dkim_sign(du.message(), "example.com", "sel", key[0])
    sig, _, rest = raw.partition(b"From: ")
    forged = b"".join(
        sig.replace(b"s=sel", b"s=s%d" % i)
        .replace(b"@example.com", b"@example.net")
        .replace(b"d=example.com", b"d=example.net")
        for i in range(49)
    )
    auth = run(server, psl, forged + sig + b"From: " + rest)
    dkim = auth.results("dkim")
    # The one aligned with From is tried first and passes; two more; the rest counted.
    assert [c.result for c in dkim] == ["pass", "permerror", "permerror", "neutral"]
    assert "47 more signature(s) not verified" in dkim[-1].reason
    assert len(server.asked("_domainkey.example.net")) == 2
    assert auth.results("dmarc")[0].result == "pass"


@pytest.mark.parametrize(
    "signature",
    [
        b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=sel; b=!!!not base64",
        b"DKIM-Signature: garbage without tags",
        b"DKIM-Signature: v=1; a=rsa-md5; c=relaxed; d=example.com; s=sel; h=from; bh=AA==; b=AA==",
        b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=AA==; b=AA==; l=x",
        b"DKIM-Signature: " + b"v=1;" * 20_000,
    ],
)
def test_malformed_signature_is_neutral(server: du.DnsServer, psl: Any, signature: bytes) -> None:
    auth = run(server, psl, signature + b"\r\n" + du.message())
    (dkim,) = auth.results("dkim")
    assert dkim.result in ("neutral", "permerror"), dkim
    assert dkim.result != "fail"


def test_spf_include_loop_is_permerror(server: du.DnsServer, psl: Any) -> None:
    server.add_txt("loop.example.net", "v=spf1 include:loop2.example.net -all")
    server.add_txt("loop2.example.net", "v=spf1 include:loop.example.net -all")
    auth = run(server, psl, du.message(), mail_from="a@loop.example.net")
    (spf,) = auth.results("spf")
    assert spf.result == "permerror" and "DNS lookups" in spf.reason  # RFC 7208 §4.6.4
    assert len(server.asked("loop.example.net")) + len(server.asked("loop2.example.net")) <= 4


def test_spf_void_lookups_are_permerror(server: du.DnsServer, psl: Any) -> None:
    server.add_txt("void.example.net", "v=spf1 a:n1.example.net a:n2.example.net "
                   "a:n3.example.net a:n4.example.net -all")  # fmt: skip
    auth = run(server, psl, du.message(), mail_from="a@void.example.net")
    (spf,) = auth.results("spf")
    assert spf.result == "permerror" and "Void lookup" in spf.reason


def test_spf_mechanism_flood_stops_at_ten(server: du.DnsServer, psl: Any) -> None:
    names = " ".join(f"a:h{i}.example.net" for i in range(40))
    server.add_txt("many.example.net", f"v=spf1 {names} -all")
    for i in range(40):
        server.add(f"h{i}.example.net", "A", "192.0.2.1")
    auth = run(server, psl, du.message(), mail_from="a@many.example.net")
    assert auth.results("spf")[0].result == "permerror"
    assert len(server.asked("example.net")) <= 12


@pytest.mark.parametrize("where", ["sel._domainkey.example.com", "big.example.net"])
def test_sixty_kilobyte_txt_is_refused(
    server: du.DnsServer, psl: Any, key: tuple[bytes, str], where: str
) -> None:
    server.records.pop(("sel._domainkey.example.com.", 16), None)
    server.add_txt(
        where, "v=spf1 " + "x" * 60_000 if where.startswith("big") else "p=" + "A" * 60_000
    )
    raw = du.dkim_sign(du.message(), "example.com", "sel", key[0])
    auth = run(server, psl, raw, mail_from="a@big.example.net")
    method = "spf" if where.startswith("big") else "dkim"
    (check,) = auth.results(method)
    assert check.result == "permerror" and "octets" in check.reason, check
    assert any(t == "TXT" for n, t in server.asked(where))


def test_invalid_utf8_in_headers(server: du.DnsServer, psl: Any, key: tuple[bytes, str]) -> None:
    raw = (
        b"X-Bad: \x80\x81\xff\r\nFrom: \xff\xfe <a@example.com>\r\nTo: b@example.org\r\n"
        b"Subject: Pay \xff\xfe now\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\n"
        b"Message-ID: <x@example.com>\r\n\r\nbody \xff\r\n"
    )
    signed = du.dkim_sign(raw, "example.com", "sel", key[0])
    auth = run(server, psl, signed)
    # Signed bytes verify as bytes, whatever their encoding; the From domain is still read.
    assert {c.method: c.result for c in auth.checks} == {
        "spf": "none", "dkim": "pass", "dmarc": "pass"
    }  # fmt: skip
    # A second From added after signing breaks the signature (dkimpy hashes every From:
    # RFC 6376 §8.15) and leaves DMARC no single From domain (RFC 7489 §6.6.1).
    auth = run(server, psl, signed.replace(b"To:", b"From: <\xff@example.net>\r\nTo:"))
    assert auth.results("dkim")[0].result == "fail"
    assert auth.results("dmarc")[0].result == "permerror"


def test_binary_garbage_message(server: du.DnsServer, psl: Any) -> None:
    auth = run(server, psl, b"\x00\xff" * 5000)
    assert {c.method: c.result for c in auth.checks}["dkim"] in ("none", "permerror")


def test_cname_loop_and_many_slow_names_stay_in_budget(server: du.DnsServer, psl: Any) -> None:
    server.add("c1.example.net", "CNAME", "c2.example.net.")
    server.add("c2.example.net", "CNAME", "c1.example.net.")
    server.add_txt("slowspf.example.net", "v=spf1 a:s1.example.net a:s2.example.net -all")
    for name in ("s1.example.net.", "s2.example.net."):
        server.delays[name] = 2.0
    auth = run(server, psl, du.message(), mail_from="a@slowspf.example.net",
               lookup_timeout=0.4, budget=1.0)  # fmt: skip
    assert auth.results("spf")[0].result == "temperror"
    cname = run(server, psl, du.message(), mail_from="a@c1.example.net")
    assert cname.results("spf")[0].result in ("temperror", "none", "permerror")


def test_ed25519_signature_with_a_broken_key_is_no_failure(server: du.DnsServer, psl: Any) -> None:
    # A key of the wrong length (RFC 8463 §4: 32 bytes) and a signature of garbage: the
    # sender's own mistake, never a "fail" that could blame an innocent domain.
    server.add_txt("ed._domainkey.example.com", "v=DKIM1; k=ed25519; p=" + "A" * 40 + "==")
    sig = (
        b"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com; s=ed;"
        b" h=from:to:subject; bh=" + b"A" * 43 + b"=; b=" + b"A" * 86 + b"==\r\n"
    )
    auth = run(server, psl, sig + du.message())
    (dkim,) = auth.results("dkim")
    assert dkim.result in ("neutral", "permerror"), dkim


def test_a_library_failure_is_no_result(
    server: du.DnsServer, psl: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import floodwall.enrich.mail_auth.verifier as verifier_module

    def broken(*args: Any) -> Any:
        raise RecursionError("deep")

    monkeypatch.setattr(verifier_module, "check_spf", broken)
    auth = run(server, psl, du.message())
    assert {c.result for c in auth.checks} == {"temperror"}
    assert "not verified: verification failed: RecursionError: deep" in auth.note
