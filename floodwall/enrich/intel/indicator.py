"""The records every feed parser yields: an ``Indicator``, or a ``Skipped`` entry.

Parsers never drop an entry silently. What they cannot represent (an unknown MISP
attribute type, a STIX pattern with ``AND`` across objects, a garbage line) comes out as
``Skipped`` with a short reason, so ``floodwall intel import`` can count it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, get_args

IndicatorType = Literal["ip", "cidr", "domain", "url", "md5", "sha1", "sha256", "email"]
INDICATOR_TYPES: tuple[IndicatorType, ...] = get_args(IndicatorType)
HASH_TYPES: tuple[IndicatorType, ...] = ("md5", "sha1", "sha256")

#: Confidence given to an entry when the feed says nothing (0-100).
DEFAULT_CONFIDENCE = 70
#: Longest value shown in a skip reason.
_SHOWN = 80


class FeedError(ValueError):
    """A whole feed file cannot be read (not JSON, truncated, not a known format)."""


@dataclass(frozen=True, slots=True)
class Indicator:
    """One normalized value a feed calls bad, with where it came from.

    ``value`` is in the canonical form of its ``type`` (see ``normalize.py``), so the
    same value from two feeds compares equal. ``origin_id``/``origin_info`` name the
    MISP event (uuid, info) or the STIX indicator (id, name) it came from.
    """

    type: IndicatorType
    value: str
    source: str
    confidence: int = DEFAULT_CONFIDENCE
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    valid_until: datetime | None = None
    tags: tuple[str, ...] = ()
    comment: str = ""
    origin_id: str = ""
    origin_info: str = ""


@dataclass(frozen=True, slots=True)
class Skipped:
    """A feed entry that was not imported, and why."""

    reason: str
    where: str = ""
    value: str = ""

    def __str__(self) -> str:
        where = f"{self.where}: " if self.where else ""
        return f"{where}{self.reason}" + (f" ({self.shown!r})" if self.value else "")

    @property
    def shown(self) -> str:
        """The value, cut to a readable length."""
        return self.value if len(self.value) <= _SHOWN else self.value[:_SHOWN] + "…"


FeedItem = Indicator | Skipped


@dataclass
class SkipTally:
    """Skipped entries counted by reason, with the first entry of each reason kept."""

    by_reason: Counter[str] = field(default_factory=Counter)
    examples: dict[str, Skipped] = field(default_factory=dict)
    keep: int = 100  # reasons with an example; garbage can make every reason distinct

    def add(self, item: Skipped) -> None:
        self.by_reason[item.reason] += 1
        if item.reason not in self.examples and len(self.examples) < self.keep:
            self.examples[item.reason] = item

    @property
    def total(self) -> int:
        return sum(self.by_reason.values())


def clamp_confidence(value: object, default: int = DEFAULT_CONFIDENCE) -> int:
    """An integer 0-100 from a feed's confidence field; ``default`` when absent or bad."""
    if isinstance(value, bool) or value is None:
        return default
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        return default
    return max(0, min(100, number))


def parse_time(value: object) -> datetime | None:
    """An aware UTC datetime from ISO 8601 text or epoch seconds; None when absent or bad.

    MISP writes epoch seconds as strings (``"1520624226"``) and dates as ``YYYY-MM-DD``;
    STIX writes RFC 3339 timestamps with ``Z`` (STIX 2.1 §3.2).
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
            seconds = int(value)
            if seconds <= 0:
                return None
            return datetime.fromtimestamp(seconds, UTC)
        if isinstance(value, str) and value.strip():
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None
