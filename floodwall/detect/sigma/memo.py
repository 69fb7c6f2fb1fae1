"""A bounded memory of results by the values they were computed from.

Logs repeat: a host runs the same programs, services and tasks all day, so the values
that Sigma rules read (an image path, a user, a registry key) recur far more often than
whole events, whose times, process ids and GUIDs are new each time. The engine keeps
what it computed from such values here. Attackers write the values, so the memory is
bounded in entries and in characters, and emptied when full: input with ever-new values
costs a lookup per event, and memory stays flat.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

V = TypeVar("V")

#: Entries, characters of the values kept, and the longest values one entry may hold
#: (a larger one is computed every time, never kept).
MAX_ENTRIES = 65_536
MAX_CHARS = 32_000_000
MAX_ENTRY_CHARS = 65_536


class BoundedMemo(Generic[V]):
    """A dict from hashable keys to results, with a cap on entries and characters."""

    __slots__ = ("_chars", "_max_chars", "_max_entries", "_max_entry_chars", "get", "table")

    def __init__(self, max_entries: int = MAX_ENTRIES, max_chars: int = MAX_CHARS,
                 max_entry_chars: int = MAX_ENTRY_CHARS) -> None:  # fmt: skip
        self.table: dict[Any, V] = {}
        self.get = self.table.get  # the hot path calls the dict's own method
        self._chars = 0
        self._max_entries = max_entries
        self._max_chars = max_chars
        self._max_entry_chars = max_entry_chars

    def put(self, key: Any, value: V, chars: int) -> None:
        """Keep ``value`` for ``key``, whose values hold ``chars`` characters."""
        if chars > self._max_entry_chars:
            return
        if len(self.table) >= self._max_entries or self._chars + chars > self._max_chars:
            self.table.clear()
            self._chars = 0
        self.table[key] = value
        self._chars += chars

    def __len__(self) -> int:
        return len(self.table)


def chars_of(values: tuple[Any, ...]) -> int:
    """Characters of the strings among ``values`` (what a key holds on to)."""
    return sum(len(v) for v in values if type(v) is str)
