"""The in-line matcher: CIDRs (v4 and v6), subdomains, normalized URLs, hashes, addresses,
warninglist suppression naming the list, and the batch path agreeing with single look-ups."""

from __future__ import annotations

import pytest

from floodwall.enrich.intel.indicator import Indicator, IndicatorType
from floodwall.enrich.intel.matcher import IntelMatcher
from floodwall.enrich.intel.suffixes import PublicSuffixes
from floodwall.enrich.intel.tables import IndicatorTables
from floodwall.enrich.intel.warninglists import Warninglist, WarninglistIndex

SHA256 = "a" * 64
MD5 = "0123456789abcdef0123456789abcdef"


def ind(itype: IndicatorType, value: str, source: str = "feed", conf: int = 70) -> Indicator:
    return Indicator(itype, value, source, conf)


INDICATORS = [
    ind("ip", "203.0.113.7", "ipsum", 60),
    ind("ip", "203.0.113.7", "misp", 90),  # same value, second source
    ind("cidr", "198.51.100.0/24", "nets"),
    ind("cidr", "198.51.0.0/16", "wide", 40),  # nested: an address in both matches both
    ind("ip", "2001:db8::66"),
    ind("cidr", "2001:db8:bad::/48", "nets6"),
    ind("domain", "evil.com"),
    ind("domain", "x.notbad.org"),
    ind("domain", "duckdns.org"),  # a public suffix: matches only itself
    ind("url", "http://phish.net/login.php?a=1"),
    ind("sha256", SHA256),
    ind("md5", MD5),
    ind("email", "ceo@fraud.biz"),
]


@pytest.fixture(scope="module")
def matcher(suffixes: PublicSuffixes) -> IntelMatcher:
    return IntelMatcher(IndicatorTables.from_indicators(INDICATORS), suffixes=suffixes)


def found(matcher: IntelMatcher, kind: str, value: str) -> set[str]:
    return {m.indicator for m in matcher.match(kind, value)}


def test_ip_dedup_keeps_every_source_and_the_highest_confidence(matcher: IntelMatcher) -> None:
    (m,) = matcher.match_ip("203.0.113.7")
    assert m.sources == ("ipsum", "misp") and m.confidence == 90
    assert m.indicator_type == "ip"


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("198.51.100.1", {"198.51.100.0/24", "198.51.0.0/16"}),
        ("198.51.100.255", {"198.51.100.0/24", "198.51.0.0/16"}),
        ("198.51.101.1", {"198.51.0.0/16"}),  # outside the /24, inside the /16
        ("198.52.0.0", set()),  # the neighbour just outside the /16
        ("198.50.255.255", set()),
        ("203.0.113.8", set()),
        ("2001:db8::66", {"2001:db8::66"}),
        ("2001:DB8:0:0::66", {"2001:db8::66"}),  # any spelling of the address
        ("2001:db8:bad:ffff::1", {"2001:db8:bad::/48"}),
        ("2001:db8:bae::1", set()),
        ("not-an-ip", set()),
        ("999.1.1.1", set()),
    ],
)
def test_ips_and_cidrs(matcher: IntelMatcher, ip: str, expected: set[str]) -> None:
    assert found(matcher, "ip", ip) == expected


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("evil.com", {"evil.com"}),
        ("EVIL.com.", {"evil.com"}),
        ("a.b.evil.com", {"evil.com"}),  # a subdomain of a bad domain
        ("notevil.com", set()),  # a suffix of the text, not a parent domain
        ("evil.com.example", set()),
        ("notbad.org", set()),  # the parent of a bad subdomain is not bad
        ("y.x.notbad.org", {"x.notbad.org"}),
        ("duckdns.org", {"duckdns.org"}),
        ("someone.duckdns.org", set()),  # a public-suffix indicator names only itself
    ],
)
def test_domains(matcher: IntelMatcher, domain: str, expected: set[str]) -> None:
    assert found(matcher, "domain", domain) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://phish.net/login.php?a=1", {"http://phish.net/login.php?a=1"}),
        ("HTTP://PHISH.NET:80/x/../login.php?a=1", {"http://phish.net/login.php?a=1"}),
        ("http://phish.net/other.php", set()),
        ("https://cdn.evil.com/a.js", {"evil.com"}),  # the URL's host is a bad domain
        ("http://198.51.100.9/x", {"198.51.100.0/24", "198.51.0.0/16"}),
        ("not a url", set()),
    ],
)
def test_urls_are_normalized_and_their_host_checked(
    matcher: IntelMatcher, url: str, expected: set[str]
) -> None:
    assert found(matcher, "url", url) == expected


