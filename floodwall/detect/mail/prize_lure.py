"""A prize, lottery or giveaway lure: "you won", "claim your reward", "free spins"."""

from __future__ import annotations

import re
from typing import ClassVar

from floodwall.detect.mail.credential_wording import fold
from floodwall.detect.mail.findings import detector_finding
from floodwall.records import Finding, MailMessage, Severity

# Phrases that tell the reader they won or were picked for something of value
# (EN, DE, NL, FR, ES, PT), accents optional (``fold`` drops combining marks). "you won't"
# is no claim of a win. Whole words only.
_LURE = re.compile(
    r"\b(?:"
    r"you(?:'ve| have)? won(?![’'])|you are (?:a|our) (?:lucky )?winner"
    r"|congratulations[!,.]? you|claim your (?:prize|reward|gift|bonus|winnings)"
    r"|free spins|you have been (?:selected|chosen)"
    r"|herzlichen gl[uü]ckwunsch|sie haben gewonnen|sie wurden (?:\w+ )?ausgew[aä]hlt"
    r"|wir gratulieren|gutschein wartet|sofortgewinn|gl[uü]cklichen (?:gewinner|finalisten)"
    r"|freispiele|gefeliciteerd|(?:u heeft|je hebt|jij hebt) gewonnen"
    r"|u bent (?:\w+ )?geselecteerd|gratis spins"
    r"|vous avez gagn[eé]|f[eé]licitations[!,.]? vous|tours gratuits"
    r"|has ganado|ganaste|ha sido seleccionado|giros gratis"
    r"|parab[eé]ns|voc[eê] ganhou|voc[eê] foi (?:selecionad|sortead)[oa]|valores a receber"
    r"|rodadas gr[aá]tis"
    r")\b"  # no IGNORECASE: the text is folded to lowercase first, and it is 5x slower
)
MAX_TEXT = 200_000  # the lure sits at the top; a long text is not read past this


class PrizeLureDetector:
    """The subject or text tells the reader they won, or were picked for, a prize.

    Lottery, giveaway and "free spins" lures (T1566, T1598) that carry no attachment and
    no trick in their links. Wording is a weak signal (issue 3): the policy weighs it
    below the tag threshold, so it only adds to real signals.
    """

    id: ClassVar[str] = "mail.prize_lure"
    title: ClassVar[str] = "Prize or lottery lure"
    severity: ClassVar[Severity] = Severity.LOW
    attack: ClassVar[tuple[str, ...]] = ("T1566", "T1598")

    def detect(self, msg: MailMessage) -> list[Finding]:
        """One finding naming the first lure phrase."""
        match = _LURE.search(fold(f"{msg.subject}\n{msg.text[:MAX_TEXT]}"))
        if match is None:
            return []
        phrase = match.group(0)
        return [
            detector_finding(
                self, {"reason": f"the message promises a prize ({phrase!r})", "phrase": phrase}
            )
        ]
