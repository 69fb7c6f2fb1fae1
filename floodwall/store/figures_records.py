"""The records the daily figures are made of (``store/figures.py`` defines each figure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

__all__ = ["DayFigures", "DayTotals", "SourceLoss", "Split"]


#: The days figures can be asked for: a trend reaches back up to a year and a day's end
#: is the next day's start, so both must stay inside what ``date`` holds (years 1 to
#: 9999); no log is older than the epoch.
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9998, 12, 31)


@dataclass(frozen=True, slots=True)
class Split:
    """One row of a split: attacks seen, of which blocked and got through."""

    key: str
    seen: int
    blocked: int
    got_through: int


@dataclass(frozen=True, slots=True)
class SourceLoss:
    """What one source delivered and lost; None means the stage does not record it."""

    source: str  # "logs:<path>" or "mail:<gateway|scan>"
    received: int
    unparseable: int
    dropped: int | None = None
    late: int | None = None


@dataclass(frozen=True, slots=True)
class DayFigures:
    """The day's attacks and their splits, and the intake's own losses."""

    day: date
    home_country: str
    fold_minutes: int
    seen: int
    blocked: int
    got_through: int
    log_alerts: int  # alert rows before folding, so the folding is visible
    by_source: tuple[Split, ...]
    by_origin: tuple[Split, ...]
    by_country: tuple[Split, ...]
    by_technique: tuple[Split, ...]
    losses: tuple[SourceLoss, ...]
    unfinished_hunts: int  # hunts started that day that never finished (crashed)

    def totals(self) -> DayTotals:
        """The day as one point of a trend."""
        mail = next(s.seen for s in self.by_source if s.key == "mail")
        logs = next(s.seen for s in self.by_source if s.key == "logs")
        return DayTotals(self.day, self.seen, self.blocked, self.got_through, mail, logs)

    def to_json(self) -> dict[str, Any]:
        """Stable keys, plain values: the contract ``stats --format json`` prints."""

        def rows(splits: Iterable[Split]) -> list[dict[str, Any]]:
            return [
                {"key": s.key, "seen": s.seen, "blocked": s.blocked, "got_through": s.got_through}
                for s in splits
            ]

        return {
            "day": self.day.isoformat(),
            "home_country": self.home_country,
            "fold_minutes": self.fold_minutes,
            "seen": self.seen,
            "blocked": self.blocked,
            "got_through": self.got_through,
            "log_alerts": self.log_alerts,
            "by_source": rows(self.by_source),
            "by_origin": rows(self.by_origin),
            "by_country": rows(self.by_country),
            "by_technique": rows(self.by_technique),
            "losses": [
                {
                    "source": x.source,
                    "received": x.received,
                    "unparseable": x.unparseable,
                    "dropped": x.dropped,
                    "late": x.late,
                }
                for x in self.losses
            ],
            "unfinished_hunts": self.unfinished_hunts,
        }


@dataclass(frozen=True, slots=True)
class DayTotals:
    """One day of a trend: the totals and the two sources."""

    day: date
    seen: int
    blocked: int
    got_through: int
    mail_seen: int
    logs_seen: int
