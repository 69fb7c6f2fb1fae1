"""SenderFreeHostingDetector: a From address on a free hosting platform's customer host."""

from __future__ import annotations

import mail_util as util
import pytest

from floodwall.detect.mail import reference
from floodwall.detect.mail.free_hosting_link import FreeHostingLinkDetector
from floodwall.detect.mail.sender_free_hosting import SenderFreeHostingDetector

make_msg, fired = util.make_msg, util.fired

DETECTOR = SenderFreeHostingDetector(
    FreeHostingLinkDetector(util.psl(), reference.load_free_hosting())
)


@pytest.mark.parametrize(
    ("addr", "expected"),
    [
        ("no-reply@manager-2-f801a.firebaseapp.com", True),
        ("noreply@brave1-d6538.firebaseapp.com", True),
        ("alerts@my-shop.web.app", True),
        ("x@bucket.s3.amazonaws.com", True),
        ("billing@secure-login.herokuapp.com", True),
        # must not fire
        ("noreply@firebaseapp.com", False),  # the platform's own address
        ("noreply@jotform.com", False),  # a form service's notifications
        ("notify@form.jotform.com", False),
        ("news@example.com", False),
        ("news@firebaseapp.com.example", False),  # the name as a label elsewhere
        ("", False),
        ("not-an-address", False),
    ],
)
def test_sender_free_hosting(addr: str, expected: bool) -> None:
    assert fired(DETECTOR, make_msg(from_addr=addr)) is expected


def test_hostile_addresses_are_safe() -> None:
    assert not fired(DETECTOR, make_msg(from_addr="x@" + "a." * 50_000 + "\udcff"))
    assert fired(DETECTOR, make_msg(from_addr="x@" + "a." * 100 + "web.app"))
