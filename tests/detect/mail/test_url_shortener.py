"""UrlShortenerDetector: links through URL shorteners."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from floodwall.detect.mail import reference
from floodwall.detect.mail.url_shortener import UrlShortenerDetector

_spec = importlib.util.spec_from_file_location("mail_util", Path(__file__).with_name("util.py"))
assert _spec and _spec.loader
util = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(util)
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
