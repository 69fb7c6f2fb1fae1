"""GeoIP + ASN lookups per second: Floodwall's vectorized tables against Python's bisect.

    .venv/bin/python bench/bench_geoip.py [--count 1000000] [--peer-count 200000] [--seed 1]

Each lookup answers country code, AS number and AS organization for one address string.
The peer does the same over the same ranges with the standard library alone: inet_pton
and ``bisect`` on sorted lists of ints, one address at a time. Prints figures; asserts
nothing. Runs on one core (numpy here does not spread searches over threads).
"""

from __future__ import annotations

import argparse
import bisect
import os
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from floodwall.enrich import table_cache
from floodwall.enrich.geoip import GeoData, GeoIPEnricher, load_geo_data
from floodwall.enrich.ranges import parse_ips
from floodwall.settings import bundled_data


def best_of(runs: int, fn: Callable[[], Any]) -> tuple[float, float]:
    """The shortest wall time and the shortest CPU time of this process over ``runs``.

    CPU time is less disturbed by other work on a shared machine; both are printed.
    """
    walls, cpus = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus)


def row(label: str, count: int, wall: float, cpu: float, extra: str = "") -> None:
    print(f"{label:<36}{count / wall:>13,.0f}{count / cpu:>13,.0f}{wall * 1000:>9.0f}{extra}")


def public_v4(rng: np.random.Generator, n: int) -> list[str]:
    """Uniform over 1.0.0.0-223.255.255.255 without 10/8, 127/8, 172.16/12, 192.168/16."""
    ips = rng.integers(1 << 24, 224 << 24, size=2 * n, dtype=np.uint64).astype(np.uint32)
    first, second = ips >> 24, (ips >> 16) & 0xFF
    private = (
        (first == 10)
        | (first == 127)
        | ((first == 172) & (second >= 16) & (second < 32))
        | ((first == 192) & (second == 168))
    )
    ips = ips[~private][:n]
    return [socket.inet_ntop(socket.AF_INET, int(x).to_bytes(4, "big")) for x in ips]


def public_v6(rng: np.random.Generator, data: GeoData, n: int) -> list[str]:
    """Random addresses inside randomly chosen ASN-table IPv6 ranges (announced space)."""
    t = data.asns
    rows = rng.integers(0, len(t.v6_start_hi), size=n)
    hi = t.v6_start_hi[rows] + (
        rng.integers(0, 2**63, size=n, dtype=np.uint64)
        % (t.v6_end_hi[rows] - t.v6_start_hi[rows] + np.uint64(1)).clip(min=1)
    )
    lo = rng.integers(0, 2**63, size=n, dtype=np.uint64) * np.uint64(2)
    lo = np.where(hi == t.v6_end_hi[rows], np.minimum(lo, t.v6_end_lo[rows]), lo)
    lo = np.where(hi == t.v6_start_hi[rows], np.maximum(lo, t.v6_start_lo[rows]), lo)
    packed = np.stack([hi, lo], axis=1).astype(">u8").tobytes()
    return [socket.inet_ntop(socket.AF_INET6, packed[i * 16 : i * 16 + 16]) for i in range(n)]


