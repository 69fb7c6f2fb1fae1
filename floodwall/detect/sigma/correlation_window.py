"""Sliding windows for Sigma correlation rules: one group's time-sorted matches in, hits out.

The window model (Sigma correlation specification v2, "Time Selection" and "Correlation
Types") as implemented here:

* A window is anchored at one base-rule match (the *anchor*) and holds every match of the
  same group whose time ``t`` satisfies ``anchor.t <= t <= anchor.t + timespan``; both
  ends are inclusive.
* The window anchored at the earliest unconsumed match is evaluated once it is complete,
  that is when a match later than ``anchor.t + timespan`` arrives, or at the end.
* **De-duplication rule:** if the complete window satisfies the condition it yields one
  hit holding *all* its matches, and those matches are consumed: the next window is
  anchored at the first match after the hit's last one. Otherwise only the anchor is
  dropped and the next match becomes the anchor. Hence a match contributes to at most
  one hit, a hit never spans more than ``timespan``, and a burst of N failed logons
  inside one timespan is one hit with count N, not N - threshold + 1 hits.
* Conditions that adding matches can only make true (gt, gte) slide as above. For the
  others (lt, lte, eq, neq) a failing window is consumed whole as well, so the windows
  tile the timeline: otherwise the tail of every busy window would be a quiet window,
  and "fewer than 3 logons in 5 minutes" would fire after every burst.
* Memory: the window only ever holds matches within ``timespan`` of its anchor; matches
  that fall out are dropped, together with their share of the counters.
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

MAX_ORIGINS = 100  # contributing origins kept per hit; the event count stays exact
MAX_VALUES = 100  # distinct values (value_count) kept per hit; the count stays exact
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_COMPACT_AT = 1024  # ordered position lists are compacted past this many dropped entries
OPERATORS: dict[str, Callable[[int, int], bool]] = {
    "gt": lambda measure, limit: measure > limit,
    "gte": lambda measure, limit: measure >= limit,
    "lt": lambda measure, limit: measure < limit,
    "lte": lambda measure, limit: measure <= limit,
    "eq": lambda measure, limit: measure == limit,
    "neq": lambda measure, limit: measure != limit,
}


class Item(NamedTuple):
    """One base-rule match as the window sees it: compact, no ``Event`` kept alive.

    Items sort as plain tuples: by time, ties by source order (path, then record id).
    """

    time_us: int  # microseconds since the Unix epoch, UTC
    path: str  # the Event's Origin
    record_id: int
    rule_id: str
    value: str | None  # the value_count field's value, else None


def condition_test(op: str, limit: int) -> Callable[[int], bool]:
    """The condition (spec "Condition") as a test of a window's measure."""
    check = OPERATORS[op]

    def test(measure: int) -> bool:
        return check(measure, limit)

    return test


def parse_time_us(text: object) -> int | None:
    """Read an ISO 8601 timestamp as microseconds since the epoch; ``None`` if unusable.

    Timestamps without a zone are taken as UTC; digits past microseconds are cut off.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def format_time_us(time_us: int) -> str:
    """Write microseconds since the epoch as ISO 8601 UTC with a ``Z`` suffix."""
    return (_EPOCH + timedelta(microseconds=time_us)).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class WindowHit:
    """A complete window that satisfied the condition."""

    measure: int  # the number compared with the condition
    first_us: int
    last_us: int
    events: int
    values: tuple[str, ...]  # sorted distinct values (value_count only), capped
    rules: tuple[str, ...]  # referenced rule ids present, in the rule list's order
    origins: tuple[tuple[str, int], ...]  # (path, record_id) in time order, capped


@dataclass(frozen=True, slots=True)
class CorrelationMatch:
    """One window that satisfied a correlation rule's condition, for one group."""

    spec_id: str
    title: str
    level: str
    group: tuple[tuple[str, str], ...]  # (group-by field, value)
    first: str  # ISO 8601 UTC time of the window's first match
    last: str
    count: int  # the measure compared with the condition (events, values or rules)
    events: int  # contributing base-rule matches
    values: tuple[str, ...]  # value_count's distinct values, sorted, capped
    rules: tuple[str, ...]  # referenced rule ids present in the window
    origins: tuple[tuple[str, int], ...]  # contributing (path, record_id), capped


@dataclass(frozen=True, slots=True)
class CorrelationStats:
    """What a run fed and what it could not use: losses are counted, never hidden."""

    fed: int = 0  # base-rule matches of referenced rules
    unreferenced: int = 0  # matches of rules no correlation refers to (ignored)
    untimed: int = 0  # matches without a usable timestamp (unusable)
    ungrouped: int = 0  # (correlation, match) pairs lacking a group-by field
    unvalued: int = 0  # (value_count, match) pairs lacking the counted field
    max_window: int = 0  # most matches any window held at once


