"""IpLiteralUrlDetector: links to bare and obfuscated IP addresses."""

from __future__ import annotations

import mail_util as util
import pytest

from floodwall.detect.mail.ip_literal_url import IpLiteralUrlDetector, parse_ip

make_msg, fired = util.make_msg, util.fired


DETECTOR = IpLiteralUrlDetector()


@pytest.mark.parametrize(
    ("url", "ip"),
    [
        ("http://203.0.113.7/login.php", "203.0.113.7"),
        ("https://[2001:db8::1]:8443/x", "2001:db8::1"),
        ("http://3232235777/", "192.168.1.1"),
        ("http://0xC0A80101/", "192.168.1.1"),
        ("http://0300.0250.1.1/", "192.168.1.1"),
        ("http://user@198.51.100.9/", "198.51.100.9"),
        ("https://www.example.com/1.2.3.4", None),
        ("https://1.2.3.4.example.com/", None),
        ("mailto:a@[192.0.2.1]", None),
        ("https://2024.example/", None),
    ],
)
def test_ip_literal_links(url: str, ip: str | None) -> None:
    findings = DETECTOR.detect(make_msg(links=[url]))
    assert [f.evidence["ip"] for f in findings] == ([ip] if ip else [])
    assert fired(DETECTOR, make_msg(links=[url])) is bool(ip)


def test_parse_ip_marks_obfuscation() -> None:
    assert parse_ip("1.2.3.4") == ("1.2.3.4", False)
    assert parse_ip("3232235777") == ("192.168.1.1", True)
    assert parse_ip("999999999999") is None


OTHERS = [f"https://site{i}.example/" for i in range(10)]


@pytest.mark.parametrize(
    ("links", "expected"),
    [
        # the call to action among a few links
        (["http://203.0.113.7/login.php", *OTHERS[:3]], True),
        (["http://203.0.113.7/a", "http://203.0.113.7/b", *OTHERS[:8]], True),  # 2 of 10
        # one address among a digest's many links is a reference
        (["http://203.0.113.7/moe/", *OTHERS], False),
        # an obfuscated form counts wherever it is
        (["http://3232235777/", *OTHERS], True),
        # repeats count once on both sides: one IP link among a tracker repeated 10 times
        # and another link is 1 of 3 distinct links
        (["http://203.0.113.7/x", *[OTHERS[0]] * 10, OTHERS[1]], True),
        (["http://203.0.113.7/x"] * 10 + OTHERS[:9], False),  # 1 of 10 distinct
    ],
)
def test_ip_link_share(links: list[str], expected: bool) -> None:
    assert fired(DETECTOR, make_msg(links=links)) is expected
