"""The ``mail_domains`` table (migration 0009): registered domains named by the mail the
organisation received, with first and last sighting (``floodwall/enrich/domain_history.py``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

from floodwall.enrich.domain_history import MAX_DOMAINS, DomainHistory
from floodwall.store.db import Store

_UPSERT = (
    "INSERT INTO mail_domains (domain, first_seen, last_seen, messages) VALUES (?, ?, ?, 1)"
    " ON CONFLICT (domain) DO UPDATE SET"
    " first_seen = min(first_seen, excluded.first_seen),"
    " last_seen = max(last_seen, excluded.last_seen), messages = messages + 1"
)


def _text(value: str) -> str:
    return value.encode("utf-8", "replace").decode("utf-8")  # no lone surrogate in SQLite


class MailDomainStore:
    """Reads and adds first sightings of domains in mail."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def observe(self, sightings: Iterable[tuple[Sequence[str], float]]) -> int:
        """Add each message's domains seen at its time, in one write transaction; returns
        how many domain sightings were written."""
        rows = [(_text(d), when, when) for domains, when in sightings for d in domains]
        if rows:
            with self._store.write() as conn:
                conn.executemany(_UPSERT, rows)
        return len(rows)

    def load(self, limit: int = MAX_DOMAINS) -> DomainHistory:
        """The history, of the ``limit`` most recently seen domains when there are more;
        it runs since the earliest sighting in the table."""
        conn = self._store.connection
        since = conn.execute("SELECT min(first_seen) FROM mail_domains").fetchone()[0]
        rows = conn.execute(
            "SELECT domain, first_seen FROM mail_domains ORDER BY last_seen DESC LIMIT ?",
            (limit,),
        )
        return DomainHistory(dict(rows.fetchall()), since)

    def first_seen_since(self, when: float) -> dict[str, float]:
        """Domains first seen at ``when`` or later (a scanner's refresh), by first sighting."""
        try:
            rows = self._store.connection.execute(
                "SELECT domain, first_seen FROM mail_domains WHERE first_seen >= ?"
                " ORDER BY first_seen LIMIT ?",
                (when, MAX_DOMAINS),
            )
            return dict(rows.fetchall())
        except sqlite3.OperationalError:  # the database is busy: next time
            return {}
