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


@pytest.mark.parametrize(
    ("sender", "url", "text", "expected"),
    [
        # a newsletter's own click-tracking redirect under a shop's address: the reader
        # already sees the sender's domain
        ("news@ummail4.unitedmedia.com", "http://www.unitedmedia.com/c?1", "Dilbert.com", False),
        # an impostor sending readers to a third domain under the brand's address
        ("news@ummail4.unitedmedia.com", "http://evil.tld/c?1", "Dilbert.com", True),
        ("service@paypal.example", "http://evil.tld/login", "www.paypal.com", True),
    ],
)
def test_links_to_the_senders_own_domain(sender: str, url: str, text: str, expected: bool) -> None:
    msg = make_msg(from_addr=sender, links=[(url, text)])
    assert fired(DETECTOR, msg) is expected
