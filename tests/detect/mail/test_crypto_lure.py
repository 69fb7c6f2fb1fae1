"""CryptoLureDetector: airdrops, tokens to claim, wallets to connect, seed phrases."""

from __future__ import annotations

from pathlib import Path

import mail_util as util
import pytest

from floodwall.detect.mail.crypto_lure import MAX_TEXT, CryptoLureDetector
from floodwall.ingest.mail_source import RawMail
from floodwall.normalize.mime import parse_message
from floodwall.records import Origin

make_msg, fired = util.make_msg, util.fired
DETECTOR = CryptoLureDetector()
SAMPLE = Path(__file__).parents[2] / "samples" / "detect" / "mail" / "crypto_lure" / "sample.eml"


@pytest.mark.parametrize(
    ("subject", "text", "expected"),
    [
        ("Claim Your BWB Airdrop Today", "", True),
        ("", "Connect your wallet to receive the reward", True),
        ("", "Please confirm your 12-word recovery phrase", True),
        ("", "Enter your seed phrase to restore access", True),
        ("Eligible for SCR Tokens? Claim Your Tokens now", "", True),
        ("", "Start your wallet synchronization today", True),
        ("Stake your XLM for 25% yields", "", True),
        ("", "Exciting News: $MASK is Here!", True),
        ("", "stack $TOYOTA rewards with every mile", True),
        ("", "Connect Wallet", True),
        ("", "Stake your claim for the steak dinner", False),
        ("", "foreach m $rseq { set ix [lsearch $seq $m] }", False),  # shell, not tickers
        ("", "set $MSGID to the message id", False),  # capitals with no token word
        ("", "Price rose to $USD 100", False),
        ("", "I dropped the air filter off at the shop", False),
        ("", "My wallet was stolen on the train", False),
        ("Meeting notes", "See the attached minutes.", False),
    ],
)
def test_crypto_lure(subject: str, text: str, expected: bool) -> None:
    assert fired(DETECTOR, make_msg(subject=subject, text=text)) is expected


def test_lure_past_the_read_limit_is_not_read() -> None:
    assert not fired(DETECTOR, make_msg(text="x " * MAX_TEXT + "airdrop"))


def test_huge_hostile_text_is_read_in_bounded_time() -> None:
    text = "$A" * 1_000_000 + "claim the " * 100_000 + "\udcff"
    assert not fired(DETECTOR, make_msg(text=text))


def test_sample_fires() -> None:
    msg = parse_message(RawMail(Origin(str(SAMPLE), 1), SAMPLE.read_bytes()))
    (finding,) = DETECTOR.detect(msg)
    assert (finding.id, finding.evidence["phrase"]) == ("mail.crypto_lure", "claim your tokens")
