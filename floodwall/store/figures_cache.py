"""Day totals kept between calls by a long-lived reader (the console), so a 30-day trend
costs the days that changed instead of a month of alerts every time.

Rows are only ever added to ``alerts`` and ``messages`` (no stage deletes them), and a
rowid table gives every new row a rowid above the largest one (SQLite "ROWIDs and the
INTEGER PRIMARY KEY"). So a day's totals stay right until a row counted on that day
arrives: at each call the cache reads the rows above the largest rowid it has seen
(an index range, cheap) and forgets the days they count on. If the smallest or
largest rowid went down, rows were deleted: everything is recomputed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Generic, TypeVar

from floodwall.store.db import Store

__all__ = ["TotalsCache", "read_snapshot"]

_ISO_DAY = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*"
_ALERT_DAY = (
    f"CASE WHEN timestamp GLOB '{_ISO_DAY}' THEN substr(timestamp, 1, 10)"
    " ELSE substr(created, 1, 10) END"
)

_Mark = tuple[int, int, int, int]
T = TypeVar("T")


class TotalsCache(Generic[T]):
    """Per-day totals keyed by (day, fold minutes), for one store."""

    def __init__(self, *, max_days: int = 4000) -> None:
        self._totals: dict[tuple[date, int], T] = {}
        self._mark: _Mark | None = None
        self._store_path: str | None = None
        self._max_days = max_days
        self.computed_days = 0  # days computed by the last call (for tests and benchmarks)

    def get(
        self,
        store: Store,
        start: date,
        end: date,
        fold: int,
        compute: Callable[[Store, date, date, int], list[T]],
    ) -> list[T]:
        """Totals of ``start``..``end``; ``compute(store, first, last, fold)`` gives those
        of a run of days not cached (one object per day, in order)."""
        self.sync(store)
        wanted = [start + timedelta(days=i) for i in range((end - start).days + 1)]
        missing = [d for d in wanted if (d, fold) not in self._totals]
        self.computed_days = len(missing)
        for first, last in _runs(missing):
            days = compute(store, first, last, fold)
            for i, totals in enumerate(days):
                self._totals[(first + timedelta(days=i), fold)] = totals
        out = [self._totals[(d, fold)] for d in wanted]
        if len(self._totals) > self._max_days:
            self._totals = {(d, fold): t for d, t in zip(wanted, out, strict=True)}
        return out

    def put(self, day: date, fold: int, totals: T) -> None:
        """Keep totals computed elsewhere (``daily_figures``) in the snapshot of the last
        ``sync``."""
        self._totals[(day, fold)] = totals

    def sync(self, store: Store) -> None:
        """Forget the days that rows added since the last call count on."""
        conn = store.connection
        # One min() or max() per SELECT: SQLite answers those from the end of the rowid
        # B-tree; both in one SELECT would scan the whole table.
        row = conn.execute(
            "SELECT (SELECT min(rowid) FROM alerts), (SELECT max(rowid) FROM alerts),"
            " (SELECT min(rowid) FROM messages), (SELECT max(rowid) FROM messages)"
        ).fetchone()
        mark: _Mark = (int(row[0] or 0), int(row[1] or 0), int(row[2] or 0), int(row[3] or 0))
        old, self._mark = self._mark, mark
        if old is None or str(store.path) != self._store_path:
            self._store_path = str(store.path)
            self._totals.clear()
            return
        if mark[0] != old[0] or mark[1] < old[1] or mark[2] != old[2] or mark[3] < old[3]:
            self._totals.clear()  # rows were deleted
            return
        changed = {
            str(d)
            for (d,) in conn.execute(
                f"SELECT DISTINCT {_ALERT_DAY} FROM alerts WHERE rowid > ?", (old[1],)
            )
        }
        changed |= {
            str(d)
            for (d,) in conn.execute(
                "SELECT DISTINCT substr(scanned, 1, 10) FROM messages WHERE rowid > ?", (old[3],)
            )
        }
        if changed:
            self._totals = {
                k: v for k, v in self._totals.items() if k[0].isoformat() not in changed
            }


@contextmanager
def read_snapshot(store: Store) -> Iterator[None]:
    """One read transaction: every query inside sees the same state of the store (WAL
    snapshot isolation), so the splits add up and a cache mark matches its totals.
    Readers never block the writers in WAL mode."""
    conn = store.connection
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Consecutive days grouped: [1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    runs: list[tuple[date, date]] = []
    for d in days:
        if runs and runs[-1][1] + timedelta(days=1) == d:
            runs[-1] = (runs[-1][0], d)
        else:
            runs.append((d, d))
    return runs
