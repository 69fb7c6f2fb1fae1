"""OriginEnricher: internal space by RFC, obscured sources (hosting ASN, warninglists, Tor,
open proxies) that keep their observed country, domestic/abroad, and unknown."""

from __future__ import annotations

from pathlib import Path

import pytest

from floodwall.enrich.geoip import GeoIPEnricher, load_geo_data
from floodwall.enrich.origin import (
    OriginClass,
    OriginEnricher,
    SourceOrigin,
    default_hosting_asns_path,
    load_anonymizers,
    load_origin_enricher,
    read_address_list,
    read_hosting_asns,
)
from floodwall.settings import Settings, bundled_data

GEO_DIR = bundled_data() / "geo"
TOR_EXIT = "192.42.116.17"  # a Tor exit named in the IPsum README (hviv.nl), AS215125 NL


@pytest.fixture(scope="module")
def geo() -> GeoIPEnricher:
    return GeoIPEnricher(load_geo_data(GEO_DIR))


@pytest.fixture(scope="module")
def origin(geo: GeoIPEnricher) -> OriginEnricher:
    return OriginEnricher(
        geo,
        home_country="de",
        anonymizers=load_anonymizers(GEO_DIR),
        hosting_asns=read_hosting_asns(default_hosting_asns_path()),
        tor_exits=[TOR_EXIT],
        open_proxies=["45.0.0.0/24", "2a0b:4340::1"],
    )


@pytest.mark.parametrize(
    ("ip", "rfc"),
    [
        ("10.0.0.0", "RFC 1918"),
        ("10.255.255.255", "RFC 1918"),
        ("172.16.0.1", "RFC 1918"),
        ("172.31.255.255", "RFC 1918"),
        ("192.168.1.1", "RFC 1918"),
        ("100.64.0.0", "RFC 6598"),
        ("100.127.255.255", "RFC 6598"),
        ("127.0.0.1", "RFC 1122"),
        ("169.254.1.1", "RFC 3927"),
        ("0.1.2.3", "RFC 6890"),
        ("192.0.0.8", "RFC 6890"),
        ("192.0.2.1", "RFC 5737"),
        ("198.51.100.1", "RFC 5737"),
        ("203.0.113.255", "RFC 5737"),
        ("198.18.0.1", "RFC 2544"),
        ("224.0.0.1", "RFC 5771"),
        ("239.255.255.255", "RFC 5771"),
        ("240.0.0.1", "RFC 1112"),
        ("255.255.255.255", "RFC 919"),
        ("::", "RFC 4291"),
        ("::1", "RFC 4291"),
        ("fe80::1", "RFC 4291"),
        ("fc00::1", "RFC 4193"),
        ("fd12:3456::1", "RFC 4193"),
        ("2001:db8::1", "RFC 3849"),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "RFC 3849"),
        ("3fff::1", "RFC 9637"),
        ("ff02::1", "RFC 4291"),
        ("fec0::1", "RFC 3879"),
        ("100::1", "RFC 6666"),
        ("64:ff9b:1::1", "RFC 8215"),
        ("4000::1", "2000::/3"),  # bogon: not global unicast
        ("1fff:ffff::1", "2000::/3"),
    ],
)
def test_internal_space(origin: OriginEnricher, ip: str, rfc: str) -> None:
    got = origin.classify(ip)
    assert got.origin is OriginClass.INTERNAL
    assert rfc in got.reason


@pytest.mark.parametrize(
    "ip",
    ["172.15.255.255", "172.32.0.0", "100.63.255.255", "100.128.0.0", "192.0.3.0", "11.0.0.0"],
)
def test_just_outside_internal_blocks(origin: OriginEnricher, ip: str) -> None:
    assert origin.classify(ip).origin is not OriginClass.INTERNAL


@pytest.mark.parametrize(
    ("ip", "reason"),
    [
        ("::ffff:8.8.8.8", "IPv4-mapped"),
        ("64:ff9b::808:808", "translation"),
        ("fe80::1%eth0", "not an IP address"),
        ("999.1.1.1", "not an IP address"),
        ("14.102.240.0", "no country"),  # a gap in the RIR delegations
    ],
)
def test_unknown(origin: OriginEnricher, ip: str, reason: str) -> None:
    got = origin.classify(ip)
    assert got.origin is OriginClass.UNKNOWN
    assert reason in got.reason


@pytest.mark.parametrize(
    ("ip", "reason", "country", "asn"),
    [
        # Hosting provider ASNs: the reason names the AS; the country stays as observed.
        ("52.95.110.1", "AS16509 Amazon.com, Inc. is a hosting provider", "US", 16509),
        (
            "1.12.0.1",
            "AS45090 Shenzhen Tencent Computer Systems Company Limited is a hosting provider",
            "CN",
            45090,
        ),
        ("2a00:1450:4001::1", "AS15169 Google LLC is a hosting provider", "IE", 15169),
        # Warninglists: iCloud Private Relay names the service, so it wins over Cloudflare's AS.
        ("104.28.28.1", "on warninglist icloud-private-relay", "US", 13335),
        ("1.247.4.1", "on warninglist vpn-ipv4", "KR", 63199),
        ("2001:500:2::1", "on warninglist vpn-ipv6", "US", 2149),
        # Intel passed in: Tor exits and open proxies.
        (TOR_EXIT, "on the Tor exit list", "NL", 215125),
        ("45.0.0.77", "open proxy (intel)", "US", 290),
        ("2a0b:4340::1", "open proxy (intel)", "US", 0),
    ],
)
def test_obscured_keeps_the_observed_country(
    origin: OriginEnricher, geo: GeoIPEnricher, ip: str, reason: str, country: str, asn: int
) -> None:
    got = origin.classify(ip)
    assert got.origin is OriginClass.OBSCURED
    assert got.reason == reason
    assert (got.country_code, got.asn) == (country, asn)
    assert (got.country_code, got.asn) == (geo.lookup(ip).country_code, geo.lookup(ip).asn)