class WindowSweep:
    """Slides anchored windows over one group's matches, fed in time order.

    ``kind`` is the correlation type; its measure (spec "Condition"): event_count counts
    matches, value_count counts distinct values, temporal counts distinct referenced
    rules, temporal_ordered counts how many rules of the list, from its start, occur in
    the window in the listed order (greedy earliest-successor search).
    """

    def __init__(
        self,
        kind: str,
        rules: tuple[str, ...],
        span_us: int,
        test: Callable[[int], bool],
        slide: bool,
    ) -> None:
        """Prepare an empty window; ``test`` is the condition applied to the measure.

        ``slide`` is true for gt and gte: a failing window then drops only its anchor.
        """
        self._kind = kind
        self._slide = slide
        self._rules = rules
        self._span_us = span_us
        self._test = test
        self._items: deque[tuple[int, Item]] = deque()  # (sequence number, item)
        self._seq = 0
        self._values: Counter[str] = Counter()
        self._rule_counts: Counter[str] = Counter()
        # temporal_ordered: per rule, the sequence numbers in the window (from offset on)
        self._positions: dict[str, list[int]] = {r: [] for r in rules}
        self._offsets: dict[str, int] = dict.fromkeys(rules, 0)
        self.max_held = 0  # the most matches ever held at once, for the run's stats

    def push(self, item: Item) -> list[WindowHit]:
        """Add the next match (not earlier than any before it); return completed hits."""
        hits: list[WindowHit] = []
        while self._items and item.time_us - self._items[0][1].time_us > self._span_us:
            hit = self._evaluate()
            if hit is not None:
                hits.append(hit)
            if hit is None and self._slide:
                self._drop_anchor()
            else:
                self._clear()
        self._seq += 1
        self._items.append((self._seq, item))
        self._rule_counts[item.rule_id] += 1
        if item.value is not None:
            self._values[item.value] += 1
        if self._kind == "temporal_ordered":
            self._positions[item.rule_id].append(self._seq)
        self.max_held = max(self.max_held, len(self._items))
        return hits

    def close(self) -> list[WindowHit]:
        """No more matches will come: evaluate the windows still open."""
        hits: list[WindowHit] = []
        while self._items:
            hit = self._evaluate()
            if hit is not None:
                hits.append(hit)
            if hit is None and self._slide:
                self._drop_anchor()
            else:
                self._clear()
        return hits

    def _measure(self) -> int:
        """The number the condition is applied to, for the window as it stands."""
        if self._kind == "event_count":
            return len(self._items)
        if self._kind == "value_count":
            return len(self._values)
        if self._kind == "temporal":
            return len(self._rule_counts)
        # temporal_ordered: each listed rule must follow the previous one (spec
        # "Ordered Temporal Proximity"); search the earliest successor with bisect.
        position = self._items[0][0] - 1
        for done, rule_id in enumerate(self._rules):
            seqs = self._positions[rule_id]
            index = bisect_right(seqs, position, lo=self._offsets[rule_id])
            if index == len(seqs):
                return done
            position = seqs[index]
        return len(self._rules)

    def _evaluate(self) -> WindowHit | None:
        """The hit of the current (complete) window, or None if the condition fails."""
        measure = self._measure()
        if not self._test(measure):
            return None
        items = self._items
        return WindowHit(
            measure=measure,
            first_us=items[0][1].time_us,
            last_us=items[-1][1].time_us,
            events=len(items),
            values=tuple(sorted(self._values)[:MAX_VALUES]),
            rules=tuple(r for r in dict.fromkeys(self._rules) if self._rule_counts[r]),
            origins=tuple(
                (it.path, it.record_id) for _, it in itertools.islice(items, MAX_ORIGINS)
            ),
        )

    def _drop_anchor(self) -> None:
        """Slide: forget the anchor and its share of the counters."""
        _, item = self._items.popleft()
        self._rule_counts[item.rule_id] -= 1
        if not self._rule_counts[item.rule_id]:
            del self._rule_counts[item.rule_id]
        if item.value is not None:
            self._values[item.value] -= 1
            if not self._values[item.value]:
                del self._values[item.value]
        if self._kind == "temporal_ordered":
            offset = self._offsets[item.rule_id] + 1
            seqs = self._positions[item.rule_id]
            if offset >= _COMPACT_AT and offset * 2 >= len(seqs):
                del seqs[:offset]
                offset = 0
            self._offsets[item.rule_id] = offset

    def _clear(self) -> None:
        """Consume the whole window (spec-level de-duplication, see the module doc)."""
        self._items.clear()
        self._values.clear()
        self._rule_counts.clear()
        for rule_id in self._positions:
            self._positions[rule_id].clear()
            self._offsets[rule_id] = 0