def test_hashes_any_case(matcher: IntelMatcher) -> None:
    assert found(matcher, "sha256", SHA256.upper()) == {SHA256}
    assert found(matcher, "md5", MD5) == {MD5}
    assert found(matcher, "hash", "b" * 64) == set()
    (m,) = matcher.match_hash(MD5)
    assert m.indicator_type == "md5"


@pytest.mark.parametrize(
    ("value", "listed"),
    [(SHA256, True), (SHA256.upper(), True), (MD5, True), ("b" * 64, False), ("", False),
     (SHA256[:-1], False)],
)  # fmt: skip
def test_has_hash_agrees_with_match(matcher: IntelMatcher, value: str, listed: bool) -> None:
    assert matcher.has_hash(value) is listed
    assert bool(matcher.match("hash", value)) is listed


def test_sender_addresses_and_their_domain(matcher: IntelMatcher) -> None:
    assert found(matcher, "email", "<CEO@Fraud.biz>") == {"ceo@fraud.biz"}
    assert found(matcher, "email", "anyone@mail.evil.com") == {"evil.com"}
    assert found(matcher, "email", "ceo@fraud.biz.example") == set()


def test_batch_agrees_with_single_lookups(matcher: IntelMatcher) -> None:
    batch = [
        ("ip", "10.0.0.1"), ("ip", "198.51.100.3"), ("domain", "a.evil.com"),
        ("ip", "2001:db8::66"), ("url", "http://phish.net/login.php?a=1"),
        ("sha256", SHA256), ("unknown-kind", "evil.com"), ("ip", "203.0.113.7"),
    ]  # fmt: skip
    got = matcher.match_many(batch)
    assert [m.at for m in got] == sorted(m.at for m in got)
    singles = [(at, m.indicator) for at, (k, v) in enumerate(batch) for m in matcher.match(k, v)]
    assert sorted((m.at, m.indicator) for m in got) == sorted(singles)
    assert {m.at for m in got} == {1, 2, 3, 4, 5, 7}


def test_empty_matcher_matches_nothing() -> None:
    empty = IntelMatcher(IndicatorTables.from_indicators([]))
    assert len(empty) == 0
    assert empty.match_many([("ip", "1.2.3.4"), ("domain", "a.com")]) == []


def test_warninglist_suppression_names_the_list(suffixes: PublicSuffixes) -> None:
    lists = [
        Warninglist("our-resolvers", "Our resolvers", "cidr", frozenset({"ip"}), ("9.9.9.0/24",)),
        Warninglist("big-sites", "Big sites", "hostname", frozenset({"domain"}), ("bigsite.com",)),
    ]
    tables = IndicatorTables.from_indicators(
        [ind("cidr", "9.9.0.0/16"), ind("domain", "bigsite.com"), ind("ip", "9.8.7.6")]
    )
    m = IntelMatcher(tables, suffixes=suffixes, warninglists=WarninglistIndex(lists))
    assert m.match_many([("ip", "9.9.9.9"), ("domain", "www.bigsite.com")]) == []
    hidden = m.match_many([("ip", "9.9.9.9"), ("ip", "9.8.7.6")], include_suppressed=True)
    assert [(h.observable, h.suppressed_by) for h in hidden] == [
        ("9.9.9.9", ("our-resolvers",)),
        ("9.8.7.6", ()),
    ]
    (one,) = m.match_many([("ip", "9.9.10.1")])  # inside the indicator, not the list
    assert one.indicator == "9.9.0.0/16"


def test_warninglists_load_lazily_only_when_a_hit_needs_them(suffixes: PublicSuffixes) -> None:
    calls: list[int] = []
    lists = [Warninglist("resolvers", "R", "cidr", frozenset({"ip"}), ("9.9.9.9/32",))]

    def load() -> WarninglistIndex:
        calls.append(1)
        return WarninglistIndex(lists)

    tables = IndicatorTables.from_indicators(
        [ind("ip", "9.8.7.6"), ind("cidr", "9.9.9.0/24"), ind("domain", "evil.com")]
    )
    m = IntelMatcher(tables, suffixes=suffixes, warninglists=load)
    assert m.match_many([("ip", "1.1.1.1")]) == [] and calls == []
    # An indicator's own value was checked against the lists when it was imported.
    assert len(m.match_many([("ip", "9.8.7.6"), ("domain", "EVIL.com")])) == 2 and calls == []
    # A parent domain or a network holding the address needs the lists: loaded once.
    assert len(m.match_many([("domain", "x.evil.com")])) == 1 and calls == [1]
    assert m.match_many([("ip", "9.9.9.9")]) == []  # on the list, inside the CIDR
    assert len(m.match_many([("ip", "9.9.9.10")])) == 1 and calls == [1]
