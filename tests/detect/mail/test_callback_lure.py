"""CallbackLureDetector: a bill with an amount and a number to call, and no web link (TOAD).

Phone numbers are fictional: 555-01xx in North America, 020 7946 0xxx (Ofcom) in the UK.
"""

from __future__ import annotations

import time
from pathlib import Path

import mail_util as util
import pytest

from floodwall.detect.mail.callback_lure import (
    MAX_TEXT,
    CallbackLureDetector,
    billed_amount,
    phone_number,
    phone_numbers,
)
from floodwall.ingest.mail_source import RawMail
from floodwall.normalize.mime import parse_message
from floodwall.records import Origin

make_msg, fired = util.make_msg, util.fired
DETECTOR = CallbackLureDetector()
SAMPLE = Path(__file__).parents[2] / "samples" / "detect" / "mail" / "callback_lure" / "sample.eml"

NORTON = (
    "Your NORTON 360 subscription has been renewed. Order #4611. Price: $399.99 USD. "
    "If you wish to cancel this subscription, call our billing department at {}."
)
SHOP = (
    "Thank you for your order! Order #88231, payment received: $44.95. Questions? "
    "Call us at 1-800-555-0100 or see your order at https://shop.example.com/orders/88231"
)
CALENDAR = "https://calendar.google.com/calendar/event?action=RESPOND&eid=abc"


@pytest.mark.parametrize(
    ("subject", "text", "links", "expected"),
    [
        # the usual written forms of the number
        ("", NORTON.format("+1 (888) 555-0199"), (), True),
        ("", NORTON.format("1-888-555-0199"), (), True),
        ("", NORTON.format("888.555.0199"), (), True),
        ("", NORTON.format("(888)555-0199"), (), True),
        ("", NORTON.format("8885550199"), (), True),
        ("", NORTON.format("+1 (888) (555) - (0199)"), (), True),  # bracketed, spaced
        ("", NORTON.format("8 8 8 5 5 5 0 1 9 9"), (), True),  # digit by digit
        ("", NORTON.format("1 - 8 8 8 - 5 5 5 - 0 1 9 9"), (), True),
        ("", NORTON.format("888\u200b555\u200b0199"), (), True),  # zero-width spaces
        ("", NORTON.format("\U0001d7d6\U0001d7d6\U0001d7d6-555-0199"), (), True),  # math digits
        ("", NORTON.format("+44 20 7946 0958"), (), True),  # international, with a "+"
        # amounts with signs and codes, the wording in the subject
        ("Our order for$348.80 is processed", "Invoice attached. Helpline: 844 555-0123", (), True),
        ("", "A charge of USD 344.78 for your order. Not recognize it? 855-555-0142", (), True),
        ("", "Membership renewed, 349,99 € debited. Support line: +44 20 7946 0123", (), True),
        ("", "Total: $ 909.99 for your purchase. Order 441243. Call 1 (833) 555-0165", (), True),
        ("", "Invoice: $12.00 888-555-0199 to cancel this order", (), True),  # run-on price
        # links nobody follows: mail, phone, a calendar invitation's buttons
        ("", NORTON.format("888-555-0199"), ("mailto:billing@example.org",), True),
        ("", NORTON.format("888-555-0199"), ("tel:+18885550199", "#top"), True),
        ("", NORTON.format("888-555-0199"), ((CALENDAR, "Yes"), (CALENDAR, "No")), True),
        # a genuine shop confirmation links to the shop
        ("", SHOP, ("https://shop.example.com/orders/88231",), False),
        ("", NORTON.format("888-555-0199"), ("https://my.norton.example/account",), False),
        ("", NORTON.format("888-555-0199") + " Manage it at www.norton.example", (), False),
        # a newsletter with a phone number bills nothing
        ("Spring news", "Our garden club meets Thursday. Call Anna at 202-555-0147.", (), False),
        ("", "Tickets $15 at the door. Call 202-555-0147 to book a table.", (), False),
        # a supplier's invoice with a number in the signature gives no reason to call
        ("", "Invoice 1234: $450.00, payment due in 30 days.\n\nBob\nTel: 202-555-0147", (), False),
        # one bill word is a passing word
        ("", "I paid $25.00 for lunch, my order was cold. Call me: 202-555-0147", (), False),
        # advance-fee "funds" are no bill
        ("", "Payment of $10.5 million on hold. Receipt 55. Contact 202-555-0147", (), False),
        ("", "Payment of $1,200,000.00 on hold. Receipt 55. Contact 202-555-0147", (), False),
        # no phone number: dates, order ids, numbers off the North American plan
        ("", "Order 2025-04-22 renewed: $399.99. Call about order 1234567890", (), False),
        ("", "Order renewed: $399.99. Call 123-456-7890", (), False),
        ("", "Order renewed: $399.99. Call 888-055-0199", (), False),
        ("", "Order renewed: $399.99. Call 555-0199", (), False),  # seven digits
        ("", "Order renewed for $399.99, to cancel call support.", (), False),
        ("", "", (), False),
    ],
)
def test_callback_lure(subject: str, text: str, links: tuple[str, ...], expected: bool) -> None:
    assert fired(DETECTOR, make_msg(subject=subject, text=text, links=links)) is expected


