"""An independent evaluator for the regression suite: pySigma's SQLite backend.

Where our engine finds more matches in a sample than ``match_count``, the sample
itself may hold several events that satisfy the rule. A second implementation (the
rule converted to SQL and run in SQLite) tells whether that is so, without a list of
known exceptions.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection


def count_sql_matches(rule_yaml: str, events: Sequence[Mapping[str, Any]]) -> int | None:
    """Rows of ``events`` the rule's SQL selects; None when the backend cannot convert it."""
    backend = sqliteBackend()
    try:
        queries = [str(q) for q in backend.convert(SigmaCollection.from_yaml(rule_yaml))]
    except Exception:  # the backend's own limits: no oracle for this rule
        return None
    # SQLite column names ignore case (ProcessId vs the System ProcessID): keep one.
    by_lower: dict[str, str] = {}
    for e in events:
        for k in e:
            by_lower.setdefault(k.lower(), k)
    columns = sorted(by_lower.values())
    if not columns or not queries:
        return None
    with sqlite3.connect(":memory:") as db:
        cols = ", ".join(f'"{c}"' for c in columns)
        db.execute(f"CREATE TABLE {sqliteBackend.table} ({cols})")
        marks = ", ".join("?" for _ in columns)
        db.executemany(
            f"INSERT INTO {sqliteBackend.table} VALUES ({marks})",
            [[_text(_get(e, c)) for c in columns] for e in events],
        )
        try:
            return sum(len(db.execute(q).fetchall()) for q in queries)
        except sqlite3.Error:
            return None


def _get(event: Mapping[str, Any], column: str) -> Any:
    if column in event:
        return event[column]
    return next((v for k, v in event.items() if k.lower() == column.lower()), None)


def _text(v: Any) -> Any:
    if v is None or isinstance(v, str | int | float):
        return v
    return str(v)