@pytest.mark.parametrize(
    ("ip", "klass", "reason"),
    [
        ("193.99.144.80", OriginClass.DOMESTIC, "registered in DE, the home country"),
        ("77.88.8.8", OriginClass.ABROAD, "registered in RU, home is DE"),
        ("2a02:6b8::feed:0ff", OriginClass.ABROAD, "registered in RU, home is DE"),
        ("1.0.1.1", OriginClass.ABROAD, "registered in CN, home is DE"),
    ],
)
def test_domestic_and_abroad(
    origin: OriginEnricher, ip: str, klass: OriginClass, reason: str
) -> None:
    got = origin.classify(ip)
    assert (got.origin, got.reason) == (klass, reason)


def test_without_home_country_public_sources_are_unknown(geo: GeoIPEnricher) -> None:
    plain = OriginEnricher(geo, home_country=None)
    assert plain.classify("77.88.8.8").origin is OriginClass.UNKNOWN
    assert plain.classify("77.88.8.8").reason == "no home country configured"
    assert plain.classify("10.0.0.1").origin is OriginClass.INTERNAL
    # Without anonymizer data or hosting list, nothing is obscured.
    assert plain.classify("52.95.110.1").reason == "no home country configured"


@pytest.mark.parametrize("bad", ["DEU", "1X", "D"])
def test_bad_home_country_is_refused(geo: GeoIPEnricher, bad: str) -> None:
    with pytest.raises(ValueError, match="ISO 3166"):
        OriginEnricher(geo, home_country=bad)


def test_batch_order_duplicates_and_hostile_values(origin: OriginEnricher) -> None:
    ips = ["77.88.8.8", "10.0.0.1", "x" * 5_000_000, "77.88.8.8", "\udcff", "193.99.144.80"]
    got = origin.classify_many(ips)
    assert [o.origin.value for o in got] == [
        "abroad",
        "internal",
        "unknown",
        "abroad",
        "unknown",
        "domestic",
    ]
    assert got[0] is got[3]
    assert len(got[2].ip) == 100
    assert got[1].as_dict() == {
        "ip": "10.0.0.1",
        "origin": "internal",
        "reason": "private-use (RFC 1918)",
        "country_code": "",
        "country_name": "",
        "asn": 0,
        "as_org": "",
    }
    assert origin.classify_many([]) == []


def test_settings_carry_the_home_country(tmp_path: Path) -> None:
    (tmp_path / "floodwall.toml").write_text('[origin]\nhome_country = " fr "\n', "utf-8")
    settings = Settings.load(tmp_path)
    assert settings.home_country == "FR"
    enricher = load_origin_enricher(settings)
    assert enricher.classify("77.88.8.8") == SourceOrigin(
        "77.88.8.8",
        OriginClass.ABROAD,
        "registered in RU, home is FR",
        "RU",
        "Russia",
        13238,
        "YANDEX LLC",
    )
    assert Settings.load(tmp_path / "none").home_country == ""


def test_users_hosting_list_replaces_the_bundled_one(tmp_path: Path) -> None:
    (tmp_path / "hosting_asns.txt").write_text("# mine\nAS13238 # Yandex, for this test\n", "utf-8")
    settings = Settings.load(tmp_path)
    assert default_hosting_asns_path(settings) == tmp_path / "hosting_asns.txt"
    got = load_origin_enricher(settings).classify("77.88.8.8")
    assert (got.origin, got.reason) == (
        OriginClass.OBSCURED,
        "AS13238 YANDEX LLC is a hosting provider",
    )


@pytest.mark.parametrize("line", ["16509x # bad", "AS # empty", "0 # zero", "4294967296 # too big"])
def test_hosting_list_errors_name_the_line(tmp_path: Path, line: str) -> None:
    path = tmp_path / "hosting.txt"
    path.write_text(f"16509 # fine\n{line}\n", "utf-8")
    with pytest.raises(ValueError, match=r"hosting.txt:2: not an AS number"):
        read_hosting_asns(path)


def test_bundled_hosting_list_is_known_to_the_asn_data(geo: GeoIPEnricher) -> None:
    listed = read_hosting_asns(default_hosting_asns_path())
    assert len(listed) >= 50
    known = set(geo.data.asn_numbers.tolist())
    assert set(listed) <= known, set(listed) - known


def test_tor_exit_list_formats(tmp_path: Path) -> None:
    path = tmp_path / "exit-addresses"
    path.write_text(
        "ExitNode 0011BD2485AD45D984EC4159C88FC066E5E3300E\n"
        "Published 2026-08-01 10:00:00\n"
        f"ExitAddress {TOR_EXIT} 2026-08-01 10:30:00\n"
        "# a comment\n"
        "198.51.100.0/24\n",
        "utf-8",
    )
    assert read_address_list(path) == [TOR_EXIT, "198.51.100.0/24"]
