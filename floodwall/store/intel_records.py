"""The intel store's records: what a source says about an indicator, the indicator with
all its sources, and the counts of an import or of the whole store (frozen, compared
whole in tests). Rows of ``intel_indicators`` joined with ``intel_sources`` become
records here."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from floodwall.enrich.intel.indicator import IndicatorType


@lru_cache(maxsize=4096)
def iso(moment: datetime | None) -> str | None:
    """ISO 8601 UTC with ``Z``, second precision: sortable as text in SQLite.

    Cached: a feed gives most of its entries the same few dates.
    """
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """What one source says about an indicator."""

    source: str
    confidence: int
    first_seen: str | None
    last_seen: str | None
    valid_until: str | None
    tags: tuple[str, ...]
    comment: str
    origin_id: str
    origin_info: str
    imported: str
    updated: str


@dataclass(frozen=True, slots=True)
class IndicatorRecord:
    """A stored indicator with every source that names it."""

    type: IndicatorType
    value: str
    suppressed_by: tuple[str, ...]
    created: str
    sources: tuple[SourceRecord, ...]

    @property
    def confidence(self) -> int:
        """The highest confidence among the sources."""
        return max((s.confidence for s in self.sources), default=0)


@dataclass(frozen=True, slots=True)
class ImportCounts:
    """What one ``add`` did. ``imported``: new (value, source) pairs; ``updated``: pairs
    the source had given before; ``duplicates``: repeats within this import."""

    received: int = 0
    new_values: int = 0
    imported: int = 0
    updated: int = 0
    duplicates: int = 0
    suppressed: int = 0


@dataclass(frozen=True, slots=True)
class IntelStats:
    """Counts over the whole intel store."""

    indicators: int
    links: int
    suppressed: int
    expired: int
    by_type: dict[str, int] = field(default_factory=dict)
    by_source: dict[str, dict[str, int]] = field(default_factory=dict)


def records_of(cur: Iterable[Sequence[Any]]) -> Iterator[IndicatorRecord]:
    """Group joined (indicator, source) rows, ordered by indicator, into records."""
    current: int | None = None
    head: Sequence[Any] = ()
    sources: list[SourceRecord] = []
    for row in cur:
        if row[0] != current:
            if current is not None:
                yield _record(head, sources)
            current, head, sources = row[0], row, []
        sources.append(
            SourceRecord(
                source=row[5], confidence=row[6], first_seen=row[7], last_seen=row[8],
                valid_until=row[9], tags=tuple(json.loads(row[10])), comment=row[11],
                origin_id=row[12], origin_info=row[13], imported=row[14], updated=row[15],
            )
        )  # fmt: skip
    if current is not None:
        yield _record(head, sources)


def _record(head: Sequence[Any], sources: list[SourceRecord]) -> IndicatorRecord:
    return IndicatorRecord(
        type=head[1],
        value=head[2],
        suppressed_by=tuple(json.loads(head[3])),
        created=head[4],
        sources=tuple(sources),
    )
