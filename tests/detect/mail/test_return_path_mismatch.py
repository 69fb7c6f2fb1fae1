"""ReturnPathMismatchDetector: envelope sender outside the From domain."""

from __future__ import annotations

import dataclasses

import mail_util as util
import pytest

from floodwall.detect.mail.return_path_mismatch import ReturnPathMismatchDetector
from floodwall.records import AuthCheck, MailMessage, SenderAuth

make_msg, fired = util.make_msg, util.fired


DETECTOR = ReturnPathMismatchDetector(util.psl())
AR_ALIGNED = "mx.example.net; spf=pass smtp.mailfrom=esp.net; dkim=pass header.d=shop.example.com"
AR_OTHER = "mx.example.net; dkim=pass header.d=esp.net; spf=pass"


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"from_addr": "service@paypal.com", "return_path": "bounce@evil.tld"}, True),
        ({"from_addr": "a@shop.example.com", "return_path": "b@esp.net",
          "headers": {"Authentication-Results": AR_OTHER}}, True),
        ({"from_addr": "a@shop.example.com", "return_path": "b@esp.net",
          "headers": {"Authentication-Results": AR_ALIGNED}}, False),
        ({"from_addr": "news@shop.com", "return_path": "b@esp.net",
          "headers": {"List-Unsubscribe": "<mailto:u@esp.net>"}}, False),
        ({"from_addr": "a@x.org", "return_path": "owner-l@lists.y.org",
          "headers": {"List-Id": "<l.lists.y.org>"}}, False),
        ({"from_addr": "a@x.org", "return_path": "owner-l@lists.y.org",
          "headers": {"Precedence": "bulk"}}, False),
        ({"from_addr": "a@acme.com", "return_path": "bounces+123@em.acme.com"}, False),
        ({"from_addr": "a@acme.com", "return_path": ""}, False),
    ],
)  # fmt: skip
def test_return_path_mismatch(kw: dict[str, object], expected: bool) -> None:
    assert fired(DETECTOR, make_msg(**kw)) is expected


# The topmost Authentication-Results is the receiving MTA's; one below it came with the
# message, from whoever sent it (RFC 8601 section 5).
MX = "mx.acme.example; spf=pass smtp.mailfrom=esp.net; dkim=none"
FORGED = "mx.shop.example.com; dkim=pass header.d=shop.example.com"


def _spoofed(*results: str, **kw: object) -> MailMessage:
    msg = make_msg(from_addr="a@shop.example.com", return_path="b@esp.net", **kw)
    headers = tuple(("authentication-results", r) for r in results)
    return dataclasses.replace(msg, headers=msg.headers + headers)


def test_an_authentication_result_below_the_receivers_is_not_believed() -> None:
    assert fired(DETECTOR, _spoofed(MX, FORGED))
    assert not fired(DETECTOR, _spoofed(FORGED))  # the topmost: the receiver's own


def test_with_trusted_hosts_only_theirs_are_believed() -> None:
    trusting = ReturnPathMismatchDetector(util.psl(), ["mx.acme.example"])
    assert fired(trusting, _spoofed(FORGED))
    aligned = "mx.acme.example; dkim=pass header.d=shop.example.com"
    assert not fired(trusting, _spoofed(FORGED, aligned))


def test_floodwalls_own_aligned_dkim_pass_is_believed() -> None:
    own = SenderAuth((AuthCheck("dkim", "pass", props=(("header.d", "shop.example.com"),)),))
    assert not fired(DETECTOR, _spoofed(MX, sender_auth=own))
    other = SenderAuth((AuthCheck("dkim", "pass", props=(("header.d", "esp.net"),)),))
    assert fired(DETECTOR, _spoofed(MX, sender_auth=other))
