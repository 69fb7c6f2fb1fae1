"""Thin adapter over Hyperscan: the prefilter's anchor database and rule regexes.

Compiling ~17,000 anchor patterns, or a Unicode-aware regex, takes from tens of
milliseconds to seconds, so compiled databases are kept in the cache directory under the hash of
what they were compiled from, and read back on the next run.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import hyperscan

from floodwall.cachefiles import mark_used, prune_unused

_RE_FLAGS = {re.IGNORECASE: hyperscan.HS_FLAG_CASELESS, re.MULTILINE: hyperscan.HS_FLAG_MULTILINE,
             re.DOTALL: hyperscan.HS_FLAG_DOTALL}  # fmt: skip


class HyperscanCache:
    """Compiles Hyperscan databases, keeping them in ``cache_dir`` when one is given."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.cache_dir = cache_dir

    def _load_or_build(self, key_text: str, build: Callable[[], Any]) -> Any:
        key = hashlib.sha256(key_text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        path = self.cache_dir / "hyperscan" / f"{key}.hsdb" if self.cache_dir else None
        refused = path.with_suffix(".refused") if path is not None else None
        if refused is not None and refused.exists():
            return None  # Hyperscan refused it before (after trying for seconds, at times)
        if path is not None and path.exists():
            try:
                db = hyperscan.loadb(path.read_bytes(), mode=hyperscan.HS_MODE_BLOCK)
                # A deserialized database has no scratch space until it is given one.
                db.scratch = hyperscan.Scratch(db)
                mark_used(path)
                return db
            except Exception:  # a torn or foreign file: rebuild it
                path.unlink(missing_ok=True)
        db = build()
        if refused is not None and db is None:
            refused.parent.mkdir(parents=True, exist_ok=True)
            refused.touch()
        if path is not None and db is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(hyperscan.dumpb(db))
            os.replace(tmp, path)
            prune_unused(path.parent, "*.hsdb")
        return db

    def patterns(self, patterns: Sequence[bytes]) -> Any:
        """A database reporting each pattern (id = its index) at most once per scan."""
        key = "patterns\0" + "\0".join(p.hex() for p in patterns)
        return self.keyed_patterns(key, lambda: patterns)

    def keyed_patterns(
        self, key: str, make: Callable[[], Sequence[bytes]], caseless: bool = False
    ) -> Any:
        """Like ``patterns``, for a caller that can name its patterns by a cheaper ``key``
        (which must change whenever they would): ``make`` runs only on a cache miss.
        ``caseless`` folds ASCII case."""
        flags = hyperscan.HS_FLAG_SINGLEMATCH | (hyperscan.HS_FLAG_CASELESS if caseless else 0)

        def build() -> Any:
            patterns = make()
            db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            db.compile(
                expressions=list(patterns),
                ids=list(range(len(patterns))),
                elements=len(patterns),
                flags=flags,
            )
            return db

        return self._load_or_build(f"{key}\0{flags}" if caseless else key, build)

    def regex(self, pattern: str, flags: int) -> Any | None:
        """A database for one regex with ``re``'s flags, or None if Hyperscan refuses it
        (back-references, look-arounds)."""

        def build() -> Any | None:
            hs_flags = hyperscan.HS_FLAG_UTF8 | hyperscan.HS_FLAG_UCP
            hs_flags |= hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_ALLOWEMPTY
            for py, hs in _RE_FLAGS.items():
                if flags & py:
                    hs_flags |= hs
            db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            try:
                db.compile(expressions=[pattern.encode("utf-8")], ids=[0], elements=1,
                           flags=[hs_flags])  # fmt: skip
            except (hyperscan.error, UnicodeEncodeError):
                return None
            return db

        return self._load_or_build(f"regex\0{flags}\0{pattern}", build)


def has_match(db: Any, data: bytes) -> bool:
    """Whether any pattern of ``db`` (``HyperscanCache.patterns``) occurs in ``data``;
    the scan stops at the first match."""

    def stop(pattern: int, start: int, end: int, flags: int, context: Any) -> bool:
        return True  # a true return ends the scan (hs_scan's callback contract)

    try:
        db.scan(data, match_event_handler=stop)
    except hyperscan.ScanTerminated:
        return True
    return False