class BisectPeer:
    """The same tables as Python lists of ints; one inet_pton and two bisects per address."""

    def __init__(self, data: GeoData) -> None:
        c, a = data.countries, data.asns
        n4c, n4a = len(c.v4_start), len(a.v4_start)
        self.c4 = (c.v4_start.tolist(), c.v4_end.tolist(), c.values[:n4c].tolist())
        self.a4 = (a.v4_start.tolist(), a.v4_end.tolist(), a.values[:n4a].tolist())

        def v6(t: Any, n4: int) -> tuple[list[int], list[int], list[int]]:
            pairs = zip(t.v6_start_hi.tolist(), t.v6_start_lo.tolist(), strict=True)
            s = [(h << 64) | lo for h, lo in pairs]
            pairs = zip(t.v6_end_hi.tolist(), t.v6_end_lo.tolist(), strict=True)
            e = [(h << 64) | lo for h, lo in pairs]
            return s, e, t.values[n4:].tolist()

        self.c6, self.a6 = v6(c, n4c), v6(a, n4a)
        self.codes = data.country_codes.tolist()[1:]
        self.asns = data.asn_numbers.tolist()[1:]
        self.orgs = data.as_orgs.tolist()[1:]

    @staticmethod
    def find(table: tuple[list[int], list[int], list[int]], ip: int) -> int:
        starts, ends, values = table
        i = bisect.bisect_right(starts, ip) - 1
        return values[i] if i >= 0 and ip <= ends[i] else -1

    def lookup(self, ip: str) -> tuple[str, int, str]:
        try:
            six = ":" in ip
            n = int.from_bytes(socket.inet_pton(socket.AF_INET6 if six else socket.AF_INET, ip))
        except (OSError, ValueError):
            return "", 0, ""
        c = self.find(self.c6 if six else self.c4, n)
        a = self.find(self.a6 if six else self.a4, n)
        return (
            self.codes[c] if c >= 0 else "",
            self.asns[a] if a >= 0 else 0,
            self.orgs[a] if a >= 0 else "",
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--peer-count", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    geo_dir = bundled_data() / "geo"
    size = sum(p.stat().st_size for p in geo_dir.iterdir())
    with tempfile.TemporaryDirectory() as cache:
        t = time.perf_counter()
        data = load_geo_data(geo_dir)
        _ = data.as_orgs
        cold = time.perf_counter() - t
        load_geo_data(geo_dir, Path(cache))  # writes the mapped cache
        table_cache._load.cache_clear()
        t = time.perf_counter()
        warm = load_geo_data(geo_dir, Path(cache))
        _ = warm.as_orgs
        mapped = time.perf_counter() - t
    print(f"data: {geo_dir} ({size / 1e6:.1f} MB on disk)")
    print(f"  {data.countries.rows:,} country ranges, {data.asns.rows:,} ASN ranges")
    print(f"load: {cold * 1000:.0f} ms from the .npz, {mapped * 1000:.0f} ms from the mapped cache")
    print("  (both include decoding the 91k AS organization names)")

    geo = GeoIPEnricher(data)
    peer = BisectPeer(data)
    rng = np.random.default_rng(args.seed)
    v4 = public_v4(rng, args.count)
    v6 = public_v6(rng, data, args.count)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores shared)")
    print(f"\n{'batch':<36}{'lookups/s':>13}{'per CPU-s':>13}{'wall ms':>9}{'known %':>9}")
    for family, ips in (("IPv4", v4), ("IPv6", v6)):

        def full(ips: list[str] = ips) -> None:
            cols = geo.lookup_many(ips)
            cols.as_org()

        wall, cpu = best_of(args.runs, full)
        cols = geo.lookup_many(ips)
        known = float(np.mean(cols.country_code != "")) * 100
        row(f"floodwall {family} strings ({len(ips):,})", len(ips), wall, cpu, f"{known:>9.1f}")
        pw, pc = best_of(args.runs, lambda ips=ips: parse_ips(ips))
        row("  of which parsing (and sorting)", len(ips), pw, pc)
        subset = ips[: args.peer_count]
        peer_wall, peer_cpu = best_of(1, lambda subset=subset: [peer.lookup(ip) for ip in subset])
        row(f"bisect peer {family} ({len(subset):,})", len(subset), peer_wall, peer_cpu)
        ratio_wall = (len(ips) / wall) / (len(subset) / peer_wall)
        ratio_cpu = (len(ips) / cpu) / (len(subset) / peer_cpu)
        print(f"{'  floodwall / peer':<36}{ratio_wall:>12.1f}x{ratio_cpu:>12.1f}x")
        same = [peer.lookup(ip) for ip in subset[:20_000]]
        mine = geo.lookup_many(subset[:20_000])
        agree = sum(
            (str(mine.country_code[i]), int(mine.asn[i]), str(mine.as_org()[i])) == s
            for i, s in enumerate(same)
        )
        print(f"{'  answers equal to the peer':<36}{agree:>13,} of {len(same):,}")
    ints = np.array(
        [int.from_bytes(socket.inet_pton(socket.AF_INET, ip)) for ip in v4], dtype=np.uint32
    )
    wall, cpu = best_of(args.runs, lambda: geo.lookup_many(ints).as_org())
    row("floodwall IPv4 uint32 (no parsing)", len(ints), wall, cpu)


if __name__ == "__main__":
    main()
