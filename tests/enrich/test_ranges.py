"""Range tables and the bulk IP parser: answers checked against ``ipaddress`` and a brute
force, range boundaries, and hostile strings that must answer unknown, never raise."""

from __future__ import annotations

import ipaddress
import itertools
import random
import socket
from typing import Any

import numpy as np
import pytest

from floodwall.enrich.ipparse import parse_ip, parse_ips
from floodwall.enrich.ranges import Entry, RangeTable, flatten, network_range


def reference(value: Any) -> tuple[int, int] | None:
    """What ``ipaddress`` reads, zone ids refused (as the parser under test documents)."""
    if not isinstance(value, str) or "%" in value:
        return None
    try:
        a = ipaddress.ip_address(value)
    except ValueError:
        return None
    return a.version, int(a)


def parsed_map(values: list[Any]) -> dict[int, tuple[int, int]]:
    p = parse_ips(values)
    out = {pos: (4, v) for pos, v in zip(p.v4_pos.tolist(), p.v4.tolist(), strict=True)}
    for pos, hi, lo in zip(p.v6_pos.tolist(), p.v6_hi.tolist(), p.v6_lo.tolist(), strict=True):
        out[pos] = (6, (hi << 64) | lo)
    return out


HOSTILE: list[Any] = [
    "",
    " ",
    "garbage",
    "999.1.1.1",
    "256.0.0.1",
    "1.2.3.256",
    "1.2.3",
    "1.2.3.4.5",
    "1..2.3",
    "11..22.33",
    ".1.2.3",
    "1.2.3.",
    "01.2.3.4",  # leading zero: octal to some parsers (RFC 6943 §3.1.1)
    "1.2.3.04",
    "0x7f.0.0.1",
    "1.2.3.4 ",
    " 1.2.3.4",
    "1.2.3.4/32",
    "1.2.3.4\x00",
    "1.2.3.4\n",
    "1.2.3\n.4",
    "１.２.３.４",  # fullwidth digits
    "\udcff1.2.3.4",  # lone surrogate (undecodable bytes read with surrogateescape)
    "1.2.3.\udc80",
    "fe80::1%eth0",  # zone id (RFC 6874)
    "fe80::1%",
    "1::2::3",
    ":::",
    "02001:db8::1",
    "1:2:3:4:5:6:7:8:9",
    "2001:db8::1.2.3.04",
    "x" * 10_000_000,  # 10 MB
    "1." * 5_000_000,
    None,
    42,
    b"1.2.3.4",
    3.5,
]


@pytest.mark.timeout(60)
def test_hostile_values_are_not_addresses_and_never_raise() -> None:
    assert parsed_map(HOSTILE) == {}
    for value in HOSTILE:
        assert parse_ip(value) is None, repr(value)[:40]


@pytest.mark.timeout(60)
def test_hostile_values_do_not_disturb_their_neighbours() -> None:
    values: list[Any] = []
    for bad in HOSTILE:
        values += ["10.0.0.1", bad, "2001:db8::1"]
    got = parsed_map(values)
    assert set(got) == {i for i in range(len(values)) if i % 3 != 1}
    assert {got[i] for i in got} == {(4, 0x0A000001), (6, 0x20010DB8 << 96 | 1)}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.0.0.0", (4, 0)),
        ("255.255.255.255", (4, 2**32 - 1)),
        ("1.2.3.4", (4, 0x01020304)),
        ("10.0.0.1", (4, 0x0A000001)),
        ("::", (6, 0)),
        ("::1", (6, 1)),
        ("2001:DB8::1", (6, 0x20010DB8 << 96 | 1)),
        ("::ffff:1.2.3.4", (6, 0xFFFF01020304)),  # mapped: an IPv6 address, not 1.2.3.4
        ("1:2:3:4:5:6:1.2.3.4", (6, int(ipaddress.ip_address("1:2:3:4:5:6:1.2.3.4")))),
    ],
)
def test_valid_forms(value: str, expected: tuple[int, int]) -> None:
    assert parse_ip(value) == expected
    assert parsed_map([value]) == {0: expected}


def test_random_strings_agree_with_ipaddress() -> None:
    rng = random.Random(7)
    values: list[str] = []
    for _ in range(20_000):
        parts = rng.choice([3, 4, 4, 4, 5])
        values.append(
            ".".join(str(rng.choice([0, 9, 10, 99, 100, 255, 256, 300])) for _ in range(parts))
        )
        values.append(
            ".".join(rng.choice(["0", "00", "01", "1", "12", "123", "1234", ""]) for _ in range(4))
        )
        values.append(socket.inet_ntop(socket.AF_INET6, rng.randbytes(16)))
        values.append(rng.choice(["1.2.3.4", "::1", "a.b.c.d", "1.2.3.4x", "1:2"]))
    got = parsed_map(values)
    expected = {i: r for i, v in enumerate(values) if (r := reference(v)) is not None}
    assert got == expected
    assert any(r[0] == 4 for r in expected.values()) and any(r[0] == 6 for r in expected.values())


def test_numpy_inputs() -> None:
    assert parsed_map(np.array(["1.2.3.4", "x", "::1"])) == {0: (4, 0x01020304), 2: (6, 1)}
    assert parsed_map(np.array(["1.2.3.4", None], dtype=object)) == {0: (4, 0x01020304)}
    p = parse_ips(np.array([3, 1, 2], dtype=np.uint32))
    assert dict(zip(p.v4_pos.tolist(), p.v4.tolist(), strict=True)) == {0: 3, 1: 1, 2: 2}
    assert parse_ips([]).count == 0


