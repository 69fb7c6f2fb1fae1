"""Speed benchmark of ``floodwall hunt`` against the Zircolite method, in one run.

What it does, in order (see bench/README.md for why):

1. Generates N Sysmon-like NDJSON events (``make_events.py``) and takes the first M of
   them as the peer's subset.
2. Runs ``floodwall hunt`` on one event twice: the first run may compile the rule
   cache, the second is the fixed start-up cost (interpreter, rules from cache).
3. Runs ``floodwall hunt --workers 1`` and ``--workers 2`` on the N events.
4. Runs ``floodwall hunt --workers 1`` and the peer (``sigma_peer.py``) on the same M
   events; their events/s give the ratio.
5. Runs ``floodwall hunt`` on one large EVTX file of R records (``make_evtx.py``: full
   64 KiB chunks of the step-1 Sysmon mix plus 2% real SigmaHQ regression records),
   with 1 and 2 workers: the realistic EVTX figure.
6. Runs ``floodwall hunt`` on every EVTX file of the SigmaHQ regression data, copied
   K times, with 1 and 2 workers: 1-7 records per file, so this measures per-file cost.

Each run is a fresh process started through ``measure.py``, which records its wall
time and its peak RSS. Nothing is asserted: the machine is shared and noisy, so the
benchmark prints figures and the targets next to them.

Usage::

    python bench/bench_hunt.py [--events N] [--peer-events M] [--evtx-records R]
        [--evtx-repeat K] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

# bench/ is not a package: run as a script, its own folder is first on sys.path.
import cachegrind
from evtx_writer import write as write_evtx
from make_events import write_events
from make_evtx import events as evtx_events
from report import Run, console, report

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PYTHON = sys.executable
SHARED = ROOT.parent / "shared" / "data"
EVTX_DIR = SHARED / "sigmahq" / "regression_data"


def say(message: str) -> None:
    """Progress on stderr, so stdout stays the report."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def measured(
    name: str,
    command: Sequence[str],
    events: int,
    size: int,
    work: Path,
    stdout: Path | None = None,
    live: bool = False,
) -> Run:
    """Run ``command`` through measure.py in a fresh process and collect its figures.

    ``live`` passes the child's stderr through (progress of a long run) instead of
    keeping it for parsing.
    """
    slug = re.sub(r"\W+", "_", name).strip("_")
    result, errors = work / f"{slug}.result.json", work / f"{slug}.stderr"
    wrapper = [PYTHON, str(BENCH / "measure.py"), "--result", str(result)]
    if not live:
        wrapper += ["--stderr", str(errors)]
    if stdout:
        wrapper += ["--stdout", str(stdout)]
    subprocess.run([*wrapper, "--", *command], check=True, cwd=ROOT)
    figures = json.loads(result.read_text(encoding="utf-8"))
    run = Run(
        name=name,
        events=events,
        bytes=size,
        wall=figures["wall_seconds"],
        rss_mb=figures["peak_tree_rss_mb"],
        returncode=figures["returncode"],
        stderr="" if live else errors.read_text(encoding="utf-8", errors="replace"),
    )
    status = "ok" if run.ok else f"FAILED (exit {run.returncode})"
    say(f"{name}: {run.wall:.2f}s, {run.eps:,.0f} events/s, {run.rss_mb:.0f} MB, {status}")
    if not run.ok:
        say("  stderr: " + run.stderr.strip()[-800:])
    return run


def hunt(paths: Sequence[Path], workers: int, fmt: str = "jsonl") -> list[str]:
    """The hunt command line the issue names, run as a module of the venv's Python."""
    return [
        PYTHON,
        "-m",
        "floodwall",
        "hunt",
        "--no-store",
        "--format",
        fmt,
        "--workers",
        str(workers),
        *map(str, paths),
    ]


# --- inputs ------------------------------------------------------------------------


def make_inputs(work: Path, events: int, peer_events: int, seed: int) -> tuple[Path, Path, Path]:
    """The full events file, the peer's subset (its first lines) and a one-event file."""
    full = work / f"events-{events}-seed{seed}.ndjson"
    if not full.exists():  # a kept --workdir reuses the file: same seed, same bytes
        say(f"generating {events:,} events ...")
        write_events(full, events, seed)
    subset, one = work / f"peer-{peer_events}.ndjson", work / "one.ndjson"
    with full.open("rb") as src, subset.open("wb") as dst, one.open("wb") as single:
        for number, line in enumerate(src):
            if number >= peer_events:
                break
            dst.write(line)
            if number == 0:
                single.write(line)
    return full, subset, one


