"""LookalikeDomainDetector: homoglyphs, punycode, typos and brand words."""

from __future__ import annotations

import mail_util as util
import pytest

from floodwall.detect.mail.lookalike_domain import LookalikeDomainDetector

make_msg, fired = util.make_msg, util.fired


DETECTOR = LookalikeDomainDetector(
    util.psl(), util.brands(), protected=("acme-bank.com", "floodwall.example")
)


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("pаypal.com", "punycode"),  # Cyrillic а, IDNA-encoded on the way in
        ("xn--pypal-4ve.com", "punycode"),
        ("paypa1.com", "homoglyph"),
        ("rnicrosoft.com", "homoglyph"),
        ("g00gle.net", "homoglyph"),
        ("paypall.com", "typo"),
        ("micosoft.com", "typo"),
        ("amazno.com", "typo"),
        ("linkedln.com", "typo"),
        ("paypal-secure-login.com", "brand_word"),
        ("secure.paypal.com.evil.tld", "brand_in_subdomain"),
        ("acme-bnak.com", "typo"),
        ("fl00dwall.com", "homoglyph"),
        ("paypal.com", None),
        ("www.paypal.com", None),
        ("google.co.uk", None),
        ("mail.google.com", None),
        ("accounts.google.de", None),
        ("acme-bank.com", None),
        ("online.com", None),
        ("mail.ee", None),
        ("example.org", None),
        ("pineapple.com", None),
        ("192.168.1.1", None),
        ("", None),
    ],
)
def test_lookalike_hosts(host: str, kind: str | None) -> None:
    hit = DETECTOR.check(host.encode("idna").decode() if host else "")
    assert (hit[0] if hit else None) == kind


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"from_addr": "service@paypa1.com"}, 1),
        (
            {
                "from_addr": "a@b.com",
                "links": ["https://paypal-secure-login.com/x", "https://www.paypal.com/"],
            },
            0,  # links are LookalikeLinkDetector's
        ),
        (
            {
                "from_addr": "x@amazon.co.uk",
                "links": ["https://www.amazon.com/", "https://google.co.uk/"],
            },
            0,
        ),
        ({"from_addr": "a@gmail.com", "reply_to": ("b@rnicrosoft.com",)}, 1),
        ({"from_addr": "someone@btinternet.com"}, 0),  # Majestic top 10k: well known
    ],
)
def test_lookalike_messages(kw: dict[str, object], expected: int) -> None:
    assert len(DETECTOR.detect(make_msg(**kw))) == expected
    assert fired(DETECTOR, make_msg(**kw)) is bool(expected)
