"""Run one command and measure it: wall time, exit code and peak memory.

The benchmark starts every timed run through this small wrapper, in a fresh process,
so that ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` covers that run alone (the counter
only ever grows within a process). That figure is the largest single process of the
run; with ``--workers 2`` the run's memory is the sum of its processes, so the
wrapper also polls the whole process tree with psutil and keeps the peak of the sum.

Wall time runs from just before the child is spawned to just after it is reaped; the
wrapper's own start-up is outside it.

Usage::

    python bench/measure.py --result OUT.json [--stdout FILE] [--stderr FILE] -- CMD ...
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import psutil

POLL_SECONDS = 0.02


def _tree_rss(root: psutil.Process) -> int:
    """Resident bytes of ``root`` and all its descendants (vanished ones count zero)."""
    total = 0
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return total


def measure(command: list[str], stdout: IO[bytes] | int, stderr: IO[bytes] | int) -> dict:
    """Run ``command`` to completion; return wall seconds, exit code and peak RSS (MB)."""
    peak = 0
    done = threading.Event()
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=stdout, stderr=stderr)

    def poll() -> None:
        nonlocal peak
        try:
            root = psutil.Process(child.pid)
        except psutil.Error:
            return
        while not done.is_set():
            peak = max(peak, _tree_rss(root))
            done.wait(POLL_SECONDS)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    returncode = child.wait()
    wall = time.perf_counter() - started
    done.set()
    poller.join()
    # ru_maxrss is in KiB on Linux.
    largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return {
        "command": command,
        "returncode": returncode,
        "wall_seconds": wall,
        "peak_rss_mb": largest / 1e6,
        "peak_tree_rss_mb": max(peak, largest) / 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: measure the command after ``--`` and write the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--result", type=Path, required=True, help="JSON file for the figures")
    parser.add_argument("--stdout", type=Path, help="child's stdout (default: /dev/null)")
    parser.add_argument("--stderr", type=Path, help="child's stderr (default: inherited)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- command and arguments")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    out = args.stdout.open("wb") if args.stdout else subprocess.DEVNULL
    err = args.stderr.open("wb") if args.stderr else None
    try:
        result = measure(command, out, err if err is not None else sys.stderr.fileno())
    finally:
        for handle in (out, err):
            if handle not in (None, subprocess.DEVNULL):
                handle.close()  # type: ignore[union-attr]
    args.result.write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
