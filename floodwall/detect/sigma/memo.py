"""A bounded memory of results by the values they were computed from.

Logs repeat: a host runs the same programs, services and tasks all day, so the values
that Sigma rules read (an image path, a user, a registry key) recur far more often than
whole events, whose times, process ids and GUIDs are new each time. The engine keeps
what it computed from such values in plain dicts (the hot path looks them up with
``dict.get``, many at a time with ``map``). Attackers write the values, so a family of
such tables shares one budget of entries and characters, and all of them are emptied
when it runs out: input with ever-new values costs a lookup per value, and memory stays
flat however many tables the family has.
"""

from __future__ import annotations

from typing import Any


class MemoBudget:
    """Entries and characters shared by a family of memo tables (``table``)."""

    __slots__ = ("chars", "entries", "max_chars", "max_entries", "max_entry_chars", "tables")

    def __init__(self, max_entries: int, max_chars: int, max_entry_chars: int) -> None:
        """``max_entry_chars``: a result computed from longer values is never kept."""
        self.max_entries = max_entries
        self.max_chars = max_chars
        self.max_entry_chars = max_entry_chars
        self.tables: list[dict[Any, Any]] = []
        self.entries = 0
        self.chars = 0

    def table(self) -> dict[Any, Any]:
        """A new, empty table of the family."""
        table: dict[Any, Any] = {}
        self.tables.append(table)
        return table

    def put(self, table: dict[Any, Any], key: Any, value: Any, chars: int) -> None:
        """Keep ``value`` for ``key`` in ``table``; ``chars``: what the key's values hold.
        Past either cap, every table of the family is emptied first."""
        if chars > self.max_entry_chars:
            return
        if self.entries >= self.max_entries or self.chars + chars > self.max_chars:
            for t in self.tables:
                t.clear()
            self.entries = self.chars = 0
        table[key] = value
        self.entries += 1
        self.chars += chars

    def drop_tables(self) -> None:
        """Forget every table (their owner let them go) and what they held."""
        for t in self.tables:
            t.clear()
        self.tables.clear()
        self.entries = self.chars = 0


def chars_of(values: tuple[Any, ...]) -> int:
    """Characters of the strings among ``values`` (what a key holds on to)."""
    return sum(len(v) for v in values if type(v) is str)
