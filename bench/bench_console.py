"""The console on a large store: dashboard server time and alert paging (keyset vs OFFSET).

    .venv/bin/python bench/bench_console.py [--alerts 1000000] [--messages 300000]
        [--days 30] [--runs 30] [--db DIR] [--page-size 50] [--deep-page 10000] [--without-indexes]

Fills a store as ``bench_figures.py`` does (same seeded generator: ``--alerts`` log
alerts and ``--messages`` mail verdicts over ``--days`` days), or reuses ``--db DIR``.
Starts the real console (uvicorn on loopback) and calls it over HTTP with an API token:

- ``GET /api/dashboard`` for the last day: its daily figures, their 30-day trend, and
  the day's top hosts, recipients, campaigns and statuses. Server time is the app's own
  ``Server-Timing`` header; client time adds loopback HTTP and JSON parsing.
- ``GET /api/alerts`` page 1 and page ``--deep-page`` (keyset cursor), unfiltered and
  filtered by status; the peer is the same page fetched with LIMIT/OFFSET, compared
  with the keyset query in SQL alone (the HTTP and JSON costs are the same for both).

Prints p50/p95/max; asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from floodwall.console.alert_query import AlertFilter, encode_cursor, list_alerts
from floodwall.console.app import create_app
from floodwall.console.context import utc_now
from floodwall.console.roles import Role
from floodwall.console.tokens import TokenStore
from floodwall.console.users import UserStore
from floodwall.settings import Settings
from floodwall.store.db import open_store
from floodwall.store.migrations import split_statements

INDEXES = (
    Path(__file__).resolve().parents[1]
    / "floodwall"
    / "store"
    / "migrations"
    / "0008_figures_indexes.sql"
)


def _bench_figures() -> ModuleType:
    """bench_figures.py's generator, so both benchmarks measure the same store."""
    spec = importlib.util.spec_from_file_location(
        "bench_figures", Path(__file__).with_name("bench_figures.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def show(label: str, times: list[float]) -> None:
    print(
        f"{label:<46} p50 {statistics.median(times):8.1f} ms   p95 {_p95(times):8.1f} ms"
        f"   max {max(times):8.1f} ms"
    )


def timed_http(
    client: httpx.Client, runs: int, path: str, params: dict[str, Any]
) -> tuple[list[float], list[float]]:
    """(server ms, client ms) of ``runs`` GETs."""
    server, wall = [], []
    for _ in range(runs):
        t = time.perf_counter()
        r = client.get(path, params=params)
        wall.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
        r.json()
        server.append(float(r.headers["server-timing"].split("dur=")[1]))
    return server, wall


def timed_sql(runs: int, fn: Callable[[], Any]) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--alerts", type=int, default=1_000_000)
    ap.add_argument("--messages", type=int, default=300_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--page-size", type=int, default=50)
    ap.add_argument("--deep-page", type=int, default=10_000)
    ap.add_argument("--db", type=Path, help="keep the store here and reuse it")
    ap.add_argument(
        "--without-indexes",
        action="store_true",
        help="drop the covering indexes of migration 0008, to compare",
    )
    args = ap.parse_args()
    bf = _bench_figures()
    sys.path.insert(0, str(Path(__file__).parent))
    from console_server import serve_in_thread

    with tempfile.TemporaryDirectory() as tmp:
        data = args.db or Path(tmp)
        store = open_store(data)
        (have,) = store.connection.execute("SELECT count(*) FROM alerts").fetchone()
        if have == 0:
            t = time.perf_counter()
            bf.fill(store, args.alerts, args.messages, args.days, args.seed)
            took = time.perf_counter() - t
            print(f"filled {args.alerts:,} alerts, {args.messages:,} messages over "
                  f"{args.days} days in {took:.1f} s", file=sys.stderr)  # fmt: skip
        _covering_indexes(store, wanted=not args.without_indexes)
        (alerts,) = store.connection.execute("SELECT count(*) FROM alerts").fetchone()
        print(f"store: {alerts:,} alerts over {args.days} days; covering indexes (migration 0008):"
              f" {'no' if args.without_indexes else 'yes'}")  # fmt: skip
        users = UserStore(store, _cheap_hasher(), utc_now)
        admin = users.get("bench") or users.create(
            "bench", Role.ADMIN, "bench password 123", actor="bench"
        )
        token = TokenStore(store, utc_now).create(
            admin.id, "bench", "read", expires_days=1, actor="bench"
        )
        last_day = bf.FIRST_DAY + timedelta(days=args.days - 1)
        app = create_app(Settings(data_dir=data))
        headers = {"Authorization": f"Bearer {token.token}"}
        with (
            serve_in_thread(app) as base,
            httpx.Client(base_url=base, headers=headers, timeout=120) as client,
        ):
            dash = {"day": last_day.isoformat(), "days": args.days}
            cold_server, cold_wall = timed_http(client, 1, "/api/dashboard", dash)
            print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
            print(f"dashboard, first call (cold cache): server {cold_server[0]:.1f} ms, "
                  f"client {cold_wall[0]:.1f} ms")  # fmt: skip
            server, wall = timed_http(client, args.runs, "/api/dashboard", dash)
            show("dashboard (day + 30-day trend + tops), server", server)
            show("dashboard, client (loopback HTTP + JSON)", wall)
            body = client.get("/api/dashboard", params=dash).json()
            print(f"  {last_day}: seen {body['figures']['seen']:,}, blocked "
                  f"{body['figures']['blocked']:,}, got through {body['figures']['got_through']:,}"
                  f" ({body['figures']['log_alerts']:,} log alerts that day)")  # fmt: skip

            size, deep = args.page_size, args.deep_page
            offset = size * (deep - 1)
            conn = store.connection
            for label, where, params in (
                ("all alerts", "", {}),
                ("status=open", " WHERE status = 'open'", {"status": "open"}),
            ):
                row = conn.execute(
                    f"SELECT created, id FROM alerts{where} ORDER BY created DESC, id DESC"
                    " LIMIT 1 OFFSET ?",
                    (offset - 1,),
                ).fetchone()
                if row is None:
                    print(f"{label}: fewer than {offset:,} alerts; no page {deep:,}")
                    continue
                first, _ = timed_http(client, args.runs, "/api/alerts", {**params, "limit": size})
                cursor = encode_cursor(str(row[0]), str(row[1]))
                deep_t, _ = timed_http(
                    client, args.runs, "/api/alerts", {**params, "limit": size, "cursor": cursor}
                )
                show(f"alerts {label}: page 1 (keyset), server", first)
                show(f"alerts {label}: page {deep:,} (keyset), server", deep_t)
                flt = AlertFilter(status=params.get("status"))
                keyset_sql = timed_sql(
                    args.runs, lambda f=flt, c=cursor: list_alerts(conn, f, limit=size, cursor=c)
                )
                peer = timed_sql(
                    max(3, args.runs // 5),
                    lambda w=where: conn.execute(
                        f"SELECT id FROM alerts{w} ORDER BY created DESC, id DESC LIMIT ? OFFSET ?",
                        (size, offset),
                    ).fetchall(),
                )
                show("  same page by keyset, SQL only", keyset_sql)
                show("  peer: same page by LIMIT/OFFSET, SQL only", peer)
                deep_ratio = statistics.median(deep_t) / statistics.median(first)
                peer_ratio = statistics.median(peer) / statistics.median(keyset_sql)
                print(f"  page {deep:,} / page 1 (keyset, server): {deep_ratio:.2f}x; "
                      f"OFFSET / keyset at page {deep:,} (SQL): {peer_ratio:.1f}x")  # fmt: skip
        store.close()
    return 0


def _covering_indexes(store: Any, *, wanted: bool) -> None:
    """Build or drop the covering indexes that bench_figures.py measures."""
    conn = store.connection
    has = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'alerts_figures'").fetchone()
    if wanted and not has:
        t = time.perf_counter()
        for stmt in split_statements(INDEXES.read_text("utf-8")):
            conn.execute(stmt)
        conn.execute("ANALYZE")
        print(f"covering indexes built in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    elif has and not wanted:
        for name in ("alerts_figures", "alerts_figures_undated", "messages_figures"):
            conn.execute(f"DROP INDEX IF EXISTS {name}")


def _cheap_hasher() -> Any:
    import argon2

    from floodwall.console.passwords import PasswordHasherAdapter

    return PasswordHasherAdapter(argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


if __name__ == "__main__":
    sys.exit(main())
