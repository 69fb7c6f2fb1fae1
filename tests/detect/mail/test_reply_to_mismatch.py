"""ReplyToMismatchDetector: Reply-To outside the From domain."""

from __future__ import annotations

import mail_util as util
import pytest

from floodwall.detect.mail.reply_to_mismatch import ReplyToMismatchDetector

make_msg, fired = util.make_msg, util.fired


DETECTOR = ReplyToMismatchDetector(util.psl(), ("gmail.com",))
LIST = {"List-Id": "Freshrpms list <rpm-list.freshrpms.net>"}


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"from_addr": "ceo@acme.com", "reply_to": ("ceo.acme@gmail.com",)}, True),
        ({"from_addr": "billing@paypal.com", "reply_to": ("x@evil.tld",)}, True),
        ({"from_addr": "a@acme.co.uk", "reply_to": ("b@other.co.uk",)}, True),
        ({"from_addr": "a@x.com", "reply_to": ("list@freshrpms.net",), "headers": LIST}, False),
        ({"from_addr": "a@acme.com", "reply_to": ("b@mail.acme.com",)}, False),
        ({"from_addr": "a@acme.co.uk", "reply_to": ("b@ACME.co.uk",)}, False),
        ({"from_addr": "a@acme.com"}, False),
        # a free mail provider's mailboxes have owners of their own
        ({"from_addr": "barrister.j@gmail.com", "reply_to": ("claims.desk@gmail.com",)}, True),
        ({"from_addr": "Ann@Gmail.com", "reply_to": ("ann@gmail.com",)}, False),
        ({"from_addr": "ann@gmail.com", "reply_to": ("ann+replies@gmail.com",)}, False),
        ({"from_addr": "a@acme.com", "reply_to": ("b@acme.com",)}, False),  # one organisation
        # a list member writing from a free mailbox: replies go to the list
        (
            {
                "from_addr": "ann@gmail.com",
                "reply_to": ("rpm-list@freshrpms.net",),
                "headers": LIST,
            },
            False,
        ),
        ({"from_addr": "", "reply_to": ("b@acme.com",)}, False),
        # the editor's address printed in the newsletter itself is its published contact
        (
            {
                "from_addr": "ed@news.mailer.example",
                "reply_to": ("ed@vineyard.example",),
                "text": "Editor and publisher: Jimmy (ed@Vineyard.example).",
            },
            False,
        ),
        # ... but a free mailbox is never excused, and an unprinted address is hidden
        (
            {
                "from_addr": "ceo@acme.com",
                "reply_to": ("ceo.acme@gmail.com",),
                "text": "write to ceo.acme@gmail.com",
            },
            True,
        ),
        (
            {"from_addr": "ed@x.example", "reply_to": ("ed@y.example",), "text": "ed@z.example"},
            True,
        ),
    ],
)
def test_reply_to_mismatch(kw: dict[str, object], expected: bool) -> None:
    assert fired(DETECTOR, make_msg(**kw)) is expected


def test_evidence_names_the_addresses() -> None:
    (f,) = DETECTOR.detect(make_msg(from_addr="ceo@acme.com", reply_to=("x@gmail.com",)))
    assert f.evidence["reply_to_domains"] == ["gmail.com"]
    assert "x@gmail.com" in f.evidence["reason"]
