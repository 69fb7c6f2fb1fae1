"""UnicodeObfuscationDetector: restyled, lookalike or invisible Unicode in name or subject."""

from __future__ import annotations

import mail_util as util
import pytest

from floodwall.detect.mail.unicode_obfuscation import UnicodeObfuscationDetector

make_msg, fired = util.make_msg, util.fired

DETECTOR = UnicodeObfuscationDetector()


@pytest.mark.parametrize(
    ("name", "subject", "expected"),
    [
        ("ᴄʟᴏᴜᴅ sᴛᴏʀᴀɢᴇ", "Your photos will be deleted", True),  # small capitals
        ("𝐏𝐚𝐲𝐏𝐚𝐥", "Account review", True),  # mathematical bold
        ("", "Ⓝⓔⓣⓕⓛⓘⓧ payment failed", True),  # circled letters
        ("Ｍｉｃｒｏｓｏｆｔ", "", True),  # fullwidth
        ("Pаypal Service", "", True),  # Cyrillic a in a Latin word
        ("", "Your Nеtflix account", True),  # Cyrillic e
        ("", "Micro\u200bsoft alert", True),  # zero-width space inside a word
        ("", "Pay\u00adPal notice", True),  # soft hyphen inside a word
        ("Micro\U000e0139sof\U000e0139t Mail", "", True),  # variation selector in a word
        ("", "Net\U000e0041flix", True),  # tag character inside a word
        ("Pr\u200ei\u200em\u200ee", "", True),  # left-to-right marks between letters
        # honest Unicode
        ("José Müller", "Réunion à Zürich", False),
        ("Иван Петров", "Встреча завтра", False),  # Cyrillic words, no Latin mixed in
        ("Ελένη", "Καλημέρα Bob", False),  # Greek and Latin in separate words
        ("", "ＰＣの設定について", False),  # fullwidth Latin inside Japanese text
        ("", "Party 🎉 tonight 👨\u200d👩\u200d👧", False),  # emoji sequence with ZWJ
        ("", "Plain ASCII subject", False),
        ("", "Love it \u2764\ufe0f see you", False),  # emoji presentation selector
        ("", "", False),
        ("", "One 𝐛 letter", False),  # a single restyled letter is not a word
    ],
)
def test_unicode_obfuscation(name: str, subject: str, expected: bool) -> None:
    assert fired(DETECTOR, make_msg(from_name=name, subject=subject)) is expected


def test_hostile_text_is_quick_and_safe() -> None:
    subject = ("\udcff\x00\ufffd" + "𝐀" * 3) * 100_000
    assert fired(DETECTOR, make_msg(subject=subject))
    assert not fired(DETECTOR, make_msg(subject="é" * 1_000_000))
