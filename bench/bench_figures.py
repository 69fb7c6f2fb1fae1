"""Daily figures on a large store: ``daily_figures`` of one day and a 30-day ``figures_range``.

    .venv/bin/python bench/bench_figures.py [--alerts 1000000] [--messages 300000]
        [--days 30] [--runs 20] [--db DIR]

Fills a fresh store (or reuses ``--db DIR`` when it already holds the rows) with
``--alerts`` log alerts and ``--messages`` mail verdicts spread over ``--days`` days,
through the shipped migrations and indexes. Rows come from a seeded generator: 2,000
hosts, 400 rules, a few countries and every origin class, so folding has duplicates
to fold. Prints the p50/p95/max wall time of each query over ``--runs`` runs; the
console's dashboard needs one day in under 300 ms p95. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from floodwall.store.db import Store, open_store
from floodwall.store.figures import DayTotals, TotalsCache, daily_figures, figures_range
from floodwall.store.migrations import split_statements

INDEXES = (
    Path(__file__).resolve().parents[1]
    / "floodwall"
    / "store"
    / "migrations"
    / "0008_figures_indexes.sql"
)

FIRST_DAY = date(2026, 10, 1)
COUNTRIES = ("DE", "US", "RU", "CN", "NL", "FR", None)
ORIGINS = ("domestic", "abroad", "abroad", "unknown", "obscured", "internal")
TECHNIQUES = ('["T1059.001"]', '["T1566.001","T1204.002"]', '["T1003.001"]', "[]", '["T1105"]')


def fill(store: Store, alerts: int, messages: int, days: int, seed: int) -> None:
    rng = random.Random(seed)
    span = days * 86400
    t0 = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day)
    finding = json.dumps({"id": "x", "title": "t", "severity": 3})

    def stamp(sec: int) -> str:
        return (t0 + timedelta(seconds=sec)).isoformat(timespec="milliseconds") + "Z"

    batch = 50_000
    for lo in range(0, alerts, batch):
        rows: list[tuple[Any, ...]] = []
        for i in range(lo, min(lo + batch, alerts)):
            ts = stamp(rng.randrange(span))
            cc = rng.choice(COUNTRIES)
            rows.append((
                f"{i:032x}", ts, ts, f"host-{rng.randrange(2000):04d}", "high", 4,
                f"sigma.rule-{rng.randrange(400):03d}", "rule", rng.choice(TECHNIQUES), finding,
                cc, rng.choice(ORIGINS) if cc else "unknown",
            ))  # fmt: skip
        with store.write() as conn:
            conn.executemany(
                "INSERT INTO alerts (id, created, timestamp, host, level, severity, rule_id,"
                " rule_title, attack, finding, country, origin)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
    for lo in range(0, messages, batch):
        rows = []
        for i in range(lo, min(lo + batch, messages)):
            cc = rng.choice(COUNTRIES)
            rows.append((
                f"{i:032x}", stamp(rng.randrange(span)), "gateway", "-", "ab" * 32,
                rng.randint(1, 4), rng.choice(("accept", "accept", "tag", "quarantine", "reject")),
                1.0, cc, rng.choice(ORIGINS) if cc else "unknown", rng.choice(TECHNIQUES),
            ))  # fmt: skip
        with store.write() as conn:
            conn.executemany(
                "INSERT INTO messages (id, scanned, source, path, sha256, recipients, verdict,"
                " score, country, origin, attack) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
    store.connection.execute("ANALYZE")


def add_today(store: Store, day: date, n: int) -> None:
    """Ten new alerts on ``day``, as a live pipeline adds them between two refreshes."""
    ts = f"{day.isoformat()}T12:00:00.000Z"
    rows = [
        (
            f"new{n:06d}{i:02d}{os.urandom(8).hex()}",
            ts,
            ts,
            "host-new",
            "high",
            4,
            "sigma.new",
            "r",
            "[]",
            "{}",
        )
        for i in range(10)
    ]
    with store.write() as conn:
        conn.executemany(
            "INSERT INTO alerts (id, created, timestamp, host, level, severity, rule_id,"
            " rule_title, attack, finding) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def timed(runs: int, fn: Callable[[], Any]) -> list[tuple[float, float]]:
    """Wall and CPU time of each run: CPU time is less disturbed on a shared machine."""
    out = []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        fn()
        out.append((time.perf_counter() - t, time.process_time() - c))
    return out


def show(label: str, runs: list[tuple[float, float]]) -> None:
    def pct(values: list[float], q: float) -> float:
        values = sorted(values)
        return values[min(len(values) - 1, round(q * (len(values) - 1)))] * 1000

    wall, cpu = [w for w, _ in runs], [c for _, c in runs]
    print(
        f"{label:<40} wall p50 {pct(wall, 0.5):7.1f} p95 {pct(wall, 0.95):7.1f} ms"
        f"   cpu p50 {pct(cpu, 0.5):7.1f} p95 {pct(cpu, 0.95):7.1f} ms"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--alerts", type=int, default=1_000_000)
    ap.add_argument("--messages", type=int, default=300_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--db", type=Path, help="keep the store here and reuse it")
    ap.add_argument(
        "--without-indexes",
        action="store_true",
        help="drop the covering indexes of migration 0008, to compare",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        where = args.db or Path(tmp)
        store = open_store(where)
        (have,) = store.connection.execute("SELECT count(*) FROM alerts").fetchone()
        if have == 0:
            t = time.perf_counter()
            fill(store, args.alerts, args.messages, args.days, args.seed)
            took = time.perf_counter() - t
            print(
                f"filled {args.alerts:,} alerts and {args.messages:,} messages over "
                f"{args.days} days in {took:.1f} s",
                file=sys.stderr,
            )
        has = store.connection.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'alerts_figures'"
        ).fetchone()
        if not args.without_indexes and not has:
            t = time.perf_counter()
            for stmt in split_statements(INDEXES.read_text("utf-8")):
                store.connection.execute(stmt)
            store.connection.execute("ANALYZE")
            print(f"indexes built in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        elif has and args.without_indexes:
            for name in ("alerts_figures", "alerts_figures_undated", "messages_figures"):
                store.connection.execute(f"DROP INDEX IF EXISTS {name}")
        print("covering indexes (migration 0008):", "no" if args.without_indexes else "yes")
        (alerts,) = store.connection.execute("SELECT count(*) FROM alerts").fetchone()
        (msgs,) = store.connection.execute("SELECT count(*) FROM messages").fetchone()
        print(f"store: {alerts:,} alerts, {msgs:,} messages, {args.days} days")
        mid = FIRST_DAY + timedelta(days=args.days // 2)
        last = FIRST_DAY + timedelta(days=args.days - 1)
        f = daily_figures(store, mid, home_country="DE")
        print(f"{mid}: seen {f.seen:,} (blocked {f.blocked:,}, got through {f.got_through:,}),"
              f" {f.log_alerts:,} log alerts folded to {f.by_source[1].seen:,}")  # fmt: skip
        show("daily_figures (one day)", timed(args.runs, lambda: daily_figures(store, mid)))
        show(
            f"figures_range ({args.days} days)",
            timed(max(3, args.runs // 4), lambda: figures_range(store, FIRST_DAY, last)),
        )
        # The console: one TotalsCache for the process; between two refreshes the
        # gateway and the pipeline add rows to the last day, which is counted again.
        cache: TotalsCache[DayTotals] = TotalsCache()
        figures_range(store, FIRST_DAY, last, cache=cache)
        counter = iter(range(10**9))

        def refresh() -> None:
            add_today(store, last, next(counter))
            daily_figures(store, last, cache=cache)
            figures_range(store, FIRST_DAY, last, cache=cache)

        show("dashboard refresh (day + cached trend)", timed(args.runs, refresh))
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
