"""ShortenedOnlyDetector: HTML mail whose every link goes through a URL shortener."""

from __future__ import annotations

import mail_util as util
import pytest

from floodwall.detect.mail import reference
from floodwall.detect.mail.shortened_only import ShortenedOnlyDetector

make_msg, fired = util.make_msg, util.fired

DETECTOR = ShortenedOnlyDetector(util.psl(), reference.load_shorteners())
HTML = "<p><a href='x'>Claim</a></p>"


@pytest.mark.parametrize(
    ("links", "html", "expected"),
    [
        (["https://bit.ly/a", "https://bit.ly/b"], HTML, True),
        (["https://t.co/x"], HTML, True),
        (["https://tinyurl.com/zqj", "mailto:x@example.com"], HTML, True),  # web links only
        # must not fire
        (["https://bit.ly/a", "https://www.example.com/news"], HTML, False),  # one of many
        (["https://bit.ly/a"], "", False),  # plain text: a person pasting a short link
        (["https://www.example.com/"], HTML, False),
        ([], HTML, False),
        (["mailto:x@bit.ly"], HTML, False),
    ],
)
def test_shortened_only(links: list[str], html: str, expected: bool) -> None:
    assert fired(DETECTOR, make_msg(links=links, html=html)) is expected


def test_many_hostile_links_are_quick() -> None:
    links = ["https://bit.ly/" + "a" * 5000] * 10_000 + ["http://[::1"]
    assert not fired(DETECTOR, make_msg(links=links, html=HTML))
