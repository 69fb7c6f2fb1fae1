"""AuthResultsDetector: failures recorded by a trusted receiving host (RFC 8601)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import mail_util as util
import pytest

from floodwall.detect.mail.auth_results import AuthResultsDetector, parse_results
from floodwall.records import AuthCheck, SenderAuth

MS_FAIL = "spf=softfail (sender IP is 203.0.113.9) smtp.mailfrom=x.example; dkim=none; dmarc=fail action=quarantine header.from=bank.example"
GOOGLE_PASS = "mx.google.com; dkim=pass header.i=@a.example; spf=pass smtp.mailfrom=a.example; dmarc=pass header.from=a.example"
ORG_FAIL = "mx.corp.example 1; spf=fail smtp.mailfrom=evil.example; dkim=fail header.d=evil.example"


@pytest.mark.parametrize(
    ("trusted", "headers", "expected"),
    [
        ((), [MS_FAIL], ["dmarc=fail", "spf=softfail"]),
        ((), [GOOGLE_PASS], []),
        ((), [], []),  # no header says nothing (and is never scored)
        ((), ["spf=none; dkim=none; dmarc=none"], []),
        # only the topmost header counts when no host is configured
        ((), [GOOGLE_PASS, MS_FAIL], []),
        # with configured hosts, only theirs count, wherever they are
        (("mx.corp.example",), [GOOGLE_PASS, ORG_FAIL], ["dkim=fail", "spf=fail"]),
        (("mx.corp.example",), [MS_FAIL], []),
        ((), ["garbage ;;; ===; (unclosed comment"], []),
    ],
)
def test_detector(trusted: tuple[str, ...], headers: list[str], expected: list[str]) -> None:
    msg = util.make_msg(from_addr="a@bank.example", headers={})
    msg = replace(msg, headers=tuple(("authentication-results", h) for h in headers))
    found = AuthResultsDetector(trusted).detect(msg)
    assert [f.evidence["failed"] for f in found] == ([expected] if expected else [])


def test_parse_results() -> None:
    assert parse_results(GOOGLE_PASS) == (
        "mx.google.com",
        {"dkim": "pass", "spf": "pass", "dmarc": "pass"},
    )
    assert parse_results(MS_FAIL)[0] == ""


def test_metadata() -> None:
    d: Any = AuthResultsDetector
    assert d.id == "mail.auth_fail" and (d.__doc__ or "").strip()


MS_COMPAUTH = (
    "spf=pass (sender IP is 203.0.113.9) smtp.mailfrom=x.example; dkim=none; "
    "dmarc=none action=none header.from=x.example;compauth=fail reason=001"
)
SPF_FAIL = (
    "Fail (protection.outlook.com: domain of x.example does not designate 203.0.113.9 "
    "as permitted sender) receiver=protection.outlook.com; client-ip=203.0.113.9;"
)
SPF_PASS = (
    "Pass (mx.corp.example: domain of x.example designates 192.0.2.1) receiver=mx.corp.example;"
)


@pytest.mark.parametrize(
    ("trusted", "headers", "expected"),
    [
        ((), [("authentication-results", MS_COMPAUTH)], ["compauth=fail"]),
        ((), [("authentication-results", "x; compauth=softpass reason=201")], []),
        ((), [("received-spf", SPF_FAIL)], ["spf=fail"]),
        ((), [("received-spf", "SoftFail (x) receiver=y;")], ["spf=softfail"]),
        ((), [("received-spf", "None (x: no SPF record)")], []),
        # only the topmost Received-SPF counts without configured hosts
        ((), [("received-spf", SPF_PASS), ("received-spf", SPF_FAIL)], []),
        # with configured hosts, only a Received-SPF whose receiver= is trusted counts
        (("mx.corp.example",), [("received-spf", SPF_FAIL)], []),
        (("protection.outlook.com",), [("received-spf", SPF_FAIL)], ["spf=fail"]),
        # the same failure from both headers is named once
        (
            (),
            [("authentication-results", MS_FAIL), ("received-spf", "softfail")],
            ["dmarc=fail", "spf=softfail"],
        ),
        ((), [("received-spf", ""), ("received-spf", "\udcff" * 10_000)], []),
    ],
)
def test_compauth_and_received_spf(
    trusted: tuple[str, ...], headers: list[tuple[str, str]], expected: list[str]
) -> None:
    msg = replace(util.make_msg(from_addr="a@x.example"), headers=tuple(headers))
    found = AuthResultsDetector(trusted).detect(msg)
    assert [f.evidence["failed"] for f in found] == ([expected] if expected else [])


# Floodwall's own results (MailMessage.sender_auth, from floodwall/enrich/mail_auth).
DKIM_FAIL = AuthCheck("dkim", "fail", "body hash did not verify", (("header.d", "bank.example"),))
DKIM_PASS = AuthCheck("dkim", "pass", "", (("header.d", "list.example"),))
SPF_SOFT = AuthCheck("spf", "softfail", "x", (("smtp.mailfrom", "a@bank.example"),))
DMARC_FAIL = AuthCheck("dmarc", "fail", "p=reject; no aligned SPF or DKIM pass")
TEMP = AuthCheck("spf", "temperror", "not verified: DNS unreachable: refused")


@pytest.mark.parametrize(
    ("checks", "trusted_headers", "expected"),
    [
        ((DKIM_FAIL,), [], ["dkim=fail"]),
        ((SPF_SOFT, DMARC_FAIL), [], ["dmarc=fail", "spf=softfail"]),
        # a result not reached is no failure, nor is a DKIM fail beside a DKIM pass
        ((TEMP, replace(TEMP, method="dkim"), replace(TEMP, method="dmarc")), [], []),
        ((DKIM_FAIL, DKIM_PASS), [], []),
        ((AuthCheck("dmarc", "permerror", "2 From header fields"),), [], []),
        ((), [], []),  # DNS off: nothing verified, nothing claimed
        # with a trusted host's failure too, both are named and the result merged
        ((DKIM_FAIL,), [MS_FAIL], ["dkim=fail", "dmarc=fail", "spf=softfail"]),
        ((DMARC_FAIL,), [MS_FAIL], ["dmarc=fail", "spf=softfail"]),
    ],
)
def test_own_results_count_like_a_trusted_host(
    checks: tuple[AuthCheck, ...], trusted_headers: list[str], expected: list[str]
) -> None:
    msg = util.make_msg(from_addr="a@bank.example")
    headers = tuple(("authentication-results", h) for h in trusted_headers)
    msg = replace(msg, headers=headers, sender_auth=SenderAuth(checks, "" if checks else "off"))
    found = AuthResultsDetector().detect(msg)
    assert [f.evidence["failed"] for f in found] == ([expected] if expected else [])
    for f in found:
        reason = f.evidence["reason"]
        assert ("Floodwall's own check" in reason) == ("floodwall" in f.evidence)
        if trusted_headers:
            assert reason.startswith("authentication failed at the receiving host:")
        if "floodwall" in f.evidence:
            assert f.evidence["floodwall"].startswith("floodwall; ")
            assert "temperror" not in reason


def test_no_own_results_when_not_attempted() -> None:
    msg = util.make_msg(from_addr="a@bank.example")
    assert msg.sender_auth is None and AuthResultsDetector().detect(msg) == []
