"""The observables a run saw, appended to the observable archive for the retro-hunt.

The archive itself (``floodwall.store.archive``, date-partitioned files) belongs to the
retro-hunt; this is the writing side for ``hunt`` and ``mail scan``. Values are stored
in the form intel normalization gives them (``normalize.normalize``), so a retro-hunt
compares them to indicators as they are stored. A value that does not normalize (a
hostile field) is left out, not stored raw.

When the archive module is not installed in this build, ``ObservedArchive.open`` answers
None and the run says so once; nothing else changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from floodwall.enrich.intel.indicator import INDICATOR_TYPES, IndicatorType
from floodwall.enrich.intel.normalize import NormalizeError, normalize
from floodwall.settings import Settings

#: Extractor kinds -> indicator types (the extractor's ``hostname`` is a domain).
_KIND: dict[str, IndicatorType] = {
    **{t: t for t in INDICATOR_TYPES},
    "hostname": "domain",
}
#: Normalized values remembered at most (then forgotten and relearnt).
MEMO_LIMIT = 65536
MISSING = "observable archive not available in this build (floodwall.store.archive)"


def archive_value(kind: str, value: str) -> tuple[str, str] | None:
    """``(kind, normalized value)`` as the archive keeps it, or None."""
    itype = _KIND.get(kind)
    if itype is None:
        return None
    try:
        return normalize(itype, value)
    except NormalizeError:
        return None


def utc_stamp(value: str | None, default: str) -> str:
    """An ISO 8601 UTC timestamp from an event's ``@timestamp``; ``default`` when absent
    or unreadable."""
    if not value:
        return default
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return default
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def now_stamp() -> str:
    """Now, in the archive's timestamp form."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class ObservedArchive(AbstractContextManager["ObservedArchive"]):
    """Appends ``(ts, source, host, kind, value, ref)`` rows through the archive writer."""

    def __init__(self, writer: Any, cm: AbstractContextManager[Any]) -> None:
        self._writer = writer
        self._cm = cm
        self.written = 0
        # Logs repeat their values (internal addresses, the same images' hashes): each is
        # normalized once. A bounded memo of a pure function; the rows are the same.
        self._normal: dict[tuple[str, str], tuple[str, str] | None] = {}

    @classmethod
    def open(cls, settings: Settings) -> ObservedArchive | None:
        """The archive under ``DATA/archive/observables``, or None when not installed."""
        try:
            from floodwall.store.archive import (  # type: ignore[import-not-found,unused-ignore]
                ObservableArchive,
            )
        except ImportError:
            return None
        cm = ObservableArchive(settings.data_dir / "archive" / "observables").writer()
        writer = cm.__enter__()
        return cls(writer, cm)

    def add(
        self,
        source: str,
        rows: Iterable[tuple[str | None, str | None, str, Iterable[tuple[str, str]]]],
    ) -> None:
        """``rows``: ``(timestamp, host, ref, observables)`` per event or message; each
        event's values go to the writer together (its time parsed once)."""
        fallback = now_stamp()
        memo, add_event = self._normal, self._writer.add_event
        for ts, host, ref, observed in rows:
            values = []
            for pair in observed:
                if pair in memo:
                    norm = memo[pair]
                else:
                    if len(memo) >= MEMO_LIMIT:
                        memo.clear()
                    norm = memo[pair] = archive_value(*pair)
                if norm is not None:
                    values.append(norm)
            if values:
                self.written += add_event(utc_stamp(ts, fallback), source, host or "", ref, values)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._cm.__exit__(exc_type, exc, tb)
