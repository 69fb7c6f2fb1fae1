"""A crypto-wallet lure: an airdrop, tokens to claim, a wallet to connect, a seed phrase."""

from __future__ import annotations

import re
from typing import ClassVar

from floodwall.detect.mail.credential_wording import fold
from floodwall.detect.mail.findings import detector_finding
from floodwall.records import Finding, MailMessage, Severity

# Phrases of wallet-drainer and fake-giveaway mail, read on folded (lowercased) text.
# Whole words only.
_PHRASES = re.compile(
    r"\b(?:"
    r"air ?drops?"
    r"|(?:seed|recovery|secret|mnemonic) phrase"
    r"|connect(?:ing)? (?:your |a )?(?:crypto ?)?wallet"
    r"|wallet (?:verification|validation|synchroni[sz]ation|connect)"
    r"|claim (?:your |the )?(?:free )?(?:[\w$]+ )?(?:tokens?|coins?|nfts?)"
    r")\b"
)
# Words one of the phrases above holds: a text with none of them is not searched (plain
# substring tests, far cheaper than the search on the many texts that have none).
_PHRASE_WORDS = ("airdrop", "air drop", "phrase", "wallet", "claim")
# A token ticker with what it is ("$MASK is here", "$DISNEY coins"), or a ticker to stake
# for a yield ("Stake your XLM for 25%"; "stake your claim" is an idiom). On the text as
# written, since only capitals make a ticker ("$msgid" in a shell script is not one).
_TICKER = re.compile(r"\$[A-Z]{2,8}\b(?= (?i:tokens?|coins?|rewards?|airdrops?|is here|holders?))")
_STAKE = re.compile(r"\b[Ss]tak(?:e|ing) (?:your )?\$?[A-Z]{2,8} (?:for|and earn)\b")
MAX_TEXT = 200_000  # as prize_lure reads: the lure sits at the top


class CryptoLureDetector:
    """The subject or text offers an airdrop or tokens to claim, asks to connect a wallet,
    or asks for a wallet's seed phrase.

    Wallet drainers (T1566, T1656 impersonation of the project) send people to a page
    that asks them to connect a wallet and sign, or to type their recovery phrase; the
    mail's only job is the lure. Wording is a weak signal (issue 3): the policy weighs it
    below the tag threshold and caps all wording together, so it only adds to real
    signals.
    """

    id: ClassVar[str] = "mail.crypto_lure"
    title: ClassVar[str] = "Crypto airdrop or wallet lure"
    severity: ClassVar[Severity] = Severity.LOW
    attack: ClassVar[tuple[str, ...]] = ("T1566", "T1656")

    def detect(self, msg: MailMessage) -> list[Finding]:
        """One finding naming the first lure phrase."""
        text = f"{msg.subject}\n{msg.text[:MAX_TEXT]}"
        folded = fold(text)
        match = None
        if any(w in folded for w in _PHRASE_WORDS):
            match = _PHRASES.search(folded)
        if match is None and "$" in text:
            match = _TICKER.search(text)
        if match is None and "tak" in folded:
            match = _STAKE.search(text)
        if match is None:
            return []
        phrase = match.group(0)
        reason = f"the message offers crypto or asks for a wallet ({phrase!r})"
        return [detector_finding(self, {"reason": reason, "phrase": phrase})]
