"""RecipientInSubjectDetector: a To/Cc address merged into the subject or sender name."""

from __future__ import annotations

from pathlib import Path

import mail_util as util
import pytest

from floodwall.detect.mail.recipient_in_subject import (
    MAX_RECIPIENTS,
    MAX_TEXT,
    RecipientInSubjectDetector,
)
from floodwall.ingest.mail_source import RawMail
from floodwall.normalize.mime import parse_message
from floodwall.records import Origin

make_msg, fired = util.make_msg, util.fired
DETECTOR = RecipientInSubjectDetector()
SAMPLE = (
    Path(__file__).parents[2]
    / "samples"
    / "detect"
    / "mail"
    / "recipient_in_subject"
    / "sample.eml"
)
JANE = ("jane@corp.example",)


@pytest.mark.parametrize(
    ("to", "subject", "from_name", "expected"),
    [
        (JANE, "jane@corp.example, your mailbox is full", "", True),
        (JANE, "Hi Dear JANE@CORP.EXAMPLE, access your credit score", "", True),
        (JANE, "RE: 2nd attempt for jane@corp.example", "", True),
        (JANE, "Payment failed", "'' @jane@corp.example ''", True),
        (("bob@x.example", "jane@corp.example"), "jane@corp.example: invoice", "", True),
        (JANE, "Jane, your mailbox is full", "", False),  # a name, not the address
        (JANE, "News for corp.example customers", "", False),  # the domain alone
        (JANE, "Welcome to the list", "Jane", False),
        (JANE, "mail for bob@corp.example", "", False),  # another address
        ((), "jane@corp.example, hello", "", False),  # no recipient known
        (("undisclosed-recipients:;",), "undisclosed-recipients:;", "", False),
        (("@",), "@ sign", "", False),
    ],
)
def test_recipient_in_subject(
    to: tuple[str, ...], subject: str, from_name: str, expected: bool
) -> None:
    msg = make_msg(to=to, subject=subject, from_name=from_name)
    assert fired(DETECTOR, msg) is expected


def test_address_past_the_read_limit_is_not_read() -> None:
    subject = "x" * MAX_TEXT + " jane@corp.example"
    assert not fired(DETECTOR, make_msg(to=JANE, subject=subject))


def test_a_list_of_many_recipients_is_read_only_in_part() -> None:
    to = (*(f"u{i}@corp.example" for i in range(MAX_RECIPIENTS)), "last@corp.example")
    assert not fired(DETECTOR, make_msg(to=to, subject="hello last@corp.example"))
    assert fired(DETECTOR, make_msg(to=to, subject="hello u0@corp.example"))


def test_huge_hostile_subject_is_read_in_bounded_time() -> None:
    to = tuple(f"{'a' * 60}{i}@corp.example" for i in range(MAX_RECIPIENTS))
    msg = make_msg(to=to, subject="@" * 10_000_000, from_name="\udcff" * 100_000)
    assert not fired(DETECTOR, msg)


def test_sample_fires() -> None:
    msg = parse_message(RawMail(Origin(str(SAMPLE), 1), SAMPLE.read_bytes()))
    (finding,) = DETECTOR.detect(msg)
    assert (finding.id, finding.evidence["where"]) == ("mail.recipient_in_subject", "subject")
