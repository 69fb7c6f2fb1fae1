"""ReturnPathMismatchDetector: envelope sender outside the From domain."""

from __future__ import annotations

import mail_util as util
import pytest

from floodwall.detect.mail.return_path_mismatch import ReturnPathMismatchDetector

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
