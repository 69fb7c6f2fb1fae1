"""Mail detection and speed on the dev corpora (issue 3). Prints figures; asserts nothing.

Runs ``floodwall mail scan --format jsonl`` over ``../shared/data/mail/phishing_pot``
(phishing), ``spamassassin_ham`` (ham) and ``rspamd_test_messages`` (edge cases), and
prints: the share of each corpus flagged (tag or worse), how often each symbol fires
per corpus, and messages per CPU-second (the child's user+system time).

Usage::

    .venv/bin/python bench/bench_mail.py [--limit N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mail"
CORPORA = ("phishing_pot", "spamassassin_ham", "spamassassin_spam", "rspamd_test_messages")


def run(corpus: Path, limit: int | None) -> tuple[list[dict[str, object]], float, float]:
    """Scan a corpus in a child process; return its results, CPU seconds and wall seconds."""
    files = sorted(
        p
        for p in corpus.rglob("*")
        if p.is_file() and not p.name.startswith((".", "LICENSE", "README"))
    )[:limit]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "floodwall", "mail", "scan", "--format", "jsonl", *map(str, files)],
        capture_output=True,
        text=True,
        env={**os.environ},
        check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    results = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    if out.returncode not in (0, 1):
        print(f"  {corpus.name}: exit {out.returncode}: {out.stderr[-500:]}", file=sys.stderr)
    return results, cpu, wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, help="messages per corpus (default: all)")
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"corpora not found at {SHARED}", file=sys.stderr)
        return 2
    firing: dict[str, Counter[str]] = {}
    print(
        f"{'corpus':24} {'messages':>8} {'flagged':>8} {'share':>7} {'held':>6} {'msg/CPU-s':>10}"
    )
    for name in CORPORA:
        results, cpu, _wall = run(SHARED / name, args.limit)
        flagged = sum(1 for r in results if r["verdict"] != "accept")
        held = sum(1 for r in results if r["verdict"] in ("quarantine", "reject"))
        rate = len(results) / cpu if cpu else 0.0
        share = 100 * flagged / max(len(results), 1)
        print(f"{name:24} {len(results):8,} {flagged:8,} {share:6.1f}% {held:6,} {rate:10,.0f}")
        firing[name] = Counter(s["id"] for r in results for s in r["symbols"])  # type: ignore[index,union-attr]
    symbols = sorted({s for c in firing.values() for s in c})
    print()
    print(f"{'symbol':34}" + "".join(f"{n[:16]:>18}" for n in CORPORA))
    for s in symbols:
        print(f"{s:34}" + "".join(f"{firing[n][s]:18,}" for n in CORPORA))
    print("\npeer: rspamd is not run by this benchmark yet (issue 3 asks for it).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
