"""Threat intel in the store: indicators de-duplicated across sources (migration 0004).

``intel_indicators`` holds one row per ``(type, value)``; ``intel_sources`` one row per
(indicator, source) with that source's confidence, first/last seen and expiry. An import
stages its batch in a temporary table with ``executemany`` and merges it with two
set-based upserts, so 120,000 IPsum lines take a couple of seconds, not minutes.

Re-importing a source refreshes its view of a value (confidence, expiry, tags): a feed's
latest state wins. First seen keeps the earliest date any import gave, last seen the
latest.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from floodwall.enrich.intel.indicator import Indicator, IndicatorType
from floodwall.enrich.intel.normalize import NormalizeError, normalize_domain, sniff
from floodwall.enrich.intel.tables import IndicatorTables
from floodwall.enrich.intel.warninglists import WarninglistIndex
from floodwall.store.db import Store
from floodwall.store.intel_records import (
    ImportCounts,
    IndicatorRecord,
    IntelStats,
    iso,
    records_of,
)

BATCH = 50_000
_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS intel_stage (
    type TEXT, value TEXT, source TEXT, confidence INTEGER, first_seen TEXT,
    last_seen TEXT, valid_until TEXT, tags TEXT, comment TEXT, origin_id TEXT,
    origin_info TEXT, suppressed TEXT
)
"""
_UPSERT_SOURCES = """
INSERT INTO intel_sources (indicator_id, source, confidence, first_seen, last_seen,
    valid_until, tags, comment, origin_id, origin_info, imported, updated)
SELECT i.id, s.source, s.confidence, s.first_seen, s.last_seen, s.valid_until, s.tags,
    s.comment, s.origin_id, s.origin_info, :now, :now
FROM temp.intel_stage s JOIN intel_indicators i ON i.type = s.type AND i.value = s.value
WHERE true
ON CONFLICT (indicator_id, source) DO UPDATE SET
    confidence = excluded.confidence,
    first_seen = coalesce(min(first_seen, excluded.first_seen), first_seen, excluded.first_seen),
    last_seen = coalesce(max(last_seen, excluded.last_seen), last_seen, excluded.last_seen),
    valid_until = excluded.valid_until,
    tags = excluded.tags, comment = excluded.comment,
    origin_id = excluded.origin_id, origin_info = excluded.origin_info,
    updated = excluded.updated
"""
_SELECT = """
SELECT i.id, i.type, i.value, i.suppressed, i.created, s.source, s.confidence, s.first_seen,
    s.last_seen, s.valid_until, s.tags, s.comment, s.origin_id, s.origin_info, s.imported,
    s.updated
FROM intel_indicators i JOIN intel_sources s ON s.indicator_id = i.id
"""


@lru_cache(maxsize=4096)
def _json_tags(tags: tuple[str, ...]) -> str:
    return json.dumps(list(tags))


def _text(value: str) -> str:
    # Lone surrogates (undecodable input) cannot be stored as TEXT.
    return value if value.isascii() else value.encode("utf-8", "replace").decode("utf-8")


def _merge(old: list[Any], ind: Indicator) -> None:
    """Fold a repeated (type, value, source) of one batch into its staged row."""
    old[3] = max(old[3], ind.confidence)
    first, last, until = iso(ind.first_seen), iso(ind.last_seen), iso(ind.valid_until)
    old[4] = min(x for x in (old[4], first) if x) if (old[4] or first) else None
    old[5] = max(x for x in (old[5], last) if x) if (old[5] or last) else None
    old[6] = None if old[6] is None or until is None else max(old[6], until)
    old[7] = tuple(sorted({*old[7], *ind.tags}))
    old[8] = old[8] or ind.comment
    old[9] = old[9] or ind.origin_id
    old[10] = old[10] or ind.origin_info


def _row(ind: Indicator) -> list[Any]:
    return [
        ind.type, ind.value, _text(ind.source), ind.confidence, iso(ind.first_seen),
        iso(ind.last_seen), iso(ind.valid_until), ind.tags, ind.comment,
        ind.origin_id, ind.origin_info, "[]",
    ]  # fmt: skip


