"""Retro-hunt speed: ``--rows`` archived observables (100 million) against ``--indicators``
new indicators (100,000), the target being under 2 minutes on this machine.

1. Archive. Generated with DuckDB straight into the archive's partition layout
   (``date=YYYY-MM-DD/part-<uuid>.parquet``, zstd, the columns ``store/archive.py``
   writes), over ``--days`` dates, and cached under ``--workdir``: a re-run with the same
   figures reuses it. The mix: IPv4 36%, IPv6 4%, domains 20% (a third of them
   subdomains), URLs 15%, mail addresses 10%, MD5 3%, SHA-1 3%, SHA-256 9%. Values come
   from per-kind pools with a skewed draw (a few values are very common, most are rare),
   as telemetry is.
2. Indicators. IPv4 and IPv6 addresses, IPv4 /16-/24 and IPv6 /32-/64 CIDRs, domains,
   URLs, addresses and hashes, imported into a fresh store (``IntelStore.add``) like a
   feed. About 1% of them are planted: values (or networks, or parent domains) that the
   archive holds.
3. Retro-hunt. ``run_retrohunt`` as ``floodwall intel retrohunt`` runs it: the indicators
   of the latest import, loaded from the store, searched in the whole archive, hits
   checked against the warninglists, one alert per hit upserted. Wall seconds and peak
   RSS of this process (DuckDB works inside it) are printed; no peer (Elastic, Wazuh and
   MISP cannot search archived telemetry offline).

Usage::

    python bench/bench_retrohunt.py [--rows 100000000] [--indicators 100000]
        [--workdir /tmp/fw-retro] [--memory-limit 2GB] [--threads 2]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from floodwall.enrich.intel.indicator import Indicator
from floodwall.store.db import open_store
from floodwall.store.intel import IntelStore

START = date(2026, 6, 1)
# Pool sizes per kind: distinct values the archive draws from (skewed draw: id = n * r^3).
POOLS = {
    "ip4": 4_000_000, "ip6": 400_000, "domain": 1_000_000, "url": 3_000_000,
    "email": 600_000, "md5": 2_000_000, "sha1": 2_000_000, "sha256": 5_000_000,
}  # fmt: skip
# Cumulative share (per mille) of each kind in the archive.
MIX = (
    ("ip4", 360), ("ip6", 400), ("domain", 600), ("url", 750), ("email", 850),
    ("md5", 880), ("sha1", 910), ("sha256", 1000),
)  # fmt: skip
TLDS = ("com", "net", "org", "de", "ru", "cn", "io", "info", "co.uk", "xyz")

# SQL for the value of pool id ``p`` (a BIGINT) of each kind; the same text generates the
# archive and, in Python (``_value``), the planted indicators.
_IP4 = "((hash(p * 7 + 1) % 3221225472) + 16777216)::UBIGINT"  # 1.0.0.0 .. 192.255.255.255
_SQL_VALUE = {
    "ip4": (
        f"concat_ws('.', ({_IP4} >> 24), (({_IP4} >> 16) & 255), (({_IP4} >> 8) & 255), "
        f"({_IP4} & 255))"
    ),
    "ip6": "printf('2a%02x:%x:%x:%x::%x', (p % 250) + 1, (p // 250) % 65535 + 1, "
    "(hash(p) % 65535) + 1, (hash(p + 1) % 65535) + 1, (p % 9999) + 1)",
    "domain": "concat(CASE WHEN p % 3 = 0 THEN 'www.' ELSE '' END, 'site', p::VARCHAR, "
    "'-', (hash(p) % 1000)::VARCHAR, '.', "
    "['com','net','org','de','ru','cn','io','info','co.uk','xyz'][(p % 10) + 1])",
    "url": "concat('https://host', (p // 3)::VARCHAR, '.example', (p % 7)::VARCHAR, "
    "'.com/path/', (hash(p) % 100000)::VARCHAR, '/index.php?id=', p::VARCHAR)",
    "email": "concat('user', p::VARCHAR, '@mail', (p % 5000)::VARCHAR, '.example.net')",
    "md5": "md5(p::VARCHAR)",
    "sha1": "sha1(p::VARCHAR)",
    "sha256": "sha256(p::VARCHAR)",
}


def _kind_case() -> str:
    parts = [f"WHEN m < {limit} THEN '{kind}'" for kind, limit in MIX]
    return "CASE " + " ".join(parts) + " END"


def _value_case() -> str:
    parts = [f"WHEN k = '{kind}' THEN {_SQL_VALUE[kind]}" for kind in POOLS]
    return "CASE " + " ".join(parts) + " END"


def generate(root: Path, rows: int, days: int, threads: int, memory: str) -> None:
    """The archive, one ``COPY`` per date (bounded memory), in the archive's layout."""
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}; SET memory_limit = '{memory}'")
    con.execute("SET preserve_insertion_order = false; SET enable_progress_bar = false")
    per_day = rows // days
    pool_case = "CASE " + " ".join(f"WHEN k = '{k}' THEN {n}" for k, n in POOLS.items()) + " END"
    for d in range(days):
        day = START + timedelta(days=d)
        n = per_day if d < days - 1 else rows - per_day * (days - 1)
        folder = root / f"date={day.isoformat()}"
        shutil.rmtree(folder, ignore_errors=True)
        base = d * per_day
        rows_sql = f"""
        WITH r AS (
            SELECT i, (hash(i * 31 + 7) % 1000)::INTEGER AS m,
                   (hash(i * 17 + 3) % 1000000) / 1000000.0 AS u
            FROM range({base}, {base + n}) t(i)
        ), k AS (SELECT i, {_kind_case()} AS k, u FROM r),
        p AS (SELECT i, k, floor({pool_case} * u * u * u)::BIGINT AS p FROM k),
        v AS (
            SELECT i, k, p, {_value_case()} AS value FROM p
        )
        SELECT
            TIMESTAMPTZ '{day.isoformat()} 00:00:00+00' + to_microseconds(
                (hash(i) % 86400000000)::BIGINT) AS ts,
            CASE WHEN k IN ('md5', 'sha1', 'sha256', 'email') AND i % 2 = 0
                 THEN 'mail' ELSE 'logs' END AS source,
            'host-' || (hash(i * 3) % 2000)::VARCHAR AS host,
            CASE WHEN k IN ('ip4', 'ip6') THEN 'ip' ELSE k END AS kind,
            value,
            CASE WHEN k IN ('md5', 'sha1', 'sha256', 'email') AND i % 2 = 0
                 THEN 'message:' || i::VARCHAR
                 ELSE '/var/log/sysmon-' || '{day.isoformat()}' || '.evtx#' || i::VARCHAR
            END AS ref,
            CASE WHEN k = 'ip4' THEN ({_IP4})::UINTEGER END AS ip4,
            CASE WHEN k = 'ip6' THEN
                ((((p % 250) + 1 + 10752)::UBIGINT << 48)
                 | ((((p // 250) % 65535) + 1)::UBIGINT << 32)
                 | (((hash(p) % 65535) + 1)::UBIGINT << 16)
                 | ((hash(p + 1) % 65535) + 1)::UBIGINT) END AS ip6_hi,
            CASE WHEN k = 'ip6' THEN ((p % 9999) + 1)::UBIGINT END AS ip6_lo,
            md5_number_lower(value) AS vh,
            CASE WHEN k = 'domain' THEN value
                 WHEN k = 'url' THEN split_part(split_part(value, '://', 2), '/', 1)
                 WHEN k = 'email' THEN split_part(value, '@', 2) END AS dom
        FROM v
        """
        sql = f"""
        SELECT * EXCLUDE (labels),
            CASE WHEN len(labels) > 2 THEN array_to_string(labels[-2:], '.') END AS dom2,
            CASE WHEN len(labels) > 3 THEN array_to_string(labels[-3:], '.') END AS dom3
        FROM (SELECT *, string_split(dom, '.') AS labels FROM ({rows_sql}))
        ORDER BY kind, value
        """
        folder.mkdir(parents=True)
        part = folder / f"part-{uuid.uuid4().hex}.parquet"
        tmp = folder / f".{part.name}.tmp"
        con.execute(
            f"COPY ({sql}) TO '{tmp}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 32768)"
        )
        tmp.rename(part)
        print(f"  {day} {n:,} rows", file=sys.stderr, flush=True)
    con.close()