def brute(entries: list[Entry], point: int) -> int:
    """Most specific (shortest) range holding ``point``; the same range listed twice: the
    later listing wins."""
    holding = [(e - s, -s, -i) for i, (s, e, _) in enumerate(entries) if s <= point <= e]
    return entries[-min(holding)[2]][2] if holding else -1


def test_flatten_nested_and_partial_overlaps() -> None:
    got = flatten(
        [(0, 100, 1), (10, 20, 2), (15, 16, 3), (50, 150, 4), (200, 300, 5), (301, 400, 5)]
    )
    assert got == [
        (0, 9, 1),
        (10, 14, 2),
        (15, 16, 3),
        (17, 20, 2),
        (21, 49, 1),
        (50, 150, 4),
        (200, 400, 5),
    ]


def test_flatten_nested_ranges_against_brute_force() -> None:
    rng = random.Random(11)
    for _ in range(200):
        entries: list[Entry] = []
        for _ in range(rng.randint(1, 12)):  # CIDR-like blocks: nested or disjoint, never partial
            size = 1 << rng.randint(0, 5)
            start = rng.randrange(0, 128, size)
            entries.append((start, start + size - 1, rng.randint(0, 3)))
        flat = flatten(entries)
        assert all(a[1] < b[0] for a, b in itertools.pairwise(flat))
        table = RangeTable.from_entries(flat, [])
        rows = table.lookup_many(np.arange(160, dtype=np.uint32))
        assert table.values_of(rows).tolist() == [brute(entries, p) for p in range(160)]


V4 = [(0x01000000, 0x010000FF, 7), (0x01000200, 0x010003FF, 8)]  # 1.0.0.0/24, 1.0.2.0/23
V6 = [
    (0x20010DB8 << 96, (0x20010DB8 << 96) | (2**64 - 1), 1),  # 2001:db8::/64
    ((0x20010DB9 << 96) | 0x10, (0x20010DB9 << 96) | 0x2F, 2),  # sub-/64 ranges in one /64
    ((0x20010DB9 << 96) | 0x30, (0x20010DB9 << 96) | 0x30, 3),
    ((0x20010DB9 << 96) | 0x31, (0x20010DB9 << 96) | (2**64 - 1), 4),
]


@pytest.mark.parametrize(
    ("ip", "value"),
    [
        ("1.0.0.0", 7),  # first address
        ("1.0.0.255", 7),  # last address
        ("1.0.1.0", -1),  # the gap between ranges
        ("1.0.1.255", -1),
        ("1.0.2.0", 8),
        ("1.0.3.255", 8),
        ("1.0.4.0", -1),
        ("0.255.255.255", -1),
        ("255.255.255.255", -1),
        ("2001:db8::", 1),
        ("2001:db8::ffff:ffff:ffff:ffff", 1),
        ("2001:db8:0:1::", -1),
        ("2001:db9::f", -1),
        ("2001:db9::10", 2),
        ("2001:db9::2f", 2),
        ("2001:db9::30", 3),
        ("2001:db9::31", 4),
        ("2001:db9::ffff:ffff:ffff:ffff", 4),
        ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", -1),
        ("::", -1),
        ("::ffff:1.0.0.1", -1),  # mapped: not the IPv4 range
        ("not an ip", -1),
    ],
)
def test_boundaries(ip: str, value: int) -> None:
    table = RangeTable.from_entries(V4, V6)
    assert table.values_of(table.lookup_many([ip])).tolist() == [value]
    row = table.lookup(ip)
    assert (table.values[row] if row >= 0 else -1) == value


def test_batch_equals_one_by_one_in_input_order() -> None:
    table = RangeTable.from_entries(V4, V6)
    ips = ["2001:db9::30", "1.0.3.0", "x", "1.0.0.5", "2001:db8::1", "1.0.1.1"] * 50
    assert table.lookup_many(ips).tolist() == [table.lookup(ip) for ip in ips]


def test_bad_tables_are_refused() -> None:
    u32 = np.array([5, 1], dtype=np.uint32)
    none = np.zeros(0, dtype=np.uint64)
    with pytest.raises(ValueError, match="unsorted or overlapping"):
        RangeTable(u32, u32 + np.uint32(1), none, none, none, none, np.zeros(2, dtype=np.int32))
    with pytest.raises(ValueError, match="wrong type or length"):
        RangeTable(u32, u32, none, none, none, none, np.zeros(3, dtype=np.int32))


def test_saved_arrays_round_trip_and_damage_is_caught() -> None:
    table = RangeTable.from_entries(V4, V6)
    saved = table.arrays("t")
    again = RangeTable.from_arrays(saved, "t")
    assert again.columns("x").keys() == table.columns("x").keys()
    for name, column in table.columns("t").items():
        assert np.array_equal(again.columns("t")[name], column)
    damaged = {**saved, "t_v4_size": saved["t_v4_size"].astype(np.int64)}
    with pytest.raises(ValueError, match="t: v4_size"):
        RangeTable.from_arrays(damaged, "t")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.0/8", (4, 0x0A000000, 0x0AFFFFFF)),
        ("10.0.0.1/8", (4, 0x0A000000, 0x0AFFFFFF)),  # host bits set: the network
        ("192.0.2.7", (4, 0xC0000207, 0xC0000207)),
        ("2001:db8::/126", (6, 0x20010DB8 << 96, (0x20010DB8 << 96) | 3)),
        ("fe80::/64%eth0", None),
        ("10.0.0.0/33", None),
        ("nonsense", None),
        ("", None),
    ],
)
def test_network_range(text: str, expected: tuple[int, int, int] | None) -> None:
    assert network_range(text) == expected
