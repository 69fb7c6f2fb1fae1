"""A compact on-disk form of the matcher's input, so a hunt starts without re-reading a
million indicators from SQLite and re-parsing every IP.

One uncompressed ``.npz`` (NumPy arrays, no pickle) per store: the values as one
separator-joined UTF-8 blob, the type/confidence/source columns, and the IPv4/IPv6
segments. It is valid while the store's intel generation is unchanged and no included
indicator has expired since it was written; otherwise it is rebuilt and rewritten
(atomically: a temporary file renamed over the old one).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from floodwall.enrich.intel import ipindex
from floodwall.enrich.intel.matcher import (
    CompiledIps,
    IntelMatcher,
    WarninglistLoader,
    compile_ips,
)
from floodwall.enrich.intel.suffixes import PublicSuffixes
from floodwall.enrich.intel.tables import IndicatorTables
from floodwall.enrich.intel.warninglists import WarninglistIndex
from floodwall.store.intel import IntelStore
from floodwall.store.intel_records import iso

FORMAT = 1
_SEP = "\x1f"  # ASCII unit separator: no normalized value contains it


@dataclass(frozen=True, slots=True)
class CacheMeta:
    """What a cache file was built from."""

    generation: int
    next_expiry: str | None
    format: int = FORMAT


def _blob(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def save(path: Path, tables: IndicatorTables, ips: CompiledIps, meta: CacheMeta) -> bool:
    """Write the cache; False (and nothing written) when a value holds the separator."""
    values = list(tables.values)
    if any(_SEP in v for v in values):
        return False
    shared_flat = [m for cover in ips.shared for m in cover]
    shared_len = [len(cover) for cover in ips.shared]
    arrays = {
        "values": _blob(_SEP.join(values)),
        "types": tables.types,
        "confidence": tables.confidence,
        "source_ref": tables.source_ref,
        "source_sets": _blob(json.dumps(tables.source_sets)),
        "v4_starts": ips.v4.starts,
        "v4_covers": ips.v4.covers,
        "v6": _blob(json.dumps([[str(s) for s in ips.v6.starts], ips.v6.covers])),
        "shared_flat": np.array(shared_flat, np.int64),
        "shared_len": np.array(shared_len, np.int64),
        "meta": _blob(json.dumps([meta.generation, meta.next_expiry, meta.format])),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".matcher-", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return True


def load(path: Path) -> tuple[IndicatorTables, CompiledIps, CacheMeta] | None:
    """Read a cache file; None when it is missing, of another format, or damaged."""
    try:
        # Opened here, not by np.load: np.load leaves a damaged file open when it fails.
        with path.open("rb") as fh, np.load(fh, allow_pickle=False) as npz:
            generation, next_expiry, fmt = json.loads(npz["meta"].tobytes())
            if fmt != FORMAT:
                return None
            text = npz["values"].tobytes().decode("utf-8")
            types = npz["types"]
            values = text.split(_SEP) if types.size else []
            if len(values) != types.size:
                return None
            tables = IndicatorTables(
                values=values,
                types=types,
                confidence=npz["confidence"],
                source_ref=npz["source_ref"],
                source_sets=tuple(tuple(s) for s in json.loads(npz["source_sets"].tobytes())),
            )
            starts6, covers6 = json.loads(npz["v6"].tobytes())
            lengths = npz["shared_len"].tolist()
            flat = npz["shared_flat"].tolist()
            shared: list[tuple[int, ...]] = []
            at = 0
            for n in lengths:
                shared.append(tuple(flat[at : at + n]))
                at += n
            ips = CompiledIps(
                ipindex.Segments(npz["v4_starts"], npz["v4_covers"]),
                ipindex.SegmentsV6([int(s) for s in starts6], list(covers6)),
                tuple(shared),
            )
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError):
        return None
    return tables, ips, CacheMeta(int(generation), next_expiry, int(fmt))


def cache_path(cache_dir: Path, db_path: Path) -> Path:
    """One cache file per store database."""
    digest = hashlib.sha256(str(db_path.resolve()).encode("utf-8")).hexdigest()[:16]
    return cache_dir / "intel" / f"matcher-{digest}.npz"


def load_matcher(
    intel: IntelStore,
    db_path: Path,
    cache_dir: Path,
    *,
    suffixes: PublicSuffixes | None = None,
    warninglists: WarninglistIndex | WarninglistLoader | None = None,
    now: datetime | None = None,
) -> tuple[IntelMatcher, bool]:
    """The matcher over the store's active indicators, and whether the cache served it."""
    now = now or datetime.now(UTC)
    path = cache_path(cache_dir, db_path)
    generation = intel.generation()
    cached = load(path)
    if cached is not None:
        tables, ips, meta = cached
        fresh = meta.next_expiry is None or (iso(now) or "") < meta.next_expiry
        if meta.generation == generation and fresh:
            matcher = IntelMatcher(
                tables, suffixes=suffixes, warninglists=warninglists, compiled=ips
            )
            return matcher, True
    tables = intel.tables(now)
    ips = compile_ips(tables)
    with contextlib.suppress(OSError):
        save(path, tables, ips, CacheMeta(generation, intel.next_expiry(now)))
    return IntelMatcher(tables, suffixes=suffixes, warninglists=warninglists, compiled=ips), False
