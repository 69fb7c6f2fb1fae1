"""RandomSenderDetector: a From mailbox name of random mixed-case letters."""

from __future__ import annotations

import mail_util as util
import pytest

from floodwall.detect.mail.random_sender import RandomSenderDetector

make_msg, fired = util.make_msg, util.fired

DETECTOR = RandomSenderDetector()


@pytest.mark.parametrize(
    ("from_header", "expected"),
    [
        ('"ThermiVest Gear Team." <KLzDTAvI@love.example.com>', True),
        ("<HvGkodFtmcYKpfN@space.example.us>", True),
        ("Sam's Club <caQIUAgQI@slave.example.com>", True),
        ("uSrPfPP@pier.example.com", True),
        ('"LibertyMutualTeam" <vPQXadn@love.example.com>', True),
        ("<dnVXGjxw@rare.example.com>", True),
        # names, words and numbers people and systems write
        ("John Smith <JohnSmith@example.com>", False),
        ("<John.McDonald@example.com>", False),
        ("<BloodHealthGummies@example.com>", False),  # CamelCase words
        ("<DJSmith@example.com>", False),
        ("<McDonald@example.com>", False),
        ("<JohnMcDonald@example.com>", False),
        ("<MaryAnnSmith@example.com>", False),
        ("<noreply@example.com>", False),
        ("<NOREPLY@example.com>", False),
        ("<aB3dE9xYz@example.com>", False),  # digits: an id, not this detector's
        ("<reply+AbCdEfGh@example.com>", False),
        ("<xYz@example.com>", False),  # too short to tell
        ("", False),
        ("no address at all", False),
    ],
)
def test_random_sender(from_header: str, expected: bool) -> None:
    headers = {"From": from_header} if from_header else {}
    assert fired(DETECTOR, make_msg(headers=headers, from_addr=from_header.lower())) is expected


def test_hostile_headers_are_safe() -> None:
    huge = "<" + "aB" * 5_000_000 + "@x.example>"
    assert not fired(DETECTOR, make_msg(headers={"From": huge}))
    assert not fired(DETECTOR, make_msg(headers={"From": "\udcff\x00<@>,,,<<>>"}))
