"""strip_own_fields: a sender's own X-Floodwall-* and "Authentication-Results: floodwall"
fields are removed from the message's header block, nothing else (RFC 8601 §5)."""

from __future__ import annotations

import time

import pytest

from floodwall.respond.header_filter import strip_own_fields

BODY = b"\r\nX-Floodwall-Verdict: accept\r\nAuthentication-Results: floodwall; dkim=pass\r\n"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        # ours, in any case, folded or not: removed
        (b"X-Floodwall-Verdict: accept\r\nFrom: a@b.example\r\n", b"From: a@b.example\r\n"),
        (b"x-floodwall-score: 0\r\nFrom: a@b.example\r\n", b"From: a@b.example\r\n"),
        (
            b"From: a@b.example\r\nX-Floodwall-Symbols: a(1) [x],\r\n b(2) [y]\r\nTo: c@d\r\n",
            b"From: a@b.example\r\nTo: c@d\r\n",
        ),
        (b"X-Floodwall-Spool-Id : 0123\r\nTo: c@d\r\n", b"To: c@d\r\n"),  # WSP before colon
        (b"Authentication-Results: floodwall; dmarc=pass\r\nTo: c@d\r\n", b"To: c@d\r\n"),
        (b"Authentication-Results: FloodWall 1; spf=pass\r\nTo: c@d\r\n", b"To: c@d\r\n"),
        (
            b"Authentication-Results: (forged (nested)) floodwall;\r\n\tdkim=pass\r\nTo: c@d\r\n",
            b"To: c@d\r\n",
        ),
        # the id as any word before the first ";" counts, so no comment can hide it;
        # a host's own results that name floodwall in a comment go too (none do)
        (
            b"Authentication-Results: ((floodwall; dkim=pass\r\nTo: c@d\r\n",
            b"To: c@d\r\n",
        ),
        (
            b"Authentication-Results: mx.corp.example (via floodwall); spf=pass\r\nTo: c@d\r\n",
            b"To: c@d\r\n",
        ),
        # a trusted host's results, and look-alike names: kept
        (
            b"Authentication-Results: mx.corp.example; dkim=pass\r\nTo: c@d\r\n",
            b"Authentication-Results: mx.corp.example; dkim=pass\r\nTo: c@d\r\n",
        ),
        (
            b"Authentication-Results: floodwall.example; spf=pass\r\nTo: c@d\r\n",
            b"Authentication-Results: floodwall.example; spf=pass\r\nTo: c@d\r\n",
        ),
        (b"X-Floodwallet: 1\r\nTo: c@d\r\n", b"X-Floodwallet: 1\r\nTo: c@d\r\n"),
        (b"X-Mailer: X-Floodwall-Verdict\r\n", b"X-Mailer: X-Floodwall-Verdict\r\n"),
        # bare LF line ends, as some clients write
        (b"X-Floodwall-Verdict: accept\nTo: c@d\n", b"To: c@d\n"),
        # every field ours: the block is empty, the empty line and body stay
        (b"X-Floodwall-Verdict: accept\r\n", b""),
        # a stray continuation or a line with no colon is kept as it was
        (b" stray\r\nnocolon\r\nX-Floodwall-Score: 1\r\n", b" stray\r\nnocolon\r\n"),
        # invalid UTF-8 and NUL in the header
        (b"Subject: \xff\xfe\x00\r\nX-Floodwall-Score: 1\r\n", b"Subject: \xff\xfe\x00\r\n"),
    ],
)
def test_strip_own_fields(header: bytes, expected: bytes) -> None:
    assert strip_own_fields(header + BODY) == expected + BODY


def test_message_without_our_fields_is_returned_as_is() -> None:
    raw = b"From: a@b.example\r\nTo: c@d\r\n" + BODY
    assert strip_own_fields(raw) is raw


def test_message_that_is_all_header() -> None:
    assert strip_own_fields(b"To: c@d\r\nX-Floodwall-Score: 1") == b"To: c@d\r\n"
    assert strip_own_fields(b"X-Floodwall-Score: 1\r\nTo: c@d") == b"To: c@d"


def test_other_authserv_ids_can_be_named() -> None:
    raw = b"Authentication-Results: gw.corp.example; spf=pass\r\nTo: c@d\r\n" + BODY
    assert strip_own_fields(raw, ("gw.corp.example",)) == b"To: c@d\r\n" + BODY


def test_huge_hostile_header_is_filtered_in_bounded_time() -> None:
    forged = b"X-Floodwall-Verdict: accept\r\n" + b" (" * 200_000 + b"\r\n"
    ar = b"Authentication-Results: " + b"(" * 100_000 + b"floodwall; dkim=pass\r\n"
    keep = b"Received: from x by y; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
    raw = (forged + ar + keep) * 50 + b"\r\n" + b"b" * 10_000_000
    started = time.monotonic()
    out = strip_own_fields(raw)
    assert time.monotonic() - started < 10
    assert out == keep * 50 + b"\r\n" + b"b" * 10_000_000
