"""FromMalformedDetector: From headers no honest mail system writes (RFC 5322 §3.6.2)."""

from __future__ import annotations

import mail_util as util
import pytest

from floodwall.detect.mail.from_malformed import FromMalformedDetector

DETECTOR = FromMalformedDetector(util.psl())


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"From": "Alice <alice@example.com>"}, None),
        ({"From": '"Doe, Jane" <jane@mail.example.co.uk>'}, None),
        ({"From": "Team <a@example.com>, Boss <b@example.com>", "Sender": "a@example.com"}, None),
        ({"From": "bob@xn--mnchen-3ya.de"}, None),
        # an unquoted comma splits the display name into a mailbox of its own
        ({"From": "Russian Girls, jehd <service@stayfriends.example>"}, "2 mailboxes"),
        ({"From": "Fedex entrega  ,<renew@top1lithiumbattery.cfd>"}, "2 mailboxes"),
        ({"From": "Bank <alerts@ubuntu-s-1vcpu-512mb-nyc1>"}, "is not a domain name"),
        ({"From": "Bank <alerts@bank.notatld>"}, "not under a public suffix"),
        ({"From": "alerts"}, "has no domain"),
        # RFC 5321 host names only
        ({"From": "Pedidos <taxas@%atendimentos.net>"}, "no host name may have"),
        ({"From": "x <a@zero_pct.com>"}, "no host name may have"),
        ({"From": "x <a@pot\u2728>"}, "is not a domain name"),
        ({"From": "x <a@-bank.com>"}, "no host name may have"),
        ({"From": "x <a@b\u00fccher.de>"}, None),  # an IDN encodes to an A-label
        ({"From": "x <a@[192.0.2.1]>"}, "no host name may have"),  # no sender domain
        ({"From": "x <a@MAIL.Example.COM>"}, None),
        ({"From": "<>"}, "no address"),
        ({}, "no From header"),
    ],
)
def test_detector(headers: dict[str, str], expected: str | None) -> None:
    found = DETECTOR.detect(util.make_msg(headers=headers))
    if expected is None:
        assert found == []
    else:
        (finding,) = found
        assert expected in finding.evidence["reason"]
