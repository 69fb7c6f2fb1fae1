"""Credential-harvesting, urgency and payment (BEC) wording in the subject and text."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, ClassVar

import ahocorasick

from floodwall.detect.mail.findings import detector_finding
from floodwall.records import Finding, MailMessage, Severity


@lru_cache(maxsize=4)  # two detectors fold the same subject and text of each message
def fold(text: str) -> str:
    """Lowercase ``text`` without combining marks or format characters (Unicode Cf: zero-width
    and bidi controls) that phishers sprinkle into words ("Aܿmܿaܿzon")."""
    text = text.lower()
    if text.isascii():
        return text
    # Look each distinct character up once (a text has few), then delete in one C pass.
    drop = {
        ord(c): None
        for c in set(text)
        if not c.isascii() and (unicodedata.combining(c) or unicodedata.category(c) == "Cf")
    }
    return text.translate(drop) if drop else text


class CredentialWordingDetector:
    """Phrases phishers use ("verify your account", "wire transfer", "urgent"), EN/DE/FR/ES.

    A weak signal on its own (ham says "urgent" too); the policy weighs it low and
    combines it. One Aho-Corasick pass over subject and text finds every phrase; a match
    counts only on whole words. It fires when a credential or payment phrase appears, or
    phrases from two categories.
    """

    id: ClassVar[str] = "mail.credential_wording"
    title: ClassVar[str] = "Phishing wording"
    severity: ClassVar[Severity] = Severity.LOW
    attack: ClassVar[tuple[str, ...]] = ("T1566", "T1598")

    def __init__(self, phrases: Mapping[str, tuple[str, ...]]) -> None:
        """``phrases``: category -> lowercase phrases (``reference.load_phrases()``)."""
        self.automaton: Any = ahocorasick.Automaton()
        for category, words in phrases.items():
            for phrase in words:
                self.automaton.add_word(phrase, (category, phrase))
        self.automaton.make_automaton()

    def matches(self, text: str) -> dict[str, list[str]]:
        """Category -> distinct phrases found on word boundaries in ``text``."""
        found: dict[str, list[str]] = {}
        if not len(self.automaton):
            return found
        for end, (category, phrase) in self.automaton.iter(text):
            start = end - len(phrase) + 1
            before = text[start - 1] if start else " "
            after = text[end + 1] if end + 1 < len(text) else " "
            if before.isalnum() or after.isalnum() or phrase in found.get(category, ()):
                continue
            found.setdefault(category, []).append(phrase)
        return found

    def detect(self, msg: MailMessage) -> list[Finding]:
        """One finding with the matched phrases, by category."""
        found = self.matches(fold(f"{msg.subject}\n{msg.text}"))
        strong = found.keys() & {"credential", "payment"}
        if not strong and len(found) < 2:
            return []
        listed = "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(found.items()))
        return [
            detector_finding(
                self,
                {"reason": f"the message uses phishing wording ({listed})", **found},
            )
        ]
