"""Import feed paths into the store: parse, count what is skipped and why, store.

The CLI (``floodwall intel import``) and anything else that loads feeds call
``import_path``; the parsers stay free of the store and the store free of the parsers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from floodwall.enrich.intel.feeds import FeedOptions, default_source, detect_format, read_feed
from floodwall.enrich.intel.indicator import FeedError, FeedItem, Indicator, SkipTally
from floodwall.enrich.intel.warninglists import WarninglistIndex
from floodwall.store.intel import IntelStore
from floodwall.store.intel_records import ImportCounts


@dataclass(frozen=True, slots=True)
class PathReport:
    """What importing one path did."""

    path: Path
    source: str
    format: str
    counts: ImportCounts
    skipped: SkipTally
    error: str = ""  # the whole path could not be read

    @property
    def skipped_total(self) -> int:
        return self.skipped.total


def _indicators(
    items: Iterator[FeedItem], tally: SkipTally, expires: datetime | None
) -> Iterator[Indicator]:
    for item in items:
        if isinstance(item, Indicator):
            if expires is not None and item.valid_until is None:
                item = replace(item, valid_until=expires)
            yield item
        else:
            tally.add(item)


def import_path(
    intel: IntelStore,
    path: Path,
    *,
    source: str | None = None,
    options: FeedOptions | None = None,
    warninglists: WarninglistIndex | None = None,
    valid_for: timedelta | None = None,
    now: datetime | None = None,
) -> PathReport:
    """Import one feed path; a path that cannot be read is reported, not raised.

    ``valid_for`` gives an expiry to indicators whose feed sets none (IPsum addresses
    churn daily; MISP and STIX indicators carry their own ``valid_until`` or none).
    """
    now = now or datetime.now(UTC)
    name = source or default_source(path)
    tally = SkipTally()
    expires = now + valid_for if valid_for is not None else None
    try:
        fmt = detect_format(path)
        items = read_feed(path, name, options)
        counts = intel.add(_indicators(items, tally, expires), warninglists=warninglists, now=now)
    except FeedError as exc:
        return PathReport(path, name, "?", ImportCounts(), tally, error=str(exc))
    return PathReport(path, name, fmt, counts, tally)
