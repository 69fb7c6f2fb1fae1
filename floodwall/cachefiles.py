"""Derived files in the cache directory: marked when used, pruned when long unused.

Compiled rule sets and Hyperscan databases are keyed by what they were built from, so
every rule update or upgrade leaves the previous ones behind (a few MB each; a
developer's cache reached 500 MB in a day). A file's mtime is set each time it is
used; whenever a new one is written, files of its kind unused for ``KEEP_DAYS`` are
deleted. A file a concurrent run still needs is at worst rebuilt: every reader
already treats a missing or torn cache file as a cache miss.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

#: Long enough that rule sets switched between (``--rules``) stay; short enough that
#: the leftovers of upgrades do not pile up.
KEEP_DAYS = 30


def mark_used(path: Path) -> None:
    """Record that ``path`` was just used (best effort: a read-only cache still works)."""
    with contextlib.suppress(OSError):
        os.utime(path)


def prune_unused(folder: Path, pattern: str, keep_days: float = KEEP_DAYS) -> int:
    """Delete files in ``folder`` matching ``pattern`` unused for ``keep_days``; how many."""
    cutoff = time.time() - keep_days * 86400
    removed = 0
    try:
        candidates = list(folder.glob(pattern))
    except OSError:
        return 0
    for path in candidates:
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except OSError:
            continue  # gone already, or not ours to delete
    return removed
