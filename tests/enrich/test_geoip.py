"""GeoIPEnricher on the bundled data: known answers (checked in the source CSVs and the
public registries), every range boundary of a sample of source rows, hostile input, the
mapped cache, and the offline update from downloaded files."""

from __future__ import annotations

import csv
import gzip
import ipaddress
import json
import random
from pathlib import Path

import numpy as np
import pytest

from floodwall.cli.main import main
from floodwall.enrich import table_cache
from floodwall.enrich.geo_build import FORMAT, GEO_FILE, update_geo_dir
from floodwall.enrich.geoip import GeoIPEnricher, IpGeo, default_geo_dir, load_geo_data
from floodwall.settings import Settings, bundled_data

GEO_DIR = bundled_data() / "geo"


@pytest.fixture(scope="module")
def geo() -> GeoIPEnricher:
    return GeoIPEnricher(load_geo_data(GEO_DIR))


# Each answer was read in the source CSVs (ip_geolocation, see INDEX.md 1a/1b); the
# well-known ones agree with the registries' WHOIS (8.8.8.8 ARIN/Google, 77.88.8.8 RIPE/
# Yandex, 193.0.6.139 RIPE NCC, 2001:200::1 APNIC/WIDE in JP).
KNOWN = [
    ("8.8.8.8", "US", "United States", 15169, "Google LLC"),
    ("1.1.1.1", "AU", "Australia", 13335, "Cloudflare, Inc."),
    ("1.0.1.1", "CN", "China", 0, ""),  # delegated to CN, announced by nobody in the data
    ("77.88.8.8", "RU", "Russia", 13238, "YANDEX LLC"),
    (
        "193.0.6.139",
        "NL",
        "Netherlands",
        3333,
        "Reseaux IP Europeens Network Coordination Centre (RIPE NCC)",
    ),
    ("223.255.255.255", "AU", "Australia", 0, ""),  # last row of the IPv4 country file
    ("2001:4860:4860::8888", "US", "United States", 15169, "Google LLC"),
    ("2a02:6b8::feed:0ff", "RU", "Russia", 13238, "YANDEX LLC"),
    ("2001:200::1", "JP", "Japan", 2500, "WIDE Project"),
    (
        "2001:500:30ff::30",
        "US",
        "United States",
        396552,
        "VeriSign Global Registry Services",
    ),  # a /128 row
    ("2001:500:30ff::2f", "US", "United States", 396585, "VeriSign Global Registry Services"),
    ("2001:500:30ff::31", "US", "United States", 396585, "VeriSign Global Registry Services"),
]


@pytest.mark.parametrize(("ip", "cc", "name", "asn", "org"), KNOWN)
def test_known_answers(geo: GeoIPEnricher, ip: str, cc: str, name: str, asn: int, org: str) -> None:
    assert geo.lookup(ip) == IpGeo(ip, cc, name, asn, org)


@pytest.mark.parametrize(
    "ip",
    [
        "10.0.0.1",
        "192.168.1.1",
        "127.0.0.1",
        "::1",
        "fe80::1",
        "::ffff:8.8.8.8",
        "fe80::1%eth0",
        "999.1.1.1",
        "8.8.8.8 ",
        "",
        "\udcff",
        "x" * 1_000_000,
        "2001:db8::1",
    ],
)
def test_unknown_answers(geo: GeoIPEnricher, ip: str) -> None:
    assert geo.lookup(ip) == IpGeo(ip)
    assert geo.lookup(ip).to_ecs() == {}


def test_batch_is_columnar_and_in_input_order(geo: GeoIPEnricher) -> None:
    ips = [k[0] for k in KNOWN] + ["bogus", "10.1.1.1"]
    cols = geo.lookup_many(ips)
    assert len(cols) == len(ips)
    assert cols.country_code.tolist() == [k[1] for k in KNOWN] + ["", ""]
    assert cols.asn.tolist() == [k[3] for k in KNOWN] + [0, 0]
    assert cols.as_org().tolist() == [k[4] for k in KNOWN] + ["", ""]
    assert [cols.record(i, ip) for i, ip in enumerate(ips)] == [geo.lookup(ip) for ip in ips]


def test_ecs_fields(geo: GeoIPEnricher) -> None:
    assert geo.lookup("8.8.8.8").to_ecs() == {
        "source.geo.country_iso_code": "US",
        "source.geo.country_name": "United States",
        "source.as.number": 15169,
        "source.as.organization.name": "Google LLC",
    }


