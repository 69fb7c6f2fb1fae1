"""PrizeLureDetector: prize, lottery and giveaway lures in the subject or text."""

from __future__ import annotations

from pathlib import Path

import mail_util as util
import pytest

from floodwall.detect.mail.prize_lure import MAX_TEXT, PrizeLureDetector
from floodwall.ingest.mail_source import RawMail
from floodwall.normalize.mime import parse_message
from floodwall.records import Origin

make_msg, fired = util.make_msg, util.fired
DETECTOR = PrizeLureDetector()
SAMPLE = Path(__file__).parents[2] / "samples" / "detect" / "mail" / "prize_lure" / "sample.eml"


@pytest.mark.parametrize(
    ("subject", "text", "expected"),
    [
        ("You won a PREDATOR generator", "", True),
        ("", "Congratulations! You've won an iPhone", True),
        ("", "Claim your reward before Friday", True),
        ("", "300 FREE SPINS welcome offer", True),
        ("", "Herzlichen Glückwunsch! Sie wurden für einen Gutschein ausgewählt", True),
        ("", "Sie wurden ausgewa\u0308hlt", True),  # decomposed umlaut (NFD)
        ("Consulte seus valores a receber", "", True),
        ("", "Parabéns, você ganhou um prêmio", True),
        ("", "Vous avez gagné un bon d'achat", True),
        ("wir gratulieren recht herzlich", "", True),
        ("Ihr 250€ Netto-Gutschein wartet auf Sie!", "", True),
        ("Du gehörst zu den 50 glücklichen Finalisten", "", True),
        ("Willkommensbonus: 1000 € + 100 Freispiele", "", True),
        ("", "Gefeliciteerd! U heeft gewonnen", True),
        ("", "Você foi sorteado para um prêmio", True),
        ("", "Ihr Gutschein ist gültig bis Ende Mai", False),  # a shop's voucher, no win
        ("", "Die Gewinner der Wahl stehen fest", False),
        ("", "You won't believe this kernel bug", False),
        ("", "Our team won the league last year", False),
        ("", "The congratulations card is on your desk", False),
        ("Re: spins of the disk", "free spinsters", False),  # whole words only
        ("Meeting notes", "See the attached minutes.", False),
    ],
)
def test_prize_lure(subject: str, text: str, expected: bool) -> None:
    assert fired(DETECTOR, make_msg(subject=subject, text=text)) is expected


def test_lure_past_the_read_limit_is_not_read() -> None:
    text = "x " * MAX_TEXT + "you won"
    assert not fired(DETECTOR, make_msg(text=text))


def test_sample_fires() -> None:
    msg = parse_message(RawMail(Origin(str(SAMPLE), 1), SAMPLE.read_bytes()))
    (finding,) = DETECTOR.detect(msg)
    assert (finding.id, finding.evidence["phrase"]) == ("mail.prize_lure", "congratulations! you")
