"""Canonical forms: the same value from two feeds, or a feed and a log, compares equal."""

from __future__ import annotations

import pytest

from floodwall.detect.mail.domains import unicode_host
from floodwall.enrich.intel.normalize import (
    MAX_VALUE,
    NormalizeError,
    normalize,
    normalize_cidr,
    normalize_domain,
    normalize_email,
    normalize_hash,
    normalize_ip,
    normalize_url,
    refang,
    sniff,
)

IPS = [
    ("1.2.3.4", "1.2.3.4"),
    (" 1.2.3.4\n", "1.2.3.4"),
    ("::ffff:1.2.3.4", "1.2.3.4"),  # IPv4-mapped IPv6, RFC 4291 §2.5.5.2
    ("::FFFF:102:304", "1.2.3.4"),
    ("2001:DB8:0:0::1", "2001:db8::1"),  # RFC 5952: lowercase, :: compression
    ("[2001:db8::1]", "2001:db8::1"),
    ("fe80::1%eth0", "fe80::1"),
]
BAD_IPS = ["1.2.3", "01.2.3.4", "256.1.1.1", "1.2.3.4.5", "evil.com", "", "1.2.3.4/24", "0x1.2.3.4"]


@pytest.mark.parametrize(("raw", "expected"), IPS)
def test_ip(raw: str, expected: str) -> None:
    assert normalize_ip(raw) == expected


@pytest.mark.parametrize("raw", BAD_IPS)
def test_ip_rejects(raw: str) -> None:
    with pytest.raises(NormalizeError):
        normalize_ip(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("10.0.0.0/8", ("cidr", "10.0.0.0/8")),
        ("10.1.2.3/8", ("cidr", "10.0.0.0/8")),  # host bits cleared
        ("1.2.3.4/32", ("ip", "1.2.3.4")),  # one address is an IP
        ("2001:DB8::/32", ("cidr", "2001:db8::/32")),
        ("::ffff:10.0.0.0/104", ("cidr", "10.0.0.0/8")),
    ],
)
def test_cidr(raw: str, expected: tuple[str, str]) -> None:
    assert normalize_cidr(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Evil.COM.", "evil.com"),
        ("*.evil.com", "evil.com"),
        (".evil.com", "evil.com"),
        ("bücher.example", "xn--bcher-kva.example"),  # IDNA (RFC 5891)
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("_dmarc.example.com", "_dmarc.example.com"),
        ("123.com", "123.com"),
    ],
)
def test_domain(raw: str, expected: str) -> None:
    assert normalize_domain(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["localhost", "evil..com", "-evil.com", "evil-.com", "a b.com", "1.2.3.4", "x" * 64 + ".com"],
)
def test_domain_rejects(raw: str) -> None:
    with pytest.raises(NormalizeError):
        normalize_domain(raw)


def test_unicode_domain_round_trip() -> None:
    assert unicode_host(normalize_domain("bücher.example")) == "bücher.example"
    assert unicode_host("xn--zz-bad.example") == "xn--zz-bad.example"  # bad label kept


URLS = [
    # RFC 3986 §6.2.2.1 case: scheme and host lowercase, percent-encoding hex uppercase
    ("HTTP://Example.COM/a%2fb", "http://example.com/a%2Fb"),
    # §6.2.2.2 percent-encoded unreserved characters are decoded
    ("http://example.com/%7Euser/%41", "http://example.com/~user/A"),
    # §6.2.2.3 dot segments removed
    ("http://example.com/a/./b/../c", "http://example.com/a/c"),
    # §6.2.3 default port dropped, empty path is "/"
    ("http://example.com:80", "http://example.com/"),
    ("https://example.com:443/x", "https://example.com/x"),
    ("https://example.com:8443/x", "https://example.com:8443/x"),
    # fragment dropped (never sent, §3.5); query kept
    ("http://example.com/x?b=1&a=2#frag", "http://example.com/x?b=1&a=2"),
    # no scheme: http assumed; spaces and non-ASCII are percent-encoded as UTF-8
    ("example.com/DOVIDNIK - (2018).zip", "http://example.com/DOVIDNIK%20-%20(2018).zip"),
    ("http://example.com/ü", "http://example.com/%C3%BC"),
    ("http://bücher.example/", "http://xn--bcher-kva.example/"),
    ("http://[2001:DB8::1]:8080/", "http://[2001:db8::1]:8080/"),
    ("http://1.2.3.4/x", "http://1.2.3.4/x"),
    ("http://user@Example.com/", "http://user@example.com/"),
    ("http://intranet/x", "http://intranet/x"),
]