def make_evtx(work: Path, repeat: int) -> tuple[list[Path], int, int]:
    """Copy the regression EVTX files ``repeat`` times; return (dirs, events, bytes).

    Copies are hard links where the file system allows (same bytes, no disk churn),
    otherwise real copies. Events are counted once, by parsing each file with the
    evtx package, and multiplied by ``repeat``.
    """
    import evtx

    sources = sorted(EVTX_DIR.rglob("*.evtx"))
    if not sources:
        raise FileNotFoundError(f"no EVTX files under {EVTX_DIR}")
    per_copy = 0
    for path in sources:
        try:
            per_copy += sum(1 for _ in evtx.PyEvtxParser(str(path)).records())
        except (OSError, RuntimeError):
            continue  # an unreadable file contributes no events to the count
    size = sum(p.stat().st_size for p in sources)
    root = work / "evtx"
    shutil.rmtree(root, ignore_errors=True)
    dirs = []
    for copy in range(repeat):
        target = root / f"copy{copy:03d}"
        for path in sources:
            dest = target / path.relative_to(EVTX_DIR)
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, dest)
            except OSError:
                shutil.copyfile(path, dest)
        dirs.append(target)
    return dirs, per_copy * repeat, size * repeat


def make_big_evtx(work: Path, records: int, seed: int) -> tuple[Path, int, int]:
    """One large EVTX file of ``records`` records (kept in a kept --workdir)."""
    path = work / f"big-{records}-seed{seed}.evtx"
    if not path.exists():
        say(f"writing a {records:,}-record EVTX file ...")
        write_evtx(path, evtx_events(records, seed))
    return path, records, path.stat().st_size


def count_lines(path: Path) -> int:
    """Number of lines (findings, for jsonl output)."""
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


def line_count(path: Path) -> int:
    """Events in an NDJSON file (non-empty lines)."""
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