@pytest.mark.parametrize(
    ("raw", "number"),
    [
        ("+1 (888) (683) - (1189)", "+1 888-683-1189"),
        ("1.808.631.7590", "+1 808-631-7590"),
        ("(865)-237-2014", "+1 865-237-2014"),
        ("909.99 1 (833) 307-3665", "+1 833-307-3665"),  # the price before it is left off
        ("802-203-6615.\n\n6220", "+1 802-203-6615"),  # a street number after it too
        ("+256 702703725", "+256702703725"),
        ("8 8 8 5 5 5 0 1 9 9", "+1 888-555-0199"),
        ("12 34 56 78 90 12", ""),  # a table of numbers is no number spelt out
        ("+49 30", ""),
        ("2025-04-22", ""),
        ("06-04-2025 1234", ""),
    ],
)
def test_phone_number(raw: str, number: str) -> None:
    assert phone_number(raw) == number


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("total: $ 909.99 usd", "$ 909.99"),
        ("qty: 1 $ 909.99", "$ 909.99"),  # the sign belongs to the price after it
        ("usd505.44", "usd505.44"),
        ("49,99 € per year", "49,99 €"),
        ("$1,200,000.00 and a fee of $270", "$270"),
        ("$10.5million", ""),
        ("nothing to pay", ""),
    ],
)
def test_billed_amount(text: str, amount: str) -> None:
    assert billed_amount(text) == amount


def test_evidence_names_the_number() -> None:
    (finding,) = DETECTOR.detect(make_msg(text=NORTON.format("1-888-555-0199")))
    assert finding.evidence["phone"] == "+1 888-555-0199"
    assert "$399.99" in finding.evidence["reason"]


def test_lure_past_the_read_limit_is_not_read() -> None:
    text = "x " * MAX_TEXT + NORTON.format("888-555-0199")
    assert not fired(DETECTOR, make_msg(text=text))


HOSTILE = [
    "9" * 3_000_000,  # one run of digits, longer than any number
    "9 " * 1_500_000,  # digits a space apart: a number in every ten
    "1 " * 1_500_000,  # ... and none of them on the plan
    "1-(" * 1_000_000,  # separators that never end in a digit
    ("(((((" + "1" * 6) * 300_000,
    "$" + "9," * 1_500_000,  # an amount that never ends
    "9." * 1_500_000 + "usd",
]


@pytest.mark.timeout(10)
@pytest.mark.parametrize("junk", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_text_is_read_in_linear_time(junk: str) -> None:
    """Megabytes of digits and separators (with the bill wording and a cue, so every
    check runs) end quickly: no pattern backtracks more than a few characters."""
    text = f"Order renewed, payment $399.99, call us: {junk}"
    started = time.perf_counter()
    DETECTOR.detect(make_msg(text=text))
    assert time.perf_counter() - started < 5


@pytest.mark.timeout(10)
@pytest.mark.parametrize("junk", ["1 " * 500_000, "9" * 1_000_000, "$" + "9," * 500_000])
def test_hostile_text_past_the_read_limit_is_linear(junk: str) -> None:
    """The patterns themselves, with no read limit, on a megabyte of near misses."""
    started = time.perf_counter()
    assert not list(phone_numbers(junk)) and not billed_amount(junk)
    assert time.perf_counter() - started < 5


def test_sample_fires() -> None:
    """The sample's number is only in its HTML part; its one link is a mailto."""
    msg = parse_message(RawMail(Origin(str(SAMPLE), 1), SAMPLE.read_bytes()))
    (finding,) = DETECTOR.detect(msg)
    assert (finding.id, finding.evidence["phone"]) == ("mail.callback_lure", "+1 202-555-0147")
