"""Per-run intake accounting: what each source delivered, and what it lost and why.

A figure that hides its losses is worse than no figure (DESIGN.md), so every reader
reports damage here instead of skipping it quietly.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class IntakeProblem:
    """One piece of input that could not be read: where it was and why."""

    path: str
    where: str  # "line 17", "offset 0x11000 (chunk 3)", ...
    reason: str


@dataclass
class IntakeLog:
    """Mutable per-run state: counts per source path and the problems found.

    Only the first ``keep`` problems per path are kept in full; the rest are counted.
    """

    keep: int = 50
    #: Bytes of the file being read that its source has read so far (as stored, so
    #: compressed for .gz): how far a long hunt of one file is, for its progress bar.
    position: int = 0
    received: Counter[str] = field(default_factory=Counter)
    damaged: Counter[str] = field(default_factory=Counter)
    problems: list[IntakeProblem] = field(default_factory=list)
    _kept: Counter[str] = field(default_factory=Counter)

    def count(self, path: str, n: int = 1) -> None:
        """Record ``n`` readable records from ``path``."""
        self.received[path] += n

    def problem(self, path: str, where: str, reason: str) -> None:
        """Record one unreadable piece of ``path``."""
        self.damaged[path] += 1
        if self._kept[path] < self.keep:
            self._kept[path] += 1
            self.problems.append(IntakeProblem(path, where, reason))

    def merge(self, other: IntakeLog) -> None:
        """Fold a worker's log into this one."""
        self.received.update(other.received)
        self.damaged.update(other.damaged)
        for p in other.problems:
            if self._kept[p.path] < self.keep:
                self._kept[p.path] += 1
                self.problems.append(p)

    @property
    def total_received(self) -> int:
        return sum(self.received.values())

    @property
    def total_damaged(self) -> int:
        return sum(self.damaged.values())
