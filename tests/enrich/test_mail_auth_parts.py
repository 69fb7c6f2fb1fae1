"""The parts around sender authentication: ``[mail] dns``, the envelope of a stored or
relayed message, and the Authentication-Results value (RFC 8601) Floodwall writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from floodwall.detect.mail.auth_results import parse_results
from floodwall.enrich.mail_auth import (
    DnsOff,
    DnsTarget,
    build_verifier,
    file_envelope,
    parse_dns_setting,
    session_envelope,
)
from floodwall.enrich.mail_auth.resolver import Resolver
from floodwall.ingest.mail_source import RawMail
from floodwall.normalize.mime import parse_message
from floodwall.records import AuthCheck, MailMessage, Origin, SenderAuth, SmtpEnvelope
from floodwall.settings import Settings


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("off", DnsTarget("off")),
        ("", DnsTarget("off")),
        ("System", DnsTarget("system")),
        ("127.0.0.1:5353", DnsTarget("server", "127.0.0.1", 5353)),
        ("[::1]:53", DnsTarget("server", "::1", 53)),
        (" 10.0.0.53:53 ", DnsTarget("server", "10.0.0.53", 53)),
    ],
)
def test_dns_setting(text: str, expected: DnsTarget) -> None:
    assert parse_dns_setting(text) == expected


@pytest.mark.parametrize(
    "text", ["on", "dns.example.com:53", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:x", ":53", "::1"]
)
def test_bad_dns_setting(text: str) -> None:
    with pytest.raises(ValueError, match=r"\[mail\] dns"):
        parse_dns_setting(text)


def test_settings_read_mail_dns(tmp_path: Path) -> None:
    assert Settings.load(tmp_path).mail_dns == "off"
    (tmp_path / "floodwall.toml").write_text('[mail]\ndns = "127.0.0.1:53"\n')
    assert Settings.load(tmp_path).mail_dns == "127.0.0.1:53"


def test_off_needs_no_suffix_list() -> None:
    def fail() -> None:
        raise AssertionError("the suffix list is loaded only when lookups are on")

    assert isinstance(build_verifier("off", fail), DnsOff)  # type: ignore[arg-type]


def test_system_resolver_reads_resolv_conf(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.53\nnameserver ::1\n")
    resolver = Resolver(DnsTarget("system"), resolv_conf=str(conf))  # no query is made
    assert resolver.nameservers == ["127.0.0.53", "::1"]
    assert resolver.unavailable() == ""
    empty = tmp_path / "empty.conf"
    empty.write_text("# nothing\n")
    broken = Resolver(DnsTarget("system"), resolv_conf=str(empty))
    assert "no resolver configured" in broken.unavailable()
    assert "no resolver configured" in broken.probe()


def parsed(raw: bytes) -> MailMessage:
    return parse_message(RawMail(Origin("t", 1), raw))


HOPS = (
    b"Return-Path: <bounce@example.net>\r\n"
    b"Received: from inner.corp (inner.corp [10.0.0.5]) by mx2.corp; Mon, 2 Mar 2026\r\n"
    b"Received: from mail.example.net (mail.example.net [5.6.7.8]) by mx.corp; Mon, 2 Mar 2026\r\n"
    b"Received: from forged.example (forged.example [9.9.9.9]) by mail.example.net; x\r\n"
    b"From: a@example.com\r\n\r\nhi\r\n"
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (HOPS, SmtpEnvelope("5.6.7.8", "bounce@example.net", "mail.example.net", "received")),
        (HOPS.replace(b"<bounce@example.net>", b"<>"),
         SmtpEnvelope("5.6.7.8", "", "mail.example.net", "received")),
        (HOPS.split(b"\r\n", 1)[1], SmtpEnvelope("5.6.7.8", None, "mail.example.net", "received")),
        (b"From: a@example.com\r\n\r\nhi\r\n", SmtpEnvelope(None, None, "", "received")),
    ],
)  # fmt: skip
def test_file_envelope(raw: bytes, expected: SmtpEnvelope) -> None:
    assert file_envelope(parsed(raw)) == expected


def test_session_envelope() -> None:
    msg = parsed(HOPS)
    # A public client is the client; its own headers are not read.
    assert session_envelope(msg, "1.2.3.4", "x@example.org", "mx.example.org") == SmtpEnvelope(
        "1.2.3.4", "x@example.org", "mx.example.org", "session"
    )
    # Behind Postfix (a loopback client): the client its Received names, MAIL FROM as given.
    assert session_envelope(msg, "127.0.0.1", "x@example.org", "localhost") == SmtpEnvelope(
        "5.6.7.8", "x@example.org", "mail.example.net", "received"
    )
    bare = parsed(b"From: a@example.com\r\n\r\nhi\r\n")
    assert session_envelope(bare, "10.1.2.3", "", "h") == SmtpEnvelope(None, "", "h", "session")


def test_header_value_is_rfc8601() -> None:
    auth = SenderAuth(
        (
            AuthCheck("spf", "fail", "domain of a@x.example (evil) does not\r\ndesignate",
                      (("smtp.mailfrom", "a@x.example"),)),
            AuthCheck("dkim", "pass", "", (("header.d", "x.example"), ("header.s", ""))),
            AuthCheck("dmarc", "fail", "p=reject \udcff", (("header.from", 'we"ird value'),)),
        )
    )  # fmt: skip
    value = auth.header_value()
    assert value == (
        "floodwall; spf=fail (domain of a@x.example [evil] does not designate) "
        "smtp.mailfrom=a@x.example; dkim=pass header.d=x.example; "
        'dmarc=fail (p=reject) header.from="we\'ird value"'
    )
    assert parse_results(value) == ("floodwall", {"spf": "fail", "dkim": "pass", "dmarc": "fail"})
    assert SenderAuth((), "not verified: x").header_value() == "floodwall; none (not verified: x)"