class IntelStore:
    """Indicators and their sources in the shared store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # -- writing ----------------------------------------------------------------------

    def add(
        self,
        indicators: Iterable[Indicator],
        *,
        warninglists: WarninglistIndex | None = None,
        now: datetime | None = None,
        batch: int = BATCH,
    ) -> ImportCounts:
        """Import indicators; values on a suppressing warninglist are stored marked
        ``suppressed`` with the lists' names (``WarninglistIndex.suppressed_by``)."""
        stamp = iso(now or datetime.now(UTC))
        seen: set[tuple[str, str, str]] = set()
        totals = [0, 0, 0, 0, 0, 0]  # ImportCounts fields, in order
        rows: dict[tuple[str, str, str], list[Any]] = {}
        for ind in indicators:
            totals[0] += 1
            key = (ind.type, ind.value, ind.source)
            if key in rows:
                _merge(rows[key], ind)
                continue
            if key in seen:
                totals[4] += 1
                continue
            rows[key] = _row(ind)
            if len(rows) >= batch:
                self._flush(rows, seen, totals, warninglists, stamp)
        self._flush(rows, seen, totals, warninglists, stamp)
        return ImportCounts(*totals)

    def _flush(
        self,
        rows: dict[tuple[str, str, str], list[Any]],
        seen: set[tuple[str, str, str]],
        totals: list[int],
        warninglists: WarninglistIndex | None,
        stamp: str | None,
    ) -> None:
        if not rows:
            return
        staged = list(rows.values())
        if warninglists is not None:
            by_type: dict[str, list[list[Any]]] = {}
            for row in staged:
                by_type.setdefault(row[0], []).append(row)
            for itype, group in by_type.items():
                found = warninglists.suppressed_by_many(itype, [r[1] for r in group])  # type: ignore[arg-type]
                for row, names in zip(group, found, strict=True):
                    row[11] = _json_tags(names)
        for row in staged:
            row[7] = _json_tags(row[7])
            row[8], row[10] = _text(row[8]), _text(row[10])
        with self._store.write() as conn:
            conn.execute(_STAGE)
            conn.execute("DELETE FROM temp.intel_stage")
            conn.executemany(
                "INSERT INTO temp.intel_stage VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", staged
            )
            (new_values,) = conn.execute(
                "SELECT count(*) FROM (SELECT DISTINCT type, value FROM temp.intel_stage) s "
                "WHERE NOT EXISTS (SELECT 1 FROM intel_indicators i "
                "WHERE i.type = s.type AND i.value = s.value)"
            ).fetchone()
            refresh = "excluded.suppressed" if warninglists is not None else "suppressed"
            conn.execute(
                "INSERT INTO intel_indicators (type, value, suppressed, created) "
                "SELECT DISTINCT type, value, suppressed, ? FROM temp.intel_stage WHERE true "
                f"ON CONFLICT (type, value) DO UPDATE SET suppressed = {refresh}",
                (stamp,),
            )
            (new_links,) = conn.execute(
                "SELECT count(*) FROM temp.intel_stage s JOIN intel_indicators i "
                "ON i.type = s.type AND i.value = s.value WHERE NOT EXISTS (SELECT 1 "
                "FROM intel_sources x WHERE x.indicator_id = i.id AND x.source = s.source)"
            ).fetchone()
            conn.execute(_UPSERT_SOURCES, {"now": stamp})
            (suppressed,) = conn.execute(
                "SELECT count(*) FROM temp.intel_stage s JOIN intel_indicators i "
                "ON i.type = s.type AND i.value = s.value WHERE i.suppressed != '[]'"
            ).fetchone()
            conn.execute("UPDATE intel_state SET generation = generation + 1")
            conn.execute("DELETE FROM temp.intel_stage")
        totals[1] += new_values
        totals[2] += new_links
        totals[3] += len(staged) - new_links
        totals[5] += suppressed
        seen.update(rows)
        rows.clear()

    def remove_source(self, source: str) -> int:
        """Forget everything ``source`` said; values no source names any more go too."""
        with self._store.write() as conn:
            removed = conn.execute("DELETE FROM intel_sources WHERE source = ?", (source,))
            count = removed.rowcount
            self._drop_orphans(conn)
        return count

    def remove_values(self, values: Iterable[str]) -> int:
        """Remove indicators by value, from every source; returns how many were removed."""
        keys = [k for v in values if (k := _key_of(v)) is not None]
        count = 0
        with self._store.write() as conn:
            for itype, value in keys:
                cur = conn.execute(
                    "DELETE FROM intel_indicators WHERE type = ? AND value = ?", (itype, value)
                )
                count += cur.rowcount
            conn.execute("UPDATE intel_state SET generation = generation + 1")
        return count

    @staticmethod
    def _drop_orphans(conn: Any) -> None:
        conn.execute(
            "DELETE FROM intel_indicators WHERE NOT EXISTS "
            "(SELECT 1 FROM intel_sources s WHERE s.indicator_id = intel_indicators.id)"
        )
        conn.execute("UPDATE intel_state SET generation = generation + 1")

    # -- reading ----------------------------------------------------------------------

    def generation(self) -> int:
        """A number that changes whenever indicators change (for caches)."""
        (gen,) = self._store.connection.execute(
            "SELECT generation FROM intel_state WHERE id = 1"
        ).fetchone()
        return int(gen)

    def list_indicators(
        self,
        *,
        type: str | None = None,
        source: str | None = None,
        suppressed: bool | None = None,
        limit: int | None = None,
    ) -> Iterator[IndicatorRecord]:
        """Indicators in import order, filtered; ``suppressed=True`` only suppressed ones."""
        where: list[str] = []
        args: list[Any] = []
        if type is not None:
            where.append("i.type = ?")
            args.append(type)
        if source is not None:
            where.append("i.id IN (SELECT indicator_id FROM intel_sources WHERE source = ?)")
            args.append(source)
        if suppressed is not None:
            where.append("i.suppressed != '[]'" if suppressed else "i.suppressed = '[]'")
        ids = "SELECT id FROM intel_indicators i"
        if where:
            ids += " WHERE " + " AND ".join(where)
        ids += " ORDER BY id" + (f" LIMIT {int(limit)}" if limit is not None else "")
        sql = f"{_SELECT} WHERE i.id IN ({ids}) ORDER BY i.id, s.source"
        yield from records_of(self._store.connection.execute(sql, args))

    def find(self, value: str) -> list[IndicatorRecord]:
        """Every indicator that names ``value``: the value itself and, for an address, the
        CIDRs holding it; for a domain, its bad parent domains."""
        key = _key_of(value)
        if key is None:
            return []
        itype, norm = key
        pairs: list[tuple[str, str]] = [(itype, norm)]
        if itype == "ip":
            address = ipaddress.ip_address(norm)
            bits = address.max_prefixlen
            pairs += [
                ("cidr", str(ipaddress.ip_network(f"{norm}/{n}", strict=False)))
                for n in range(bits)
            ]
        elif itype == "domain":
            labels = norm.split(".")
            pairs += [("domain", ".".join(labels[i:])) for i in range(1, len(labels) - 1)]
        return [record for pair in pairs for record in self._named(*pair)]

    def find_exact(self, value: str) -> list[IndicatorRecord]:
        """The indicators whose value is ``value`` itself (one query; ``find`` also gives
        the networks and parent domains that hold it)."""
        key = _key_of(value)
        return [] if key is None else self._named(*key)

    def _named(self, itype: str, value: str) -> list[IndicatorRecord]:
        cur = self._store.connection.execute(
            f"{_SELECT} WHERE i.type = ? AND i.value = ? ORDER BY s.source", (itype, value)
        )
        return list(records_of(cur))

    def stats(self, now: datetime | None = None) -> IntelStats:
        """Indicators by type and source, suppressed and expired counts."""
        conn = self._store.connection
        stamp = iso(now or datetime.now(UTC))
        by_type = dict(conn.execute("SELECT type, count(*) FROM intel_indicators GROUP BY type"))
        by_source: dict[str, dict[str, int]] = {}
        for source, itype, count in conn.execute(
            "SELECT s.source, i.type, count(*) FROM intel_sources s "
            "JOIN intel_indicators i ON i.id = s.indicator_id GROUP BY s.source, i.type"
        ):
            by_source.setdefault(source, {})[itype] = count
        (suppressed,) = conn.execute(
            "SELECT count(*) FROM intel_indicators WHERE suppressed != '[]'"
        ).fetchone()
        (links,) = conn.execute("SELECT count(*) FROM intel_sources").fetchone()
        (expired,) = conn.execute(
            "SELECT count(*) FROM intel_sources WHERE valid_until IS NOT NULL AND valid_until <= ?",
            (stamp,),
        ).fetchone()
        return IntelStats(
            indicators=sum(by_type.values()),
            links=links,
            suppressed=suppressed,
            expired=expired,
            by_type=by_type,
            by_source=by_source,
        )

    def expired(self, now: datetime) -> list[tuple[str, str, str, str]]:
        """``(type, value, source, valid_until)`` of every source entry past its expiry."""
        cur = self._store.connection.execute(
            "SELECT i.type, i.value, s.source, s.valid_until FROM intel_sources s "
            "JOIN intel_indicators i ON i.id = s.indicator_id "
            "WHERE s.valid_until IS NOT NULL AND s.valid_until <= ? ORDER BY s.valid_until",
            (iso(now),),
        )
        return [(str(a), str(b), str(c), str(d)) for a, b, c, d in cur]

    def tables(self, now: datetime | None = None) -> IndicatorTables:
        """The matcher's input: unsuppressed values with at least one unexpired source."""
        stamp = iso(now or datetime.now(UTC))
        cur = self._store.connection.execute(
            "SELECT i.type, i.value, group_concat(s.source, char(31)), max(s.confidence) "
            "FROM intel_indicators i JOIN intel_sources s ON s.indicator_id = i.id "
            "WHERE i.suppressed = '[]' AND (s.valid_until IS NULL OR s.valid_until > ?) "
            "GROUP BY i.id",
            (stamp,),
        )
        return IndicatorTables.from_rows((t, v, s.split("\x1f"), c) for t, v, s, c in cur)

    def proxy_addresses(self, now: datetime | None = None) -> list[str]:
        """Unexpired IP and CIDR indicators that a source calls a proxy (in a tag, the
        comment or its event's title): the origin stage marks them ``obscured``."""
        return [value for value, _ in self.proxy_entries(now)]

    def proxy_entries(self, now: datetime | None = None) -> list[tuple[str, str | None]]:
        """``(value, earliest expiry ahead or None)`` of each open-proxy indicator."""
        cur = self._store.connection.execute(
            "SELECT i.value, min(s.valid_until) FROM intel_indicators i "
            "JOIN intel_sources s ON s.indicator_id = i.id "
            "WHERE i.type IN ('ip', 'cidr') "
            "AND (s.valid_until IS NULL OR s.valid_until > ?) "
            "AND (s.tags LIKE '%proxy%' OR s.comment LIKE '%proxy%' "
            "OR s.origin_info LIKE '%proxy%') GROUP BY i.value ORDER BY i.value",
            (iso(now or datetime.now(UTC)),),
        )  # LIKE is case-insensitive for ASCII in SQLite
        return [(str(v), None if u is None else str(u)) for v, u in cur]

    def next_expiry(self, now: datetime | None = None) -> str | None:
        """The earliest expiry still ahead: a matcher built now is stale from then on."""
        (stamp,) = self._store.connection.execute(
            "SELECT min(valid_until) FROM intel_sources WHERE valid_until > ?",
            (iso(now or datetime.now(UTC)),),
        ).fetchone()
        return str(stamp) if stamp is not None else None


def _key_of(value: str) -> tuple[IndicatorType, str] | None:
    """The stored ``(type, value)`` a user's value would have."""
    try:
        return sniff(value)
    except NormalizeError:
        try:
            return "domain", normalize_domain(value)
        except NormalizeError:
            return None
