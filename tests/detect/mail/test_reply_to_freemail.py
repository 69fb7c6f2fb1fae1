"""ReplyToFreemailDetector: an organisation's replies sent to a free mailbox."""

from __future__ import annotations

import mail_util as util
import pytest

from floodwall.detect.mail import reference
from floodwall.detect.mail.reply_to_freemail import ReplyToFreemailDetector

make_msg, fired = util.make_msg, util.fired

DETECTOR = ReplyToFreemailDetector(util.psl(), reference.load_freemail())


@pytest.mark.parametrize(
    ("sender", "reply_to", "expected"),
    [
        ("ceo@acme.com", ("ceo.acme@gmail.com",), True),
        ("aodev@interior.gov.pk", ("dieter787@gmail.com",), True),
        ("billing@shop.example", ("a@b.example", "refunds@outlook.fr"), True),
        ("someone@gmail.com", ("someone.else@hotmail.com",), True),  # another provider
        # must not fire
        ("someone@gmail.com", ("someone@gmail.com",), False),  # the same mailbox
        ("jo@gmail.com", ("jo@gmail.com", "jo@GMAIL.com"), False),  # the same domain
        ("ceo@acme.com", ("assistant@acme.com",), False),
        ("news@list.example", ("editor@vineyard.example",), False),  # not a free mailbox
        ("ceo@acme.com", (), False),
        ("", ("x@gmail.com",), False),  # no From domain to compare
    ],
)
def test_reply_to_freemail(sender: str, reply_to: tuple[str, ...], expected: bool) -> None:
    assert fired(DETECTOR, make_msg(from_addr=sender, reply_to=reply_to)) is expected


def test_hostile_addresses_are_safe() -> None:
    odd = ("@", "x@", "@gmail.com", "a@b@gmail.com", "\udcff@gmail.com", "x@" + "a." * 5000)
    assert fired(DETECTOR, make_msg(from_addr="ceo@acme.com", reply_to=odd))
    assert not fired(DETECTOR, make_msg(from_addr="\x00@\udcff", reply_to=("x@" * 10_000,)))