# --- main --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Command line: run every step and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, help="events for floodwall (default 200,000)")
    parser.add_argument(
        "--peer-events", type=int, help="events for the peer and the ratio (default 20,000)"
    )
    parser.add_argument(
        "--evtx-records", type=int, help="records of the large EVTX file (default 100,000)"
    )
    parser.add_argument("--evtx-repeat", type=int, help="copies of the EVTX set (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="event generator seed")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes (20,000 / 2,000 / 10,000 / 3) for a smoke run",
    )
    parser.add_argument(
        "--workdir", type=Path, help="keep inputs and outputs here (default: a temp dir)"
    )
    parser.add_argument("--skip-peer", action="store_true", help="floodwall runs only")
    parser.add_argument(
        "--cachegrind", type=int, metavar="N", default=0,
        help="also valgrind's cachegrind count per NDJSON event, from N and 3N events "
        "(load-independent; ~1 min for N=5000)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    events = args.events or (20_000 if args.quick else 200_000)
    peer_events = min(args.peer_events or (2_000 if args.quick else 20_000), events)
    repeat = args.evtx_repeat or (3 if args.quick else 20)
    evtx_records = args.evtx_records or (10_000 if args.quick else 100_000)

    work = args.workdir or Path(tempfile.mkdtemp(prefix="floodwall-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        code = _run(work, events, peer_events, (evtx_records, repeat), args.seed, args.skip_peer)
        if args.cachegrind:
            _cachegrind(work, args.cachegrind, args.seed)
        return code
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


def _run(
    work: Path, events: int, peer_events: int, evtx: tuple[int, int], seed: int, skip_peer: bool
) -> int:
    full, subset, one = make_inputs(work, events, peer_events, seed)
    full_n, subset_n = line_count(full), line_count(subset)
    full_b, subset_b, one_b = full.stat().st_size, subset.stat().st_size, one.stat().st_size
    say(f"inputs: {full_n:,} events ({full_b / 1e6:.1f} MB), peer subset {subset_n:,}")

    first = measured("start-up, first run", hunt([one], 1), 1, one_b, work)
    startup = measured("start-up", hunt([one], 1), 1, one_b, work)
    if not startup.ok:
        say("floodwall hunt does not run; see its stderr above")
    runs: dict[str, Run] = {}
    for workers in (1, 2):
        name = f"ndjson full, {workers} worker{'s' if workers > 1 else ''}"
        runs[name] = measured(name, hunt([full], workers), full_n, full_b, work)
    findings = work / "subset-findings.jsonl"
    name = "ndjson subset, 1 worker"
    # Findings go to a file here (not /dev/null) so their number can be reported.
    runs[name] = measured(name, hunt([subset], 1), subset_n, subset_b, work, stdout=findings)
    subset_findings = count_lines(findings)

    peer: dict = {
        "events_per_second": 0.0,
        "rule_files": 0,
        "rules_converted": 0,
        "conversion_failures": {},
        "query_failures": {},
        "load_seconds": 0.0,
        "query_seconds": 0.0,
        "conversion_seconds": 0.0,
        "matches": 0,
        "rules_matched": 0,
    }
    if not skip_peer:
        say(f"peer on {subset_n:,} events (slow: thousands of SQL queries) ...")
        peer_json = work / "peer.json"
        command = [PYTHON, str(BENCH / "sigma_peer.py"), str(subset), "--json", str(peer_json)]
        run = measured("peer (SQLite), subset", command, subset_n, subset_b, work, live=True)
        if run.returncode == 0:
            peer = json.loads(peer_json.read_text(encoding="utf-8"))
            # The peer's own clock excludes conversion (Zircolite ships converted rules),
            # so its row shows load + query time, not the process's wall time.
            run.wall = peer["seconds"]
        run.tool = "peer"
        runs[run.name] = run

    evtx_records, repeat = evtx
    big, big_events, big_bytes = make_big_evtx(work, evtx_records, seed)
    for workers in (1, 2):
        name = f"evtx, {workers} worker{'s' if workers > 1 else ''}"
        runs[name] = measured(name, hunt([big], workers), big_events, big_bytes, work)
    say(f"copying the EVTX regression set × {repeat} ...")
    dirs, small_events, small_bytes = make_evtx(work, repeat)
    evtx_files = sum(1 for d in dirs for _ in d.rglob("*.evtx"))
    for workers in (1, 2):
        name = f"evtx small files ×{repeat}, {workers} worker{'s' if workers > 1 else ''}"
        runs[name] = measured(name, hunt(dirs, workers), small_events, small_bytes, work)

    console.print()
    report(runs, peer, startup, first, evtx_files)
    console.print(
        f"EVTX rows: one file of {big_events:,} records ({big_bytes / 1e6:,.1f} MB, "
        "bench/make_evtx.py: the NDJSON runs' Sysmon mix in full 64 KiB chunks, 2% real "
        "SigmaHQ regression records); the 'small files' rows hunt the regression set's "
        "1-7-record files, so they measure per-file cost."
    )
    console.print(
        f"floodwall wrote {subset_findings:,} findings for the subset. The peer matches more "
        "rows: with no pipeline it ignores each rule's logsource (see bench/README.md)."
    )
    return 0 if all(run.ok for run in runs.values()) else 1


def _cachegrind(work: Path, n: int, seed: int) -> None:
    """Instructions, estimated cycles and simulated last-level misses per event of
    ``hunt --workers 1`` (the slope from N to 3N of the same events), which do not
    change with the load on the machine: the figure to compare two versions by."""
    if not cachegrind.is_available():
        console.print("cachegrind: not run (valgrind is not installed)")
        return
    full = work / f"events-{3 * n}-seed{seed}.ndjson"
    write_events(full, 3 * n, seed)
    small = work / f"events-{n}-seed{seed}.ndjson"
    write_events(small, n, seed)
    say(f"cachegrind: {n:,} and {3 * n:,} events ...")
    # A fixed hash seed: dict and set order, and so the count, repeat from run to run.
    os.environ["PYTHONHASHSEED"] = "0"
    counts = cachegrind.per_event(lambda path: hunt([path], 1), small, full, 2 * n, work)
    console.print(
        f"cachegrind (load-independent), NDJSON hunt, 1 worker: {counts.instructions:,.0f} "
        f"instructions, {counts.cycles:,.0f} estimated cycles and "
        f"{counts.lli_misses + counts.lld_misses:,.1f} last-level misses per event "
        f"({n:,} vs {3 * n:,} events)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
