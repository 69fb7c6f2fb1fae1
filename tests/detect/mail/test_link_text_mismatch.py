"""LinkTextMismatchDetector: link text showing another domain than the href."""

from __future__ import annotations

import mail_util as util
import pytest

from floodwall.detect.mail.link_text_mismatch import LinkTextMismatchDetector

make_msg, fired = util.make_msg, util.fired


DETECTOR = LinkTextMismatchDetector(util.psl())


@pytest.mark.parametrize(
    ("url", "text", "expected"),
    [
        ("http://evil.tld/login", "https://www.paypal.com/signin", True),
        ("https://login.evil.xyz/", "www.mybank.com", True),
        ("http://198.51.100.7/", "paypal.com", True),
        ("https://www.paypal.com/signin", "https://www.paypal.com/", False),
        ("https://accounts.google.com/x", "google.com", False),
        ("https://example.com/x", "click here", False),
        ("https://example.com/doc", "invoice.pdf", False),
        ("mailto:help@example.com", "support.other.com", False),
        ("https://example.com/", "help@other.com", False),
        ("https://example.com/", "", False),
    ],
)
def test_link_text_mismatch(url: str, text: str, expected: bool) -> None:
    assert fired(DETECTOR, make_msg(links=[(url, text)])) is expected
