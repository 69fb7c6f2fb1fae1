"""Sender names and subjects written with lookalike Unicode letters or invisible characters."""

from __future__ import annotations

import re
import unicodedata
from typing import ClassVar

from floodwall.detect.mail.confusables import CONFUSABLES
from floodwall.detect.mail.findings import detector_finding
from floodwall.records import Finding, MailMessage, Severity

# Unicode character names of letters that only restyle Latin ones: Mathematical
# Alphanumeric Symbols (𝐏𝐚𝐲𝐏𝐚𝐥), small capitals (ᴄʟᴏᴜᴅ), circled, squared and parenthesized
# letters (Ⓟⓐⓨ, 🅿), fullwidth forms (Ｐａｙ). UTS #39 §4 treats them as confusable with the
# plain letters; filters that match words do not.
_STYLED_NAMES = (
    "MATHEMATICAL ",
    "LATIN LETTER SMALL CAPITAL",
    "CIRCLED LATIN",
    "SQUARED LATIN",
    "NEGATIVE SQUARED LATIN",
    "NEGATIVE CIRCLED LATIN",
    "PARENTHESIZED LATIN",
    "FULLWIDTH LATIN",
    "REGIONAL INDICATOR SYMBOL LETTER",
)
# Characters that render as nothing (Unicode general category Cf and friends); between two
# letters they only break a word apart for filters: "Pa\u200bypal".
# Left-to-right and right-to-left marks (U+200E, U+200F) are invisible too. Variation
# selectors (U+FE00-FE0F, U+E0100-E01EF) and tag characters (U+E0000-E007F)
# also render as nothing after a letter: emoji use them, but never inside a word.
_INVISIBLE = (
    "\u00ad\u034f\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff"
    "\ufe00-\ufe0f\U000e0000-\U000e007f\U000e0100-\U000e01ef"
)
_SPLIT_WORD = re.compile(rf"[A-Za-z0-9][{_INVISIBLE}]+[A-Za-z0-9]")
_WORD = re.compile(r"\w+")
_LOOKALIKES = frozenset(c for c in CONFUSABLES if not c.isascii() and ord(c) >= 0x370)
# Han, kana and Hangul text legitimately writes Latin letters in fullwidth form.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


def styled_letters(text: str) -> str:
    """The restyled Latin letters in ``text`` (fullwidth ones only outside CJK text)."""
    cjk = bool(_CJK.search(text))
    out = []
    for c in text:
        if c.isascii() or not (c.isalpha() or unicodedata.category(c) == "So"):
            continue
        name = unicodedata.name(c, "")
        if name.startswith(_STYLED_NAMES) and not (cjk and name.startswith("FULLWIDTH")):
            out.append(c)
    return "".join(out)


def mixed_words(text: str) -> list[str]:
    """Words that mix ASCII letters with Cyrillic or Greek letters that pass for Latin
    ones (``Pаypal`` with a Cyrillic ``а``): UTS #39 §5.1 mixed-script detection."""
    return [
        w
        for w in _WORD.findall(text)
        if any(c in _LOOKALIKES for c in w) and any(c.isascii() and c.isalpha() for c in w)
    ]


class UnicodeObfuscationDetector:
    """The From display name or the Subject uses restyled Latin letters (𝐏𝐚𝐲𝐏𝐚𝐥, ᴄʟᴏᴜᴅ),
    words mixing Latin with lookalike Cyrillic or Greek letters, or invisible characters
    inside words.

    Such text reads normally to a person but not to word filters, which is its only use
    in a sender name or subject (UTS #39 "Unicode Security Mechanisms" §4-5; T1036, T1027).
    """

    id: ClassVar[str] = "mail.unicode_obfuscation"
    title: ClassVar[str] = "Lookalike or invisible Unicode in sender name or subject"
    severity: ClassVar[Severity] = Severity.MEDIUM
    attack: ClassVar[tuple[str, ...]] = ("T1566", "T1036", "T1027.013")

    def _tricks(self, text: str) -> list[str]:
        tricks = []
        if len(styled := styled_letters(text)) >= 2:
            tricks.append(f"restyled letters {styled[:20]!r}")
        if mixed := mixed_words(text):
            tricks.append(f"mixed-script word(s) {', '.join(mixed[:3])!r}")
        if _SPLIT_WORD.search(text):
            tricks.append("invisible characters inside a word")
        return tricks

    def detect(self, msg: MailMessage) -> list[Finding]:
        """At most one finding naming each trick and where it was seen."""
        found = {
            where: tricks
            for where, text in (("display name", msg.from_name), ("subject", msg.subject))
            if text and not text.isascii() and (tricks := self._tricks(text))
        }
        if not found:
            return []
        reason = "; ".join(f"{where}: {', '.join(t)}" for where, t in found.items())
        return [
            detector_finding(
                self,
                {"reason": reason, "from_name": msg.from_name, "subject": msg.subject},
            )
        ]
