"""UrlShortenerDetector: links through URL shorteners."""

from __future__ import annotations

import mail_util as util
import pytest

from floodwall.detect.mail import reference
from floodwall.detect.mail.url_shortener import UrlShortenerDetector

make_msg, fired = util.make_msg, util.fired


DETECTOR = UrlShortenerDetector(util.psl(), reference.load_shorteners())


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://bit.ly/3xYz", True),
        ("http://tinyurl.com/abc", True),
        ("https://t.co/abc", True),
        ("https://www.tinyurl.com/abc", True),
        ("https://bitly.example.com/", False),
        ("https://www.example.com/bit.ly", False),
        ("https://cotton.co/", False),
    ],
)
def test_url_shortener(url: str, expected: bool) -> None:
    assert fired(DETECTOR, make_msg(links=[url])) is expected


def test_bundled_list_is_compact_and_clean() -> None:
    names = reference.load_shorteners()
    assert 50 <= len(names) <= 100
    assert all(n == n.strip().lower() and "." in n for n in names)
