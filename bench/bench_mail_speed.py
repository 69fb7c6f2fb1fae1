"""Mail scanning speed: floodwall against Debian's rspamd on the same messages, same run.

Prints messages per CPU-second for both and their ratio. Asserts nothing.

- **floodwall**: ``python -m floodwall mail scan --format jsonl --no-store --data TMP``
  over the corpus files in a child process, every detector on (ClamAV only where a
  clamd answers: it says so on stderr, shown here). Its CPU time is the child's
  user+system time from ``getrusage(RUSAGE_CHILDREN)`` (scan workers included, they are
  its children). Start-up (interpreter, imports, rules) is measured on its own with one
  message and shown both in and out of the figure.
- **rspamd**: a private ``rspamd`` on loopback with every network check off
  (``rspamd_peer.py`` says what and why), fed the same files over HTTP ``/checkv2``.
  Its CPU time is that of its own processes only (``/proc`` through psutil), read
  before and after the corpus; its start-up and rule compilation are outside it.

Usage::

    .venv/bin/python bench/bench_mail_speed.py                # all of phishing_pot
    .venv/bin/python bench/bench_mail_speed.py --limit 300    # a quick run
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rspamd_peer import (  # bench/ is not a package: imported from its folder
    NOT_INSTALLED,
    RspamdPeer,
    corpus_files,
    describe,
    rspamd_binary,
    version,
)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "mail"


def floodwall_scan(files: list[Path], data_dir: Path) -> tuple[Counter[str], float, float, str]:
    """Verdict counts, CPU seconds and wall seconds of one ``mail scan`` child, and its
    stderr's last lines."""
    command = [
        sys.executable, "-m", "floodwall", "mail", "scan", "--format", "jsonl", "--no-store",
        "--data", str(data_dir), *map(str, files),
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    verdicts = Counter(
        str(json.loads(line)["verdict"]) for line in out.stdout.splitlines() if line.strip()
    )
    if out.returncode not in (0, 1):
        print(f"floodwall exited {out.returncode}: {out.stderr[-800:]}", file=sys.stderr)
    tail = "\n".join(out.stderr.strip().splitlines()[-3:])
    return verdicts, cpu, wall, tail


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=SHARED / "phishing_pot")
    parser.add_argument("--limit", type=int, help="first N messages (default: all)")
    parser.add_argument("--skip-peer", action="store_true", help="floodwall only")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        print(f"corpus not found: {args.corpus} (the shared mail corpora)", file=sys.stderr)
        return 2
    files = corpus_files(args.corpus, args.limit)
    size = sum(p.stat().st_size for p in files)
    print(f"corpus: {args.corpus.name}, {len(files):,} messages, {size / 2**20:.1f} MiB;"
          f" {os.cpu_count()} CPUs (shared)")  # fmt: skip

    with tempfile.TemporaryDirectory(prefix="fw-speed-") as tmp:
        data = Path(tmp)
        _, startup_cpu, _, _ = floodwall_scan(files[:1], data)
        verdicts, cpu, wall, tail = floodwall_scan(files, data)
    scanned = sum(verdicts.values())
    net = max(cpu - startup_cpu, 1e-9)
    fw_rate, fw_net = scanned / cpu, scanned / net
    print(f"floodwall: {scanned:,} scanned in {cpu:.2f} CPU-s ({wall:.1f} s wall):"
          f" {fw_rate:,.0f} msg/CPU-s; start-up {startup_cpu:.2f} CPU-s, net of it"
          f" {fw_net:,.0f} msg/CPU-s")  # fmt: skip
    print(f"  verdicts {dict(sorted(verdicts.items()))}")
    if tail:
        print("  stderr: " + tail.replace("\n", "\n          "))

    if args.skip_peer:
        return 0
    binary = rspamd_binary()
    if binary is None:
        print(f"peer: {NOT_INSTALLED}")
        return 0
    with RspamdPeer(binary) as peer:
        run = peer.scan(files)
        queries = dict(peer.dns.names)
        print(f"rspamd: {version(binary)}, started in {peer.start_seconds:.1f} s; {describe()}")
    print(f"rspamd: {len(run.verdicts):,} scanned in {run.cpu_seconds:.2f} CPU-s"
          f" ({run.wall_seconds:.1f} s wall): {run.rate:,.0f} msg/CPU-s;"
          f" flagged {run.flagged:,}; errors {dict(run.errors) or 0};"
          f" DNS queries it tried (answered by nobody) {sum(queries.values())}")  # fmt: skip
    if run.rate:
        print(f"ratio floodwall / rspamd: {fw_rate / run.rate:.2f}x with floodwall's start-up,"
              f" {fw_net / run.rate:.2f}x net of it")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
