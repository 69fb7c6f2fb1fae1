"""Loading what a run needs for threat intel: the matcher over the store's active
indicators (from the compact cache, ``cache.py``), the bundled Public Suffix List and
warninglists, the open proxies the intel names, and the origin enricher.

These are the edge of the in-line matching (``inline.py``): they read the store and the
bundled data. With no indicator imported, ``load_run_intel`` answers None after one
indexed query, and the run pays nothing else.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from floodwall.enrich.context import AlertContextEnricher
from floodwall.enrich.intel.suffixes import PublicSuffixes
from floodwall.settings import Settings, bundled_data
from floodwall.store.db import DB_NAME, Store, open_store

if TYPE_CHECKING:
    # NumPy comes with the matcher: a run without intel never imports it.
    from floodwall.enrich.intel.matcher import IntelMatcher
    from floodwall.enrich.intel.warninglists import WarninglistIndex
    from floodwall.enrich.origin import OriginEnricher


@lru_cache(maxsize=1)
def bundled_suffixes() -> PublicSuffixes:
    """The bundled Public Suffix List (read once per process)."""
    path = bundled_data() / "reference" / "public_suffix_list.dat"
    return PublicSuffixes.from_lines(path.read_text("utf-8").splitlines())


def _warninglists() -> WarninglistIndex | None:
    from floodwall.enrich.intel.warninglists import WarninglistError, WarninglistIndex

    try:
        index = WarninglistIndex.load(suffixes=bundled_suffixes())
    except WarninglistError:
        return None  # the import already marked listed indicators; nothing more to add
    keep_out_of_gc()
    return index


def keep_out_of_gc() -> None:
    """Move what a run has loaded so far out of the cyclic collector's reach.

    Tables loaded in the middle of a run (warninglists, GeoIP, ATT&CK) live as long as
    the run and hold no cycles to collect, but every full collection would walk their
    millions of entries again, touching each one (measured: a third of a hunt's CPU with
    a million indicators once the first hit had loaded them). The hunt froze what it had
    loaded at its start for the same reason.
    """
    gc.freeze()


def load_run_intel(
    settings: Settings,
    *,
    now: datetime | None = None,
    on_load: Callable[[int, bool], None] | None = None,
) -> IntelMatcher | None:
    """The matcher over the store's active indicators, or None when there are none (no
    store yet, nothing imported, or everything expired or warninglisted).

    ``on_load(count, from_cache)`` is told what was loaded.
    """
    if not (settings.data_dir / DB_NAME).is_file():
        return None
    with open_store(settings.data_dir) as store:
        if not has_indicators(store):
            return None
        from floodwall.enrich.intel.cache import load_matcher
        from floodwall.store.intel import IntelStore

        intel = IntelStore(store)
        matcher, cached = load_matcher(
            intel,
            store.path,
            settings.cache_dir,
            suffixes=bundled_suffixes(),
            warninglists=_warninglists,
            now=now or datetime.now(UTC),
        )
    if not len(matcher):
        return None
    if on_load is not None:
        on_load(len(matcher), cached)
    return matcher


def load_open_proxies(settings: Settings, *, now: datetime | None = None) -> list[str]:
    """Addresses and networks the intel calls open proxies (for the origin question).

    Finding them scans every source entry's text (1.7 s CPU with a million indicators),
    so the answer is kept in a small JSON file next to the matcher cache until the intel
    changes or one of the entries expires.
    """
    if not (settings.data_dir / DB_NAME).is_file():
        return []
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with open_store(settings.data_dir) as store:
        if not has_indicators(store):
            return []
        (generation,) = store.connection.execute(
            "SELECT generation FROM intel_state WHERE id = 1"
        ).fetchone()
        digest = hashlib.sha256(str(store.path.resolve()).encode("utf-8")).hexdigest()[:16]
        path = settings.cache_dir / "intel" / f"proxies-{digest}.json"
        cached = _read_proxies(path, int(generation), stamp)
        if cached is not None:
            return cached
        from floodwall.store.intel import IntelStore

        entries = IntelStore(store).proxy_entries(now)
    values = [value for value, _ in entries]
    expiry = min((u for _, u in entries if u is not None), default=None)
    doc = {"generation": int(generation), "next_expiry": expiry, "values": values}
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(doc), "utf-8")
        os.replace(tmp, path)
    return values


def _read_proxies(path: Path, generation: int, stamp: str) -> list[str] | None:
    try:
        doc = json.loads(path.read_text("utf-8"))
        fresh = doc["next_expiry"] is None or stamp < doc["next_expiry"]
        if doc["generation"] == generation and fresh:
            return [str(v) for v in doc["values"]]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def has_indicators(store: Store) -> bool:
    """True when any indicator was imported (one indexed query, no NumPy)."""
    row = store.connection.execute("SELECT EXISTS (SELECT 1 FROM intel_indicators)").fetchone()
    return bool(row[0])


def origin_context_enricher(settings: Settings) -> AlertContextEnricher:
    """The origin enricher over the bundled (or updated) GeoIP and ASN data, loaded when
    the first public address needs it; addresses the imported intel calls open proxies
    are ``obscured``. Without its data a run still goes on, and each alert or message
    with an address says why it has no origin."""

    def load() -> OriginEnricher:
        from floodwall.enrich.origin import load_origin_enricher

        enricher = load_origin_enricher(settings, open_proxies=load_open_proxies(settings))
        keep_out_of_gc()
        return enricher

    return AlertContextEnricher(loader=load)