@pytest.mark.parametrize(("raw", "expected"), URLS)
def test_url(raw: str, expected: str) -> None:
    assert normalize_url(raw) == expected


@pytest.mark.parametrize(
    "raw", ["http://", "http://exa mple.com/", "http://1.2.3.999/", "http://x:99999/"]
)
def test_url_rejects(raw: str) -> None:
    with pytest.raises(NormalizeError):
        normalize_url(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("D41D8CD98F00B204E9800998ECF8427E", ("md5", "d41d8cd98f00b204e9800998ecf8427e")),
        (
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            ("sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ),
        (
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ("sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ),
    ],
)
def test_hash(raw: str, expected: tuple[str, str]) -> None:
    assert normalize_hash(raw) == expected


@pytest.mark.parametrize(
    "raw", ["d41d8cd98f00b204e9800998ecf8427", "g41d8cd98f00b204e9800998ecf8427e", ""]
)
def test_hash_rejects(raw: str) -> None:
    with pytest.raises(NormalizeError):
        normalize_hash(raw)


def test_hash_type_must_match_length() -> None:
    with pytest.raises(NormalizeError, match="not sha1"):
        normalize_hash("d41d8cd98f00b204e9800998ecf8427e", "sha1")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Bob@Example.COM", "bob@example.com"),
        ("<bob@example.com>", "bob@example.com"),
        ("mailto:bob@example.com", "bob@example.com"),
        ("bob@bücher.example", "bob@xn--bcher-kva.example"),
        ("bob@[1.2.3.4]", "bob@[1.2.3.4]"),
    ],
)
def test_email(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize("raw", ["bob", "@example.com", "bob@", "a b@example.com", "bob@localhost"])
def test_email_rejects(raw: str) -> None:
    with pytest.raises(NormalizeError):
        normalize_email(raw)


SNIFF = [
    ("1.2.3.4", ("ip", "1.2.3.4")),
    ("10.0.0.0/8", ("cidr", "10.0.0.0/8")),
    ("2001:db8::1", ("ip", "2001:db8::1")),
    ("evil.com", ("domain", "evil.com")),
    ("evil[.]com", ("domain", "evil.com")),  # defanged
    ("hxxp://evil[.]com/x", ("url", "http://evil.com/x")),
    ("www.evil.com/a.php", ("url", "http://www.evil.com/a.php")),
    ("bob@evil.com", ("email", "bob@evil.com")),
    ("D41D8CD98F00B204E9800998ECF8427E", ("md5", "d41d8cd98f00b204e9800998ecf8427e")),
]


@pytest.mark.parametrize(("raw", "expected"), SNIFF)
def test_sniff(raw: str, expected: tuple[str, str]) -> None:
    assert sniff(raw) == expected


def test_sniff_needs_known_tld_when_given() -> None:
    known = {"com"}.__contains__
    assert sniff("evil.com", known) == ("domain", "evil.com")
    with pytest.raises(NormalizeError, match="top-level"):
        sniff("svchost.exe", known)


@pytest.mark.parametrize(
    "raw", ["", "x" * (MAX_VALUE + 1), "bad\udcffvalue.com", "\\\\svchost\\.exe", "just words here"]
)
def test_garbage_is_a_clear_error(raw: str) -> None:
    with pytest.raises(NormalizeError):
        sniff(raw)


def test_normalize_dispatch() -> None:
    assert normalize("ip", "10.0.0.0/8") == ("cidr", "10.0.0.0/8")
    assert normalize("cidr", "1.2.3.4/32") == ("ip", "1.2.3.4")
    assert (
        normalize("sha256", "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855")[0]
        == "sha256"
    )
    assert refang("evil(.)com") == "evil.com"
