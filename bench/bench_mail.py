"""Mail detection and speed on the corpora (issue 3). Prints figures; asserts nothing.

Each corpus in ``../shared/data/mail`` (phishing_pot, spamassassin_ham, spamassassin_spam,
rspamd_test_messages) is split once, by the file name alone: a message whose
``sha256(name)`` ends in an even byte is in the **dev** half (looked at while tuning),
the others are **held out** (only measured). The split does not depend on content, so
tuning on dev cannot leak into it.

For each half the benchmark runs ``floodwall mail scan --format jsonl --no-store`` in a
child process and prints: messages, the share flagged (tag or worse), the share held
(quarantine or reject), the share that would still be flagged with the header-auth
symbols left out (the ham corpus predates Authentication-Results, so those symbols can
never fire on it: this column shows how much of the phishing figure rests on signals
the ham cannot test), and messages per CPU-second (the child's user+system time, start-up
included). Then how often each symbol fires, per corpus and half.

Usage::

    .venv/bin/python bench/bench_mail.py [--limit N] [--half dev|held-out|both]
        [--list-flagged CORPUS]

``--list-flagged spamassassin_ham`` also prints each flagged message of that corpus's
**dev** half with its symbols (the false positives to study); the held-out half is never
listed, so it stays unseen.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "mail"
CORPORA = ("phishing_pot", "spamassassin_ham", "spamassassin_spam", "rspamd_test_messages")
HALVES = ("dev", "held-out")
SHORT = {"phishing_pot": "phish", "spamassassin_ham": "ham", "spamassassin_spam": "spam"}
#: Symbols read from Authentication-Results / Received-SPF headers written by receiving hosts.
AUTH_SYMBOLS = frozenset({"mail.auth_fail"})


def half_of(name: str) -> str:
    """``dev`` or ``held-out``, from the file name only (deterministic, content-blind)."""
    return "dev" if hashlib.sha256(name.encode("utf-8")).digest()[-1] % 2 == 0 else "held-out"


def corpus_files(corpus: Path, half: str, limit: int | None) -> list[Path]:
    """The messages of one half of ``corpus``, sorted, at most ``limit``."""
    files = sorted(
        p
        for p in corpus.rglob("*")
        if p.is_file()
        and not p.name.startswith((".", "LICENSE", "README"))
        and half_of(p.name) == half
    )
    return files[:limit]


def run(files: list[Path]) -> tuple[list[dict[str, object]], float]:
    """Scan ``files`` in a child process; return its results and CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [sys.executable, "-m", "floodwall", "mail", "scan", "--format", "jsonl", "--no-store"]
        + [str(p) for p in files],
        capture_output=True,
        text=True,
        env={**os.environ},
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    results = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    if out.returncode not in (0, 1):
        print(f"  exit {out.returncode}: {out.stderr[-500:]}", file=sys.stderr)
    return results, cpu


def tag_threshold() -> float:
    """The shipped policy's tag threshold, to recompute verdicts without auth symbols."""
    doc = tomllib.loads((ROOT / "floodwall" / "respond" / "policy.toml").read_text("utf-8"))
    return float(doc["thresholds"]["tag"])


def is_flagged_without_auth(result: dict[str, object], tag: float) -> bool:
    """Whether the message is still flagged once the header-auth symbols weigh nothing."""
    symbols: list[dict[str, object]] = result["symbols"]  # type: ignore[assignment]
    if any(s["id"] == "mail.unscannable" for s in symbols) and result["verdict"] != "accept":
        return True
    rest = sum(float(s["score"]) for s in symbols if s["id"] not in AUTH_SYMBOLS)  # type: ignore[arg-type]
    return rest >= tag


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--limit", type=int, help="messages per corpus and half (default: all)")
    parser.add_argument("--half", choices=[*HALVES, "both"], default="both")
    parser.add_argument(
        "--list-flagged", choices=CORPORA, help="list the flagged dev messages of this corpus"
    )
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"corpora not found at {SHARED}", file=sys.stderr)
        return 2
    halves = HALVES if args.half == "both" else (args.half,)
    tag = tag_threshold()
    firing: dict[tuple[str, str], Counter[str]] = {}
    listed: list[dict[str, object]] = []
    print(
        f"{'corpus':22} {'half':9} {'messages':>8} {'flagged':>8} {'held':>7}"
        f" {'no-auth':>8} {'msg/CPU-s':>10}"
    )
    for name in CORPORA:
        for half in halves:
            files = corpus_files(SHARED / name, half, args.limit)
            results, cpu = run(files)
            n = max(len(results), 1)
            flagged = sum(1 for r in results if r["verdict"] != "accept")
            held = sum(1 for r in results if r["verdict"] in ("quarantine", "reject"))
            no_auth = sum(1 for r in results if is_flagged_without_auth(r, tag))
            rate = len(results) / cpu if cpu else 0.0
            print(
                f"{name:22} {half:9} {len(results):8,} {100 * flagged / n:7.1f}%"
                f" {100 * held / n:6.1f}% {100 * no_auth / n:7.1f}% {rate:10,.0f}"
            )
            if name == args.list_flagged and half == "dev":
                listed = [r for r in results if r["verdict"] != "accept"]
            firing[name, half] = Counter(
                s["id"]  # type: ignore[index]
                for r in results
                for s in r["symbols"]  # type: ignore[attr-defined]
            )
    columns = [(n, h) for n in CORPORA for h in halves]
    symbols = sorted({s for c in firing.values() for s in c})
    print("\nsymbol firing (messages), per corpus and half (d = dev, h = held-out)")
    print(f"{'symbol':34}" + "".join(f"{SHORT.get(n, n[:6]) + ':' + h[0]:>10}" for n, h in columns))
    for s in symbols:
        print(f"{s:34}" + "".join(f"{firing[c][s]:10,}" for c in columns))
    if args.list_flagged:
        print(f"\nflagged messages of {args.list_flagged} (dev half): {len(listed)}")
        for r in listed:
            symbols = ", ".join(f"{s['id']} {s['score']}" for s in r["symbols"])  # type: ignore[attr-defined]
            print(f"  {Path(str(r['path'])).name}  {r['verdict']} {r['score']}: {symbols}")
    print("\npeer: rspamd is not run by this benchmark.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
