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
        ("IRS.GOVERNMENT", "noreply-lrs.gov-92@alquila.example.com", "government"),
        ("U.S. Federal Court System", "clerk@notices.example.net", "government"),
        ("MINISTÉRIO DA FAZENDA", "fazenda@envio.example.com.br", None),  # not listed
        ("Ministerium der Finanzen", "info@bmf-steuer.example.com", "government"),
        ("Grace Ministry", "pastor@church.example.org", None),
        ("IRS", "news@irs.gov", None),  # the government's own domain
        ("HM Revenue & Customs HMRC", "noreply@tax.service.gov.uk", None),
        ("Ministère de l'Intérieur", "contact@interieur.gouv.fr", None),
        ("Government Technology", "news@govtech.example.com", None),
    ],
)
def test_display_name(name: str, addr: str, kind: str | None) -> None:
    findings = DETECTOR.detect(util.make_msg(from_name=name, from_addr=addr))
    assert [f.evidence["kind"] for f in findings] == ([kind] if kind else [])
    assert fired(DETECTOR, util.make_msg(from_name=name, from_addr=addr)) is bool(kind)


def test_without_executives_only_brands_and_addresses() -> None:
    plain = DisplayNameImpersonationDetector(util.psl(), util.brands())
    assert not plain.detect(make_msg(from_name="Jane Doe", from_addr="j@gmail.com"))


BRAND_BUILT = "".join(f'<img src="http://www.zdnet.com/i/{i}.gif">' for i in range(12))
HOTLINKED = '<img src="http://www.zdnet.com/logo.gif"><img src="http://x.evil.tld/a.gif">'


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        (BRAND_BUILT + '<img src="http://clickthru.online.com/t.gif">', False),
        (HOTLINKED * 3, True),  # a few hotlinked logos among the impostor's own images
        (BRAND_BUILT + '<img src="http://x.evil.tld/a.gif">' * 13, True),  # not half of them
        ("<img src=x>" * 100, True),
    ],
)
def test_newsletter_built_from_the_brands_servers(html: str, expected: bool) -> None:
    msg = make_msg(
        from_name="ZDNet Tech Update Today",
        from_addr="online#3@newsletter.online.com",
        links=["http://clickthru.online.com/c1", "http://clickthru.online.com/c2"],
        html=html,
    )
    assert fired(DETECTOR, msg) is expected


@pytest.mark.parametrize(
    ("name", "addr", "links", "expected"),
    [
        # hidden word boundaries and the capital-I homoglyph still name the brand
        ("CoinbaseWaIIet", "x@students.example.na", (), True),
        ("Liberty_Mutual_Team", "x@deck.example.com", (), True),  # words joined
        ("Bank of America Alerts", "alerts@secure-notice.example", (), True),
        ("PaypaI Service", "x@evil.tld", (), True),
        ("Ledger Support", "noreply@ledger-ap.com", (), True),
        ("Trust Wallet", "claudia@itpro.example.br", (), True),  # phished_brands.txt
        ("Trust Wallet", "support@trustwallet.com", (), False),  # its official domain
        ("P a y P a l", "x@shop-deals.example", (), True),  # letters spaced apart
        ("A B C Plumbing", "x@shop-deals.example", (), False),  # spaced, but no brand
        ("DHL Delivery", "deliverydhl297@gmail.com", (), True),  # a short brand
        ("D P D  Versand  ...NM623", "newsletters@spf.example.com", (), True),
        ("Canada Post", "n@bookfest.example.com", (), True),
        ("DHL Express", "noreply@dhl.com", (), False),
        ("Ups and Downs Weekly", "news@example.com", (), False),  # "ups" is a word
        # a sender that names itself uses the brand as a topic
        ("Lockergnome Apple Core", "subscriptions@lockergnome.com", (), False),
        # a brand's newsletter sent by a mailing service sends its readers to the brand
        (
            "ZDNet Tech Update Today",
            "online#3@newsletter.online.com",
            ["http://www.zdnet.com/a", "http://www.zdnet.com/b", "http://clickthru.online.com/c"],
            False,
        ),
        # ... an impersonation sends them elsewhere, whatever brand links it shows
        (
            "ZDNet Tech Update Today",
            "x@newsletter.online.com",
            ["http://www.zdnet.com/a", "http://login.evil.tld/c", "http://login.evil.tld/d"],
            True,
        ),
        # a forwarding service names the sender it passes on, whose links the mail holds
        (
            "AuthorTracker@harpercollins.com [via relay]",
            "ticket_23aj49@sneakemail.com",
            ["http://www.harpercollins.com/a", "http://www.harpercollins.com/b"],
            False,
        ),
        # ... an address claim with links elsewhere, or none, is an impersonation
        ("billing@paypal.com", "x@evil.tld", ["http://login.evil.tld/c"], True),
        ("billing@paypal.com", "x@evil.tld", [], True),
    ],
)
def test_brand_claims(name: str, addr: str, links: list[str], expected: bool) -> None:
    msg = make_msg(from_name=name, from_addr=addr, links=links)
    assert fired(DETECTOR, msg) is expected
