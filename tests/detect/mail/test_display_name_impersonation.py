"""DisplayNameImpersonationDetector: display names that claim another sender."""

from __future__ import annotations

import mail_util as util
import pytest

from floodwall.detect.mail.display_name_impersonation import DisplayNameImpersonationDetector

make_msg, fired = util.make_msg, util.fired


DETECTOR = DisplayNameImpersonationDetector(
    util.psl(), util.brands(), executives=("Jane Doe",), own_domains=("acme.com",)
)


@pytest.mark.parametrize(
    ("name", "addr", "kind"),
    [
        ("PayPal", "x@evil.tld", "brand"),
        ("Microsoft Outlook Team", "no-reply@mailer.example", "brand"),
        ("ceo@company.com", "x@gmail.com", "address"),
        ("Jane Doe", "jane.doe.ceo@gmail.com", "executive"),
        ("jane  DOE (CEO)", "j@acme-corp.net", "executive"),
        ("PayPal", "service@paypal.com", None),
        ("PayPal Deutschland", "service@paypal.de", None),
        ("Google", "noreply@google.co.uk", None),
        ("Google", "someone@googlemail.com", None),
        ("Facebook", "notification@facebookmail.net", "brand"),
        ("Jane Doe", "jane@acme.com", None),
        ("John Smith", "john@gmail.com", None),
        ("Craig R.Hughes", "craig@deersoft.com", None),
        ("news@shop.com", "news@mail.shop.com", None),
        ("Pineapple Express", "a@b.com", None),
    ],
)
def test_display_name(name: str, addr: str, kind: str | None) -> None:
    findings = DETECTOR.detect(util.make_msg(from_name=name, from_addr=addr))
    assert [f.evidence["kind"] for f in findings] == ([kind] if kind else [])
    assert fired(DETECTOR, util.make_msg(from_name=name, from_addr=addr)) is bool(kind)


def test_without_executives_only_brands_and_addresses() -> None:
    plain = DisplayNameImpersonationDetector(util.psl(), util.brands())
    assert not plain.detect(make_msg(from_name="Jane Doe", from_addr="j@gmail.com"))
