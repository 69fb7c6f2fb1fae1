"""CredentialWordingDetector: phishing wording, a weak signal."""

from __future__ import annotations

import mail_util as util
import pytest

from floodwall.detect.mail import reference
from floodwall.detect.mail.credential_wording import CredentialWordingDetector

make_msg, fired = util.make_msg, util.fired


DETECTOR = CredentialWordingDetector(reference.load_phrases())


@pytest.mark.parametrize(
    ("subject", "text", "expected"),
    [
        ("Action required", "Please verify your account within 24 hours.", True),
        ("Microsoft account unusual signin activity", "", True),
        ("", "Can you buy gift cards for the client? Keep this confidential.", True),
        ("Dringend", "Ihr Konto wurde gesperrt.", True),
        ("", "Votre compte a été suspendu.", True),
        ("Urgente", "Verifique su cuenta.", True),
        ("", "Please ve\u200brify your account", True),  # zero-width space folded away
        ("Ledger Data Breach - Check Your Recovery Phrase", "", True),
        ("Password Expired honey@example.org", "", True),
        ("", "Never share your recovery phrase with anyone.", False),  # a wallet's own advice
        ("Urgent: minutes of the board meeting", "See attached.", False),
        ("Lunch?", "Are we still on for Friday?", False),
        ("", "The unverify your accounts tool", False),
        ("Weekly newsletter", "Read our latest articles on gardening.", False),
    ],
)
def test_credential_wording(subject: str, text: str, expected: bool) -> None:
    assert fired(DETECTOR, make_msg(subject=subject, text=text)) is expected


def test_evidence_lists_the_phrases() -> None:
    (f,) = DETECTOR.detect(make_msg(subject="URGENT", text="wire transfer today"))
    assert f.evidence["payment"] == ["wire transfer"]
    assert f.evidence["urgency"] == ["urgent"]