def _value(kind: str, p: int) -> str:
    con = duckdb.connect()
    (v,) = con.execute(f"SELECT {_SQL_VALUE[kind]} FROM (SELECT {p}::BIGINT AS p)").fetchone()
    con.close()
    return str(v)


def indicators(n: int, seed: int = 7) -> tuple[list[Indicator], int]:
    """``n`` indicators, about 1% planted; returns them and the planted count."""
    rng = random.Random(seed)
    con = duckdb.connect()
    now = datetime.now(UTC)
    out: list[Indicator] = []
    planted = 0

    def ind(itype: str, value: str) -> None:
        out.append(
            Indicator(
                type=itype,
                value=value,
                source="bench-feed",
                confidence=80,
                first_seen=now,
                last_seen=now,
            )
        )  # type: ignore[arg-type]

    # Planted: values drawn from the low (common) and middle ids of each pool.
    plant = max(1, n // 100)
    shares = {"ip4": 0.3, "ip6": 0.05, "domain": 0.2, "url": 0.15, "email": 0.1,
              "md5": 0.05, "sha1": 0.05, "sha256": 0.1}  # fmt: skip
    for kind, share in shares.items():
        k = max(1, int(plant * share))
        ids = [rng.randrange(POOLS[kind] // 50) for _ in range(k)]
        vals = con.execute(
            f"SELECT {_SQL_VALUE[kind]} FROM (SELECT unnest($ids)::BIGINT AS p)", {"ids": ids}
        ).fetchall()
        for (v,) in vals:
            if kind == "ip4" and rng.random() < 0.2:
                a, b, c, _ = v.split(".")
                ind("cidr", f"{a}.{b}.{c}.0/24")
            elif kind == "ip6":
                ind("cidr" if rng.random() < 0.3 else "ip",
                    v.rsplit("::", 1)[0].rsplit(":", 2)[0] + "::/32"
                    if rng.random() < 0.3 else v)  # fmt: skip
            elif kind == "domain" and v.startswith("www.") and rng.random() < 0.5:
                ind("domain", v[4:])  # the parent: matches www.<it> by subdomain
            elif kind in ("md5", "sha1", "sha256"):
                ind(kind, v)
            else:
                ind({"ip4": "ip"}.get(kind, kind), v)
            planted += 1
    # The rest: values the archive does not hold (other address space, other names).
    rest = n - len(out)
    for i in range(rest):
        r = i % 20
        if r < 6:
            ind("ip", f"203.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}")
        elif r == 6:
            k = i // 20  # distinct /28s in 198.18.0.0/15 (RFC 2544 benchmarking space)
            ind("cidr", f"198.{18 + k // 4096}.{(k // 16) % 256}.{(k % 16) * 16}/28")
        elif r == 7:
            ind("ip", f"2001:db8:{rng.randrange(1, 65535):x}::{rng.randrange(1, 65535):x}")
        elif r < 11:
            ind("domain", f"bad{i}-{rng.randrange(10**6)}.{rng.choice(TLDS)}")
        elif r < 13:
            ind("url", f"http://evil{i}.example.org/gate.php?id={rng.randrange(10**6)}")
        elif r == 13:
            ind("email", f"phish{i}@bad{rng.randrange(1000)}.example.org")
        elif r < 16:
            ind("md5", f"{rng.getrandbits(128):032x}")
        elif r < 17:
            ind("sha1", f"{rng.getrandbits(160):040x}")
        else:
            ind("sha256", f"{rng.getrandbits(256):064x}")
    con.close()
    # Distinct (type, value) pairs, topped up with random SHA-256 digests: n indicators.
    unique = list({(x.type, x.value): x for x in out}.values())
    while len(unique) < n:
        unique.append(Indicator(type="sha256", value=f"{rng.getrandbits(256):064x}",
                                source="bench-feed", confidence=80))  # fmt: skip
    return unique, planted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=100_000_000)
    ap.add_argument("--indicators", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/fw-retro"))
    ap.add_argument("--memory-limit", default="2GB")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    from floodwall.enrich.intel.retrorun import RetroHuntOptions, run_retrohunt

    root = args.workdir / f"archive-{args.rows}-{args.days}" / "observables"
    marker = root.parent / "complete"
    if not marker.is_file():
        print(f"generating {args.rows:,} rows over {args.days} days in {root} ...", flush=True)
        t0 = time.perf_counter()
        generate(root, args.rows, args.days, args.threads, args.memory_limit)
        marker.write_text("ok\n")
        print(f"generated in {time.perf_counter() - t0:.1f} s")
    size = sum(p.stat().st_size for p in root.rglob("*.parquet"))
    print(f"archive: {root} ({size / 1e9:.2f} GB on disk)")

    data = args.workdir / f"store-{args.indicators}"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    items, planted = indicators(args.indicators)
    t0 = time.perf_counter()
    with open_store(data) as store:
        IntelStore(store).add(items)
    print(f"indicators: {len(items):,} ({planted:,} planted), imported in "
          f"{time.perf_counter() - t0:.1f} s")  # fmt: skip

    options = RetroHuntOptions(memory_limit=args.memory_limit, threads=args.threads)
    t0 = time.perf_counter()
    with open_store(data) as store:
        report = run_retrohunt(store, root, options=options)
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"rows:        {report.rows:,}")
    print(f"indicators:  {report.indicators:,}")
    print(f"hits:        {len(report.hits):,} (indicator x value; planted {planted:,})")
    print(f"suppressed:  {len(report.suppressed):,} (warninglisted values)")
    print(f"alerts:      {report.alerts_new:,} new, {report.alerts_updated:,} updated")
    print(f"wall:        {wall:.1f} s (search {report.search_seconds:.1f} s)")
    print(f"peak RSS:    {rss:,.0f} MB")
    load = os.getloadavg()
    print(f"machine:     {os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} "
          f"(shared: other work slows every figure)")  # fmt: skip


if __name__ == "__main__":
    main()
