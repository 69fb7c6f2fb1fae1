"""Campaign clustering at scale: 1 million alerts -> time and peak memory.

Two figures, each from a fresh process (``ru_maxrss`` only grows within a process):

- ``core``: ``cluster_campaigns`` on N synthetic items streamed twice from a seeded
  generator (no store): the union-find, caps and TLSH banding alone;
- ``store``: ``floodwall campaigns build`` over a store holding N alerts (inserted
  with plain SQL before the timed run; the insert is not measured): SQLite reads,
  key extraction, clustering and the write-back of campaign ids.

The synthetic mix: addresses drawn from 200k (so many repeat), their /24s and 3,000
ASNs (a few huge ones, which the caps stop), 50k domains, file hashes on 10% and
attachment TLSH digests on 2% of items (half of those near-duplicates of another).
There is no peer: MISP's correlation table is what this design avoids, not a peer.

Usage::

    python bench/bench_campaigns.py [--items 1000000] [--skip-store]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _ip(rng: random.Random) -> str:
    n = rng.randrange(200_000)
    return f"{45 + n % 150}.{(n >> 8) % 250 + 1}.{(n >> 3) % 250}.{n % 250 + 1}"


def _asn(rng: random.Random) -> int:
    # a few giant networks hold a third of the items: the caps must stop them
    return rng.choice((3320, 7922, 4134)) if rng.random() < 0.33 else 64_000 + rng.randrange(3000)


def _fuzzy_pool(count: int, seed: int) -> list[str]:
    from floodwall.enrich.fuzzy import tlsh_digest

    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < count:
        base = bytearray(rng.randbytes(2048))
        out.append(tlsh_digest(bytes(base)))
        for _ in range(8):
            base[rng.randrange(len(base))] = rng.randrange(256)
        out.append(tlsh_digest(bytes(base)))
    return [d for d in out if d]


def synthetic_items(n: int, seed: int, fuzzy: list[str]) -> Iterator[object]:
    from floodwall.enrich.campaign_keys import network_of
    from floodwall.enrich.campaigns import CampaignItem

    rng = random.Random(seed)
    for i in range(n):
        ip = _ip(rng)
        keys = [f"ip:{ip}", f"net:{network_of(ip)}", f"asn:{_asn(rng)}"]
        if rng.random() < 0.3:
            keys.append(f"dom:d{rng.randrange(50_000)}.example")
        if rng.random() < 0.1:
            keys.append(f"hash:{rng.randrange(100_000):064x}")
        digests = (rng.choice(fuzzy),) if fuzzy and rng.random() < 0.02 else ()
        yield CampaignItem(
            "alert", f"{i:032x}", f"2026-05-{1 + i % 28:02d}T00:00:00", tuple(keys), digests,
            "abroad", "RU", ("T1110",), (f"host:h{i % 5000}",),
        )  # fmt: skip


def run_core(n: int) -> dict[str, object]:
    from floodwall.enrich.campaigns import cluster_campaigns

    fuzzy = _fuzzy_pool(max(n // 200, 10), 2)
    started = time.perf_counter()
    result = cluster_campaigns(lambda: synthetic_items(n, 1, fuzzy))  # type: ignore[arg-type, return-value]
    return {
        "seconds": time.perf_counter() - started,
        "items": result.items,
        "keys": result.keys,
        "campaigns": len(result.campaigns),
        "too_common": len(result.too_common),
        "fuzzy_pairs": result.fuzzy_pairs,
    }


def fill_store(data: Path, n: int) -> None:
    from floodwall.store.db import open_store

    rng = random.Random(3)
    with open_store(data) as store:
        batch: list[tuple[object, ...]] = []
        for i in range(n):
            ip = _ip(rng)
            obs = []
            if rng.random() < 0.3:
                obs.append({"kind": "domain", "value": f"x.d{rng.randrange(50_000)}.com"})
            if rng.random() < 0.1:
                obs.append({"kind": "sha256", "value": f"{rng.randrange(100_000):064x}"})
            finding = json.dumps({"id": "sigma.x", "observables": obs})
            batch.append((f"{i:032x}", f"2026-05-{1 + i % 28:02d}T00:00:00+00:00",
                          f"2026-05-{1 + i % 28:02d}T00:00:00Z", f"h{i % 5000}", finding, ip,
                          _asn(rng)))  # fmt: skip
            if len(batch) == 50_000 or i == n - 1:
                with store.write() as conn:
                    conn.executemany(
                        "INSERT INTO alerts (id, created, timestamp, host, level, severity,"
                        " rule_id, rule_title, attack, finding, source_ip, asn, origin, country)"
                        " VALUES (?, ?, ?, ?, 'high', 3, 'sigma.x', 't', '[\"T1110\"]', ?, ?, ?,"
                        " 'abroad', 'RU')",
                        batch,
                    )
                batch.clear()


def run_store(data: Path) -> dict[str, object]:
    from floodwall.enrich.campaign_keys import load_campaign_keyer
    from floodwall.store.campaigns import CampaignStore
    from floodwall.store.db import open_store

    started = time.perf_counter()
    with open_store(data) as store:
        result = CampaignStore(store, load_campaign_keyer()).build(since="2000-01-01")
    return {
        "seconds": time.perf_counter() - started,
        "items": result.items,
        "keys": result.keys,
        "campaigns": len(result.campaigns),
        "too_common": len(result.too_common),
    }


def child(args: list[str]) -> dict[str, object]:
    """Run one phase in a fresh process; add its peak RSS."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True,
        cwd=ROOT,
    )  # fmt: skip
    return dict(json.loads(out.stdout.splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--skip-store", action="store_true")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        phase = args.child[0]
        figures = (
            run_core(int(args.child[1])) if phase == "core" else run_store(Path(args.child[1]))
        )
        usage = resource.getrusage(resource.RUSAGE_SELF)
        figures["peak_rss_mb"] = usage.ru_maxrss / 1024
        # CPU seconds too: on a shared machine wall time includes waiting for a core.
        figures["cpu_seconds"] = usage.ru_utime + usage.ru_stime
        print(json.dumps(figures))
        return
    n = args.items
    core = child(["core", str(n)])
    print(f"core:  {n:,} items in {core['seconds']:.1f} s ({n / core['seconds']:,.0f} items/s,"
          f" {core['cpu_seconds']:.1f} CPU-s for the whole process),"
          f" peak RSS {core['peak_rss_mb']:.0f} MB; {core['keys']:,} keys,"
          f" {core['campaigns']:,} campaigns, {core['too_common']:,} keys too common,"
          f" {core['fuzzy_pairs']:,} TLSH pairs")  # fmt: skip
    if args.skip_store:
        return
    with tempfile.TemporaryDirectory(prefix="bench-campaigns-") as tmp:
        data = Path(tmp) / "data"
        started = time.perf_counter()
        fill_store(data, n)
        size = os.path.getsize(data / "floodwall.db") / 2**20
        print(f"(store filled with {n:,} alerts in {time.perf_counter() - started:.0f} s,"
              f" {size:.0f} MB; not measured)")  # fmt: skip
        store = child(["store", str(data)])
        rate = n / float(str(store["seconds"]))
        print(
              f"store: campaigns build over {n:,} alerts in {store['seconds']:.1f} s"
              f" ({rate:,.0f} alerts/s; {store['cpu_seconds']:.1f} CPU-s),"
              f" peak RSS {store['peak_rss_mb']:.0f} MB;"
              f" {store['campaigns']:,} campaigns, {store['too_common']:,} keys too common"
        )  # fmt: skip


if __name__ == "__main__":
    main()
