"""Header fields the gateway adds: folded as RFC 5322 wants, and no way for a hostile
reason to end a field early or add one."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime

import pytest

from floodwall.mail.trace_headers import clean_value, fold_field, trace_fields
from floodwall.records import AuthCheck, SenderAuth
from floodwall.respond.policy import Symbol, Verdict

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("a\r\nX-Evil: 1", "a\\x0d\\x0aX-Evil: 1"),
        ("nul\x00tab\t", "nul\\x00tab\\x09"),
        ("caf\u00e9 \u202e \U0001f600", "caf\\xe9 \\u202e \\U0001f600"),
        ("lone \udcff surrogate", "lone \\udcff surrogate"),
        ("[x]", "[x]"),
    ],
)
def test_clean_value(text: str, expected: str) -> None:
    assert clean_value(text) == expected


def test_clean_value_caps_and_escapes_extra() -> None:
    assert clean_value("x" * 50, cap=10) == "x" * 10 + "..."
    assert clean_value("a]b[", also="[]") == "a\\x5db\\x5b"


def test_fold_field_keeps_lines_short_and_words_whole() -> None:
    value = " ".join(f"word{i}" for i in range(60))
    folded = fold_field("X-Test", value)
    lines = folded.split("\r\n")
    assert lines[-1] == ""
    assert all(len(line) <= 78 for line in lines)
    assert all(line.startswith(" ") for line in lines[1:-1])
    assert " ".join(line.strip() for line in lines).replace("X-Test: ", "").strip() == value


def test_fold_field_long_word_stays_whole() -> None:
    folded = fold_field("X-Test", "a " + "b" * 300 + " c")
    assert folded == "X-Test: a\r\n " + "b" * 300 + "\r\n c\r\n"


def hostile_verdict() -> Verdict:
    reasons = ["evil\r\nX-Injected: yes", "\u202e.exe] fake(99) [", "x" * 5000, "\n\n"]
    symbols = tuple(Symbol(f"mail.s{i}", 1.0, r) for i, r in enumerate(reasons))
    return Verdict("tag", 4.0, symbols * 15)


def test_tag_fields_cannot_be_split_by_a_reason() -> None:
    fields = trace_fields(
        sid="0" * 24, verdict=hostile_verdict(), helo="evil\r\nX-Helo: 1", peer="10.0.0.1",
        hostname="gw.test", rcpt_to=["b@x.org"], tls=False, when=WHEN,
    )  # fmt: skip
    assert fields.isascii()
    msg = email.message_from_string(fields + "\r\nbody", policy=email.policy.default)
    assert sorted(msg.keys()) == sorted(
        ["Received", "X-Floodwall-Spool-Id", "X-Floodwall-Verdict", "X-Floodwall-Score",
         "X-Floodwall-Symbols"]
    )  # fmt: skip
    assert all(len(line) <= 998 for line in fields.split("\r\n"))
    assert "(+20 more)" in msg["X-Floodwall-Symbols"]
    assert "\\x5d fake(99) \\x5b" in msg["X-Floodwall-Symbols"]


def test_accept_gets_trace_fields_only() -> None:
    fields = trace_fields(
        sid="1" * 24, verdict=Verdict("accept", 0.0), helo="client.test", peer="10.0.0.1",
        hostname="gw.test", rcpt_to=["a@x.org", "b@x.org"], tls=True, when=WHEN,
    )  # fmt: skip
    assert fields == (
        "Received: from client.test (10.0.0.1) by gw.test (Floodwall) with ESMTPS id\r\n"
        " 111111111111111111111111; Fri, 02 Jan 2026 03:04:05 +0000\r\n"
        "X-Floodwall-Spool-Id: 111111111111111111111111\r\n"
    )


def test_authentication_results_go_on_top_and_cannot_be_split() -> None:
    """The sender writes smtp.mailfrom and header.d: no CR or LF of theirs ends the field."""
    auth = SenderAuth(
        (
            AuthCheck("spf", "fail", "not allowed", (("smtp.mailfrom", "a@x.org\r\nX-Evil: 1"),)),
            AuthCheck("dmarc", "fail", "", (("header.from", "bank.example"),)),
        )
    )
    fields = trace_fields(
        sid="2" * 24, verdict=Verdict("accept", 0.0), helo="client.test", peer="10.0.0.1",
        hostname="gw.test", rcpt_to=["a@x.org"], tls=False, when=WHEN,
        authentication=auth.header_value("floodwall"),
    )  # fmt: skip
    assert fields.isascii()
    msg = email.message_from_string(fields + "\r\nbody", policy=email.policy.default)
    assert list(msg.keys()) == ["Authentication-Results", "Received", "X-Floodwall-Spool-Id"]
    value = str(msg["Authentication-Results"])
    assert value.startswith("floodwall; spf=fail (not allowed) smtp.mailfrom=")
    assert value.endswith("; dmarc=fail header.from=bank.example")
