"""Loads the compressed range-table files once, then from an uncompressed, mapped cache.

``geo.npz`` is compressed to keep the repository small; inflating it costs tens of
milliseconds at every start. The first load writes the decoded columns as plain ``.npy``
files under the cache directory; later loads map them (``np.load(mmap_mode="r")``), which
costs about a millisecond and shares the pages between the gateway, hunt and console
processes. The cache key holds the file's path, size and modification time, so an update
of the data is picked up. A cache that cannot be written is skipped, never fatal.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from floodwall.enrich.ranges import STORED_COLUMNS, RangeTable

Arrays = Mapping[str, npt.NDArray[Any]]
_DONE = "complete"


def _decode(path: Path, prefixes: tuple[str, ...], fmt: int) -> dict[str, npt.NDArray[Any]]:
    with np.load(path, allow_pickle=False) as z:
        raw = {k: z[k] for k in z.files}
    found = int(raw["format"][0]) if "format" in raw and len(raw["format"]) else -1
    if found != fmt:
        raise ValueError(f"{path}: data format {found}, this Floodwall reads format {fmt}")
    stored = {f"{p}_{c}" for p in prefixes for c in STORED_COLUMNS}
    out = {k: v for k, v in raw.items() if k not in stored}
    for prefix in prefixes:
        out.update(RangeTable.from_arrays(raw, prefix).columns(prefix))
    return out


def _write_cache(folder: Path, arrays: Arrays) -> None:
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
    except OSError:
        return
    try:
        for name, array in arrays.items():
            np.save(staging / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
        (staging / _DONE).write_text("\n".join(arrays) + "\n", "utf-8")
        os.replace(staging, folder)  # another process may have won the race: fine
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)


def _read_cache(folder: Path) -> dict[str, npt.NDArray[Any]] | None:
    try:
        names = (folder / _DONE).read_text("utf-8").split()
        return {n: np.load(folder / f"{n}.npy", mmap_mode="r", allow_pickle=False) for n in names}
    except (OSError, ValueError):
        return None


@lru_cache(maxsize=8)
def _load(key: tuple[str, int, int], prefixes: tuple[str, ...], fmt: int, cache: str) -> Arrays:
    path = Path(key[0])
    if not cache:
        return _decode(path, prefixes, fmt)
    digest = hashlib.sha256(repr((key, prefixes, fmt)).encode()).hexdigest()[:24]
    folder = Path(cache) / "tables" / f"{path.stem}-{digest}"
    cached = _read_cache(folder)
    if cached is not None:
        return cached
    arrays = _decode(path, prefixes, fmt)
    _write_cache(folder, arrays)
    return arrays


def load_tables(
    path: Path, prefixes: tuple[str, ...], fmt: int, cache_dir: Path | None = None
) -> Arrays:
    """The arrays of a table file, range tables decoded (``<prefix>_v4_start`` ...).

    Loaded once per process and file version; ``cache_dir`` keeps decoded copies on disk.
    """
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    return _load(key, prefixes, fmt, str(cache_dir) if cache_dir else "")