def sample_rows(path: Path, count: int, seed: int) -> list[list[str]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    rng = random.Random(seed)
    picked = sorted(rng.sample(range(len(rows) - 1), count))
    # Each sampled row, and the row after it (to know whether a gap follows).
    return [r for i in picked for r in (rows[i], rows[i + 1])]


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_range_boundaries_match_the_source_csvs(
    shared_data: Path, geo: GeoIPEnricher, family: str
) -> None:
    src = shared_data / "ip_geolocation"
    for name, column in (
        (f"rir-delegated-country-{family}.csv.gz", "cc"),
        (f"asn-{family}.csv.gz", "asn"),
    ):
        rows = sample_rows(src / name, 1500, seed=len(name))
        ips: list[str] = []
        expected: list[str] = []
        for row, following in zip(rows[::2], rows[1::2], strict=True):
            first, last = ipaddress.ip_address(row[0]), ipaddress.ip_address(row[1])
            ips += [str(first), str(last), str(first + (int(last) - int(first)) // 2)]
            expected += [row[2]] * 3
            if int(ipaddress.ip_address(following[0])) > int(last) + 1:
                ips.append(str(last + 1))  # in the gap between two rows
                expected.append("" if column == "cc" else "0")
        cols = geo.lookup_many(ips)
        got = cols.country_code.tolist() if column == "cc" else [str(a) for a in cols.asn.tolist()]
        if name == "asn-ipv4.csv.gz":  # the one overlapping pair of the source, resolved
            expected = [
                e for e, ip in zip(expected, ips, strict=True) if not ip.startswith("215.0.")
            ]
            got = [g for g, ip in zip(got, ips, strict=True) if not ip.startswith("215.0.")]
        assert got == expected, name


def test_mapped_cache_serves_the_second_load(tmp_path: Path) -> None:
    first = load_geo_data(GEO_DIR, tmp_path)
    table_cache._load.cache_clear()
    second = load_geo_data(GEO_DIR, tmp_path)
    assert isinstance(second.countries.v4_start, np.memmap)
    assert not isinstance(first.countries.v4_start, np.memmap)
    assert np.array_equal(first.asns.v6_end_lo, second.asns.v6_end_lo)
    assert GeoIPEnricher(second).lookup("8.8.8.8").asn == 15169


def test_unwritable_cache_is_skipped(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    table_cache._load.cache_clear()
    assert GeoIPEnricher(load_geo_data(GEO_DIR, blocker)).lookup("77.88.8.8").country_code == "RU"


def test_other_format_is_refused(tmp_path: Path) -> None:
    with np.load(GEO_DIR / GEO_FILE) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["format"] = np.array([FORMAT + 1])
    np.savez_compressed(tmp_path / GEO_FILE, **arrays)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="data format"):
        load_geo_data(tmp_path)


def write_gz(path: Path, text: str) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(text)


def test_update_from_downloaded_files(tmp_path: Path) -> None:
    src = tmp_path / "download"
    src.mkdir()
    write_gz(src / "asn-ipv4.csv.gz", '5.0.0.0,5.0.0.255,64500,"Example, Inc."\nbroken line\n')
    (src / "asn-ipv6.csv").write_text("2001:db8::,2001:db8::ffff,64501,Six Org\n", "utf-8")
    # The RIRs' own delegation files (NRO exchange format), with header and summary lines.
    (src / "delegated-ripencc-extended-latest").write_text(
        "2|ripencc|20260801|3|19830705|20260731|+0100\n"
        "ripencc|*|ipv4|*|2|summary\n"
        "ripencc|DE|ipv4|5.0.0.0|512|20100101|allocated|x\n"
        "ripencc|FR|ipv6|2001:db8::|32|20100101|assigned|x\n"
        "ripencc|NL|ipv4|6.0.0.0|256|20100101|available|x\n"
        "ripencc|DE|asn|3333|1|19930901|allocated|x\n",
        "utf-8",
    )
    (src / "lists" / "vpn-ipv4").mkdir(parents=True)
    (src / "lists" / "vpn-ipv4" / "list.json").write_text(
        json.dumps({"name": "vpn-ipv4", "version": 7, "list": ["5.0.1.0/24", "junk"]}), "utf-8"
    )
    target = tmp_path / "data" / "geo"
    log = update_geo_dir(src, target, GEO_DIR)
    assert log.skipped == {"asn-ipv4.csv.gz": 1}
    geo = GeoIPEnricher(load_geo_data(target))
    assert geo.lookup("5.0.0.1") == IpGeo("5.0.0.1", "DE", "Germany", 64500, "Example, Inc.")
    assert geo.lookup("5.0.1.1").country_code == "DE"
    assert geo.lookup("5.0.2.0") == IpGeo("5.0.2.0")
    assert geo.lookup("6.0.0.1") == IpGeo("6.0.0.1")  # "available" space is nobody's
    assert geo.lookup("2001:db8:1::1").country_code == "FR"
    assert geo.lookup("2001:db8::1").asn == 64501
    assert "vpn-ipv4 v7" in (target / "VERSION").read_text("utf-8")


def test_update_needs_both_country_and_asn(tmp_path: Path) -> None:
    (tmp_path / "country-ipv4.csv").write_text("5.0.0.0,5.0.0.255,DE\n", "utf-8")
    with pytest.raises(FileNotFoundError, match="ASN"):
        update_geo_dir(tmp_path, tmp_path / "out", GEO_DIR)
    assert not (tmp_path / "out").exists()


def test_cli_update_then_lookup(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "dl"
    src.mkdir()
    (src / "rir-delegated-country-ipv4.csv").write_text("9.9.9.0,9.9.9.255,CH\n", "utf-8")
    (src / "asn-ipv4.csv").write_text("9.9.9.0,9.9.9.255,19281,Quad9\n", "utf-8")
    data = tmp_path / "data"
    (data).mkdir()
    (data / "floodwall.toml").write_text('[origin]\nhome_country = "ch"\n', "utf-8")
    assert main(["geo", "update", str(src), "--data", str(data)]) == 0
    assert default_geo_dir(Settings.load(data)) == data / "geo"
    capsys.readouterr()
    assert (
        main(["geo", "lookup", "9.9.9.9", "77.88.8.8", "--data", str(data), "--format", "json"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert [(o["country_code"], o["asn"], o["origin"]) for o in out] == [
        ("CH", 19281, "domestic"),
        ("", 0, "unknown"),  # not in the updated tables
    ]
    assert main(["geo", "info", "--data", str(data)]) == 0
    assert "home country: CH" in capsys.readouterr().out
    assert main(["geo", "update", str(tmp_path / "missing"), "--data", str(data)]) == 2
