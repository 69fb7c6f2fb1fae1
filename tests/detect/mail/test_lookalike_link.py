"""LookalikeLinkDetector: link domains that imitate a brand (the sender check's index)."""

from __future__ import annotations

import mail_util as util
import pytest

from floodwall.detect.mail.lookalike_domain import LookalikeDomainDetector
from floodwall.detect.mail.lookalike_link import LookalikeLinkDetector

make_msg, fired = util.make_msg, util.fired

DETECTOR = LookalikeLinkDetector(LookalikeDomainDetector(util.psl(), util.brands()))


@pytest.mark.parametrize(
    ("links", "expected"),
    [
        (["https://paypal-secure-login.com/x"], 1),
        (["https://paypa1.com/", "https://paypa1.com/again"], 1),  # one per domain
        (["https://paypal.com.evil.example/", "https://rnicrosoft.com/"], 2),
        (["https://www.paypal.com/", "https://google.co.uk/"], 0),
        (["https://www.btinternet.com/"], 0),  # a well-known site is never a lookalike
        (["mailto:a@b.example", "", "http://[::1/"], 0),
        # honest near-miss names: typos count for sender domains only
        (["http://brian.carnell.com/", "http://www.sitehouse.net/"], 0),
        (["https://verify-paypal-account.com/"], 1),  # a brand word still counts
    ],
)
def test_lookalike_links(links: list[str], expected: int) -> None:
    msg = make_msg(from_addr="a@b.example", links=links)
    assert len(DETECTOR.detect(msg)) == expected
    assert fired(DETECTOR, msg) is bool(expected)


def test_sender_is_not_this_detectors() -> None:
    assert not fired(DETECTOR, make_msg(from_addr="service@paypa1.com"))
