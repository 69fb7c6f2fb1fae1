"""What in-line intel matching costs a hunt, with a million indicators loaded.

1. Indicators. ``--indicators N`` (1,000,000) synthetic but realistic indicators: IPv4
   addresses in public space, CIDRs, IPv6, domains (a third with subdomains), URLs,
   MD5/SHA-1/SHA-256 digests and email addresses, from five feeds. A few observables
   of the events are planted among them so that hits cost what hits cost.
2. Build. The columnar tables, then the matcher; time and RSS growth. Then the same
   through the store: import into a fresh SQLite store, export for the matcher, write
   the compact cache, and load from the cache (what a hunt start pays).
3. Events. ``make_events.py`` Sysmon-like events (or ``--events-file``); their
   observables come from ``floodwall.enrich.intel.observe``. Extraction and matching
   (``IntelMatcher.match_many`` per 5,000-event batch) are timed apart, on events
   already decoded (the hunt decodes them anyway).
4. Hunt. ``python -m floodwall hunt --no-store --format jsonl --workers 1`` on the same
   events, in the same run (or ``--hunt-eps`` to give its events/s); its per-event time
   is the denominator of the share.
5. The real hunt with and without intel, in the same run: the same command against the
   store of step 2 (a million indicators, matcher from the cache), once as is and once
   with ``--no-intel``, alternated for ``--rounds`` rounds, best CPU time kept. The
   difference is everything intel costs a hunt: extraction, matching, the findings and
   their output.

Usage::

    python bench/bench_intel.py [--indicators 1000000] [--events 100000] [--skip-store]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import psutil
from make_events import write_events

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from floodwall.detect.mail.reference import REFERENCE  # noqa: E402
from floodwall.enrich.intel import cache  # noqa: E402
from floodwall.enrich.intel.indicator import Indicator, IndicatorType  # noqa: E402
from floodwall.enrich.intel.matcher import IntelMatcher  # noqa: E402
from floodwall.enrich.intel.observe import ObservableExtractor  # noqa: E402
from floodwall.enrich.intel.suffixes import PublicSuffixes  # noqa: E402
from floodwall.enrich.intel.tables import IndicatorTables  # noqa: E402
from floodwall.store.db import open_store  # noqa: E402
from floodwall.store.intel import IntelStore  # noqa: E402

FEEDS = ("misp-circl", "ipsum", "otx", "abuse-ch", "internal")
TLDS = ("com", "net", "org", "ru", "xyz", "top", "info", "cn", "io", "biz", "online", "de")
WORDS = ("secure", "login", "update", "mail", "cdn", "api", "cloud", "pay", "account", "srv")
MIX: tuple[tuple[IndicatorType | str, float], ...] = (
    ("ip", 0.45), ("cidr", 0.03), ("ip6", 0.01), ("domain", 0.22), ("url", 0.12),
    ("md5", 0.05), ("sha1", 0.04), ("sha256", 0.06), ("email", 0.02),
)  # fmt: skip
HEX_DIGITS = {"md5": 32, "sha1": 40, "sha256": 64}
BATCH_EVENTS = 5000


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def rss_mb() -> float:
    gc.collect()
    return float(psutil.Process().memory_info().rss) / 1e6


def _public_v4(rng: random.Random) -> str:
    while True:
        a = rng.randint(1, 223)
        if a not in (10, 127, 172, 192, 100, 169):
            return f"{a}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def _domain(rng: random.Random) -> str:
    n = rng.randint(5, 14)
    name = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))
    if rng.random() < 0.3:
        name = f"{rng.choice(WORDS)}-{name}"
    base = f"{name}.{rng.choice(TLDS)}"
    return f"{rng.choice(WORDS)}.{base}" if rng.random() < 0.33 else base


def synthetic(count: int, seed: int, planted: list[tuple[str, str]]) -> Iterator[Indicator]:
    """``count`` indicators in the normalized form the parsers produce."""
    rng = random.Random(seed)
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    for kind, value in planted:
        itype: IndicatorType = "domain" if kind == "domain" else kind  # type: ignore[assignment]
        yield Indicator(itype, value.lower(), "internal", 90)
    for _ in range(count - len(planted)):
        kind = rng.choices(kinds, weights)[0]
        source = rng.choice(FEEDS)
        if kind == "ip":
            value = _public_v4(rng)
        elif kind == "cidr":
            bits = rng.randint(16, 29)
            first = int.from_bytes(bytes(map(int, _public_v4(rng).split("."))), "big")
            first = first >> (32 - bits) << (32 - bits)
            value = ".".join(str(b) for b in first.to_bytes(4, "big")) + f"/{bits}"
        elif kind == "ip6":
            kind, value = (
                "ip",
                f"2a0{rng.randint(0, 9)}:{rng.getrandbits(16):x}::{rng.getrandbits(16):x}",
            )
        elif kind == "domain":
            value = _domain(rng)
        elif kind == "url":
            path = "/".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))
            value = f"http{'s' if rng.random() < 0.5 else ''}://{_domain(rng)}/{path}.php"
        elif kind == "email":
            value = f"{rng.choice(WORDS)}{rng.randint(1, 999)}@{_domain(rng)}"
        else:
            digits = HEX_DIGITS[kind]
            value = f"{rng.getrandbits(4 * digits):0{digits}x}"
        yield Indicator(kind, value, source, rng.randint(20, 100))  # type: ignore[arg-type]


def read_lines(path: Path, limit: int) -> list[bytes]:
    with path.open("rb") as fh:
        return [line for line, _ in zip(fh, range(limit), strict=False)]


def event_pass(
    lines: list[bytes], extract: ObservableExtractor | None, matcher: IntelMatcher | None
) -> tuple[float, float, float, float, int, int]:
    """Decode each event (as the hunt does), then extract its observables right away,
    while the event is in cache, and match them per batch of events.

    Returns (wall s, CPU s, match wall s, match CPU s, observables, hits).
    """
    decode = msgspec.json.Decoder().decode
    pending: list[tuple[str, str]] = []
    observables = hits = 0
    match_wall = match_cpu = 0.0
    wall, cpu = time.perf_counter(), time.process_time()
    for number, line in enumerate(lines, 1):
        event = decode(line)
        if extract is not None:
            pending.extend(extract(event))
        if matcher is not None and (number % BATCH_EVENTS == 0 or number == len(lines)):
            w, c = time.perf_counter(), time.process_time()
            hits += len(matcher.match_many(pending))
            match_wall += time.perf_counter() - w
            match_cpu += time.process_time() - c
        if number % BATCH_EVENTS == 0 or number == len(lines):
            observables += len(pending)
            pending = []
    return (
        time.perf_counter() - wall, time.process_time() - cpu, match_wall, match_cpu,
        observables, hits,
    )  # fmt: skip


def footprint_mb(matcher: IntelMatcher) -> float:
    """Bytes the matcher holds: strings, dicts, NumPy arrays (not allocator slack)."""
    t = matcher.tables
    size = sys.getsizeof(t.values) + sum(sys.getsizeof(v) for v in t.values)
    size += t.types.nbytes + t.confidence.nbytes + t.source_ref.nbytes
    for d in (matcher._domains, matcher._urls, matcher._emails, matcher._hashes):
        size += sys.getsizeof(d)
    size += matcher.ips.v4.starts.nbytes + matcher.ips.v4.covers.nbytes
    return size / 1e6


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def hunt_eps(path: Path, events: int, extra: tuple[str, ...] = ()) -> tuple[float, float, float]:
    """Hunt's events/s on ``path``: by wall time, net of a one-event run's start-up, and
    by CPU time net of start-up (steadier on a shared machine)."""
    command = [sys.executable, "-m", "floodwall", "hunt", "--no-store", "--format", "jsonl"]
    command += ["--workers", "1", *extra]
    one = path.with_name("one-event.ndjson")
    with path.open("rb") as src:
        one.write_bytes(src.readline())
    walls, cpus = [], []
    for target in (one, one, path):
        started, cpu = time.perf_counter(), _children_cpu()
        subprocess.run(
            [*command, str(target)], cwd=ROOT, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, check=False,
        )  # fmt: skip
        walls.append(time.perf_counter() - started)
        cpus.append(_children_cpu() - cpu)
    net_wall = max(walls[2] - walls[1], 1e-9)
    return events / walls[2], events / net_wall, events / max(cpus[2] - cpus[1], 1e-9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--indicators", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--events-file", type=Path, help="NDJSON events instead of generating")
    parser.add_argument("--hunt-eps", type=float, help="hunt events/s instead of measuring it")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-store", action="store_true", help="no store import / cache")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes (median kept)")
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-intel-"))
    work.mkdir(parents=True, exist_ok=True)

    events_path = args.events_file
    if events_path is None:
        events_path = work / f"events-{args.events}-seed{args.seed}.ndjson"
        if not events_path.exists():
            say(f"generating {args.events:,} events ...")
            write_events(events_path, args.events, args.seed)
    lines = read_lines(events_path, args.events)
    n = len(lines)
    extract = ObservableExtractor()
    decoder = msgspec.json.Decoder()
    distinct = sorted({o for line in lines for o in extract(decoder.decode(line))})
    planted = random.Random(args.seed).sample(distinct, max(1, len(distinct) // 200))
    say(f"{n:,} events, {len(distinct):,} distinct observables, {len(planted)} planted")

    suffixes = PublicSuffixes.from_lines(
        (REFERENCE / "public_suffix_list.dat").read_text("utf-8").splitlines()
    )
    started = time.perf_counter()
    indicators = list(synthetic(args.indicators, args.seed, planted))
    gen_s = time.perf_counter() - started
    base = rss_mb()
    started = time.perf_counter()
    tables = IndicatorTables.from_indicators(indicators)
    tables_s = time.perf_counter() - started
    del indicators
    started = time.perf_counter()
    matcher = IntelMatcher(tables, suffixes=suffixes)
    build_s = time.perf_counter() - started
    built = rss_mb()
    say(f"{len(tables):,} indicators: tables {tables_s:.2f}s, matcher {build_s:.2f}s")
    gc.freeze()  # the indicators are long-lived: keep the collector from rescanning them

    # Decode only, then decode + extract + match: the difference is intel's cost.
    rounds = []
    for _ in range(args.rounds):
        base_wall, base_cpu, *_ = event_pass(lines, None, None)
        wall, cpu, m_wall, m_cpu, observables, hits = event_pass(lines, extract, matcher)
        rounds.append((wall - base_wall - m_wall, cpu - base_cpu - m_cpu, m_wall, m_cpu))
    rounds.sort(key=lambda r: r[1] + r[3])
    extract_s, extract_cpu, match_s, match_cpu = rounds[len(rounds) // 2]  # the median round

    store_rows: list[tuple[str, str]] = []
    if not args.skip_store:
        store_rows = bench_store(work, args, planted, suffixes)
        store_rows += real_hunt(work / "store", events_path, n, args.rounds)

    if args.hunt_eps:
        eps = eps_net = eps_cpu = args.hunt_eps
    else:
        say("hunt --workers 1 on the same events ...")
        eps, eps_net, eps_cpu = hunt_eps(events_path, n)
    hunt_us, hunt_net_us, hunt_cpu_us = 1e6 / eps, 1e6 / eps_net, 1e6 / eps_cpu
    cost_us = (extract_s + match_s) * 1e6 / n
    cost_cpu_us = (extract_cpu + match_cpu) * 1e6 / n
    print(f"\n## intel matching ({datetime.now(UTC):%Y-%m-%d}, {len(tables):,} indicators)\n")
    print("| figure | value |")
    print("|---|---|")
    per_obs = match_s * 1e6 / max(observables, 1)
    rows = [
        ("indicators (distinct)", f"{len(tables):,} (generated in {gen_s:.1f} s)"),
        (
            "tables + matcher build",
            f"{tables_s:.2f} s + {build_s:.2f} s; holds {footprint_mb(matcher):.0f} MB "
            f"(RSS +{built - base:.0f} MB incl. allocator slack)",
        ),
        ("events / observables", f"{n:,} / {observables:,} ({observables / n:.2f} per event)"),
        ("hits (planted 1 in 200 distinct)", f"{hits:,}"),
        (
            "extract µs/event (wall / CPU, median round)",
            f"{extract_s * 1e6 / n:.2f} / {extract_cpu * 1e6 / n:.2f}",
        ),
        (
            "match µs/event (wall / CPU)",
            f"{match_s * 1e6 / n:.2f} / {match_cpu * 1e6 / n:.2f} ({per_obs:.2f} µs/observable)",
        ),
        (
            "hunt --workers 1",
            f"{eps:,.0f} ev/s wall ({hunt_us:.1f} µs/event); net of start-up {eps_net:,.0f} "
            f"ev/s ({hunt_net_us:.1f} µs); CPU net of start-up {hunt_cpu_us:.1f} µs/event",
        ),
        (
            "intel share of hunt time (target < 10%)",
            f"{cost_us / hunt_us:.1%} of wall, {cost_us / hunt_net_us:.1%} of wall net of "
            f"start-up, {cost_cpu_us / hunt_cpu_us:.1%} of CPU",
        ),
        *store_rows,
    ]
    for name, value in rows:
        print(f"| {name} | {value} |")
    return 0


def bench_store(
    work: Path, args: argparse.Namespace, planted: list[tuple[str, str]], suffixes: PublicSuffixes
) -> list[tuple[str, str]]:
    """Import into a fresh store, export, cache, and load from the cache."""
    data = work / "store"
    if data.exists():
        for f in data.iterdir():
            f.unlink()
    with open_store(data) as store:
        intel = IntelStore(store)
        say(f"importing {args.indicators:,} indicators into a fresh store ...")
        started = time.perf_counter()
        counts = intel.add(synthetic(args.indicators, args.seed, planted))
        import_s = time.perf_counter() - started
        cache_dir = work / "cache"
        started = time.perf_counter()
        _, hit = cache.load_matcher(intel, store.path, cache_dir, suffixes=suffixes)
        cold_s = time.perf_counter() - started
        started = time.perf_counter()
        _, hit2 = cache.load_matcher(intel, store.path, cache_dir, suffixes=suffixes)
        warm_s = time.perf_counter() - started
        size = cache.cache_path(cache_dir, store.path).stat().st_size / 1e6
    rate = counts.received / import_s
    return [
        ("store import (no warninglists)", f"{import_s:.1f} s = {rate:,.0f} indicators/s"),
        ("matcher from store, cache cold", f"{cold_s:.2f} s (cache used: {hit})"),
        ("matcher from cache (hunt start)", f"{warm_s:.2f} s (used: {hit2}, {size:.0f} MB file)"),
    ]


def real_hunt(data: Path, events_path: Path, n: int, rounds: int) -> list[tuple[str, str]]:
    """``floodwall hunt`` on the events against the million-indicator store, with intel
    and with ``--no-intel``, alternated; the best CPU time net of start-up of each."""
    base = ("--data", str(data))
    say("real hunt with and without intel (warming the matcher cache) ...")
    hunt_eps(events_path, 1, base)  # builds the compact cache once
    best: dict[str, tuple[float, float, float]] = {}
    for _ in range(rounds):
        for name, extra in (("with", base), ("without", (*base, "--no-intel"))):
            eps = hunt_eps(events_path, n, extra)
            if name not in best or eps[2] > best[name][2]:
                best[name] = eps
    with_us, without_us = 1e6 / best["with"][2], 1e6 / best["without"][2]
    wall_with, wall_without = 1e6 / best["with"][1], 1e6 / best["without"][1]
    cpu_share = (with_us - without_us) / without_us
    wall_share = (wall_with - wall_without) / wall_without
    return [
        (
            "real hunt, CPU µs/event net of start-up (without / with intel)",
            f"{without_us:.1f} / {with_us:.1f}: intel costs {cpu_share:.1%} of hunt "
            "throughput (target < 10%)",
        ),
        (
            "real hunt, wall µs/event net of start-up (without / with intel)",
            f"{wall_without:.1f} / {wall_with:.1f} ({wall_share:.1%})",
        ),
        *steady_state(data, events_path, n, rounds),
    ]


def _hunt_cpu(path: Path, extra: tuple[str, ...]) -> float:
    command = [sys.executable, "-m", "floodwall", "hunt", "--no-store", "--format", "jsonl"]
    cpu = _children_cpu()
    subprocess.run(
        [*command, "--workers", "1", *extra, str(path)], cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    return _children_cpu() - cpu


def steady_state(data: Path, events_path: Path, n: int, rounds: int) -> list[tuple[str, str]]:
    """The per-event cost once everything is loaded: the CPU time of the second half of
    the events (a hunt of all of them minus a hunt of the first half), with and without
    intel. One-off loads that wait for the first hit (warninglists, the GeoIP tables for
    an intel finding's origin) fall in both runs and cancel out, as start-up does."""
    half = events_path.with_name("first-half.ndjson")
    with events_path.open("rb") as src, half.open("wb") as dst:
        for _, line in zip(range(n // 2), src, strict=False):
            dst.write(line)
    base = ("--data", str(data))
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, extra in (("with", base), ("without", (*base, "--no-intel"))):
            slope = (_hunt_cpu(events_path, extra) - _hunt_cpu(half, extra)) / (n - n // 2)
            best[name] = min(best.get(name, slope), slope)
    with_us, without_us = best["with"] * 1e6, best["without"] * 1e6
    return [
        (
            "real hunt, steady-state CPU µs/event (second half; without / with intel)",
            f"{without_us:.1f} / {with_us:.1f}: intel costs "
            f"{(with_us - without_us) / without_us:.1%} (target < 10%)",
        )
    ]


if __name__ == "__main__":
    sys.exit(main())
