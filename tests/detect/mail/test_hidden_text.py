"""HiddenTextDetector: CSS that lays content thousands of pixels out of view."""

from __future__ import annotations

from pathlib import Path

import mail_util as util
import pytest

from floodwall.detect.mail.hidden_text import (
    MAX_HTML,
    HiddenTextDetector,
    far_lengths,
    far_numbers_db,
    has_far_number,
)
from floodwall.ingest.mail_source import RawMail
from floodwall.normalize.mime import parse_message
from floodwall.records import Origin

make_msg, fired = util.make_msg, util.fired
DETECTOR = HiddenTextDetector()
SAMPLE = Path(__file__).parents[2] / "samples" / "detect" / "mail" / "hidden_text" / "sample.eml"


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<style>.belowView { margin-top: 470500px; }</style>", True),
        ('<div style="margin-top:9000px">padding text</div>', True),
        ('<div style="MARGIN-LEFT : -12000PX">x</div>', True),
        ('<p style="text-indent:-9999px">x</p>', True),
        ('<div style="position:absolute; top: 6000px">x</div>', True),
        (".wrapper { height: 10000vh; }", True),
        (".wrapper { min-height: 2000vh }", True),
        ('<td style="padding-top: 7000.5px">x</td>', True),
        # ordinary layouts
        ('<table style="width:600px; margin-top: 20px">', False),
        ('<div style="height:100vh">full screen</div>', False),
        ('<div style="margin-top: 4999px">x</div>', False),
        ('<img style="width: 12000px">', False),  # a wide box only scrolls
        ('<div style="line-height: 9000px">x</div>', False),  # not a placing property
        ('<div style="max-height: 9000px">x</div>', False),
        ("margin-top: 9000em", False),  # other units are not read
        ("The margin-top: 9000px rule is in our style guide", True),  # text reads as CSS
        ("", False),
    ],
)
def test_hidden_text(html: str, expected: bool) -> None:
    assert fired(DETECTOR, make_msg(html=html)) is expected


def test_plain_text_message_is_not_read() -> None:
    assert not fired(DETECTOR, make_msg(text="margin-top: 470500px"))


def test_css_past_the_read_limit_is_not_read() -> None:
    html = "<p>" + "x" * MAX_HTML + '</p><div style="margin-top:9000px">'
    assert not fired(DETECTOR, make_msg(html=html))


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "value",
    ["5000px", "05000px", "-9999px", "5000.5px", "000005000px", "999999999px", "9000 PX",
     "500vh", "0500VW", "-700vh", "1000vw", "123456789vh", "4999px", "499vh", "12px",
     "50000000000px", "5000pt", "7000.999999px"],
)  # fmt: skip
def test_the_quick_check_lets_every_far_length_through(value: str) -> None:
    """The Hyperscan check only skips HTML in which the full read finds nothing."""
    html = f'<div style="margin-top:{value}">x</div>'
    assert has_far_number(html, far_numbers_db()) or not far_lengths(html)


@pytest.mark.parametrize(
    "html",
    ['<td width="600" style="padding:12px">', "x" * 100, "5000", "line-height:14.399999999px"],
)
def test_the_quick_check_skips_ordinary_html(html: str) -> None:
    assert not has_far_number(html, far_numbers_db())


def test_hostile_css_is_read_in_one_pass() -> None:
    """A megabyte of near-misses (lengths in other units, long digit runs, spaces) ends
    without a finding and without a hang: the pattern has no nested repetition."""
    html = ("margin-top:" + " " * 50 + "9" * 20 + "pt;") * (MAX_HTML // 80)
    assert not fired(DETECTOR, make_msg(html=html))


def test_sample_fires() -> None:
    msg = parse_message(RawMail(Origin(str(SAMPLE), 1), SAMPLE.read_bytes()))
    (finding,) = DETECTOR.detect(msg)
    assert finding.id == "mail.hidden_text"
    assert "margin-top: 470500px" in finding.evidence["reason"]
    assert "height: 10000vh" in finding.evidence["reason"]
