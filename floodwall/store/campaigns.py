"""Campaigns in the store (migration 0007): build them from alerts and messages, keep
them, and write each member's ``campaign_id`` back (0005 columns).

A build clusters the items of one time window (``enrich/campaigns.py``). The window
ends at the newest item and spans ``window_days`` before it, unless ``since`` says
where it starts. Campaigns seen in the window are rebuilt from scratch; older ones
stay as they were. Reading happens in one read transaction, so the two passes over
the items see the same snapshot while the gateway keeps writing (WAL).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from floodwall.store.db import Store

if TYPE_CHECKING:
    from floodwall.enrich.campaign_keys import CampaignKeyer, FuzzyHash
    from floodwall.enrich.campaigns import (
        CampaignItem,
        CampaignSummary,
        ClusterLimits,
        ClusterResult,
    )
    from floodwall.mail.scan import ScanResult
    from floodwall.settings import Settings

__all__ = [
    "DEFAULT_WINDOW_DAYS",
    "CampaignStore",
    "MessageKeyRecorder",
    "StoredCampaign",
]

DEFAULT_WINDOW_DAYS = 30
_BATCH = 10_000

# Event time when the source wrote an ISO 8601 one, else when the alert was stored.
_ALERT_TIME = (
    "CASE WHEN timestamp GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]*'"
    " THEN replace(substr(timestamp, 1, 19), ' ', 'T') ELSE substr(created, 1, 19) END"
)
_ALERTS = (
    f"SELECT id, {_ALERT_TIME} AS t, host, source_ip, asn, origin, country, attack, rule_id,"
    " json_extract(finding, '$.observables') FROM alerts"
)
_MESSAGES = (
    "SELECT m.id, substr(m.scanned, 1, 19) AS t, m.source_ip, m.asn, m.origin, m.country,"
    " m.attack, m.recipients, m.from_addr,"
    " (SELECT json_group_array(json_array(k.kind, k.value)) FROM message_keys k"
    "  WHERE k.sha256 = m.sha256) FROM messages m"
)


@dataclass(frozen=True, slots=True)
class StoredCampaign:
    """A campaign row; the JSON columns decoded."""

    id: str
    first_seen: str
    last_seen: str
    alert_count: int
    message_count: int
    target_count: int
    origins: list[dict[str, Any]]
    techniques: list[dict[str, Any]]
    shared_keys: list[dict[str, Any]]
    targets: dict[str, Any]
    timeline: list[dict[str, Any]]
    origin_confidence: str
    confidence_reason: str
    updated: str

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON values, for ``--format json``."""
        return {name: getattr(self, name) for name in self.__slots__}


_COLUMNS = StoredCampaign.__slots__
_JSON_COLUMNS = frozenset({"origins", "techniques", "shared_keys", "targets", "timeline"})


class CampaignStore:
    """Builds, lists and shows campaigns; records the keys of scanned messages."""

    def __init__(self, store: Store, keyer: CampaignKeyer | None = None) -> None:
        """``keyer`` turns stored values into keys; only ``build`` and
        ``add_message_keys`` need it."""
        self._store = store
        self._keyer = keyer

    def _need_keyer(self) -> CampaignKeyer:
        if self._keyer is None:
            raise ValueError("building campaigns needs a CampaignKeyer")
        return self._keyer

    def add_message_keys(
        self, results: Iterable[ScanResult], fuzzy_hash: FuzzyHash | None = None
    ) -> int:
        """Keep what each message's content ties it to (by its sha256); returns rows."""
        keyer = self._need_keyer()
        rows: list[tuple[str, str, str]] = []
        for r in results:
            found = keyer.message_keys(r.message, fuzzy_hash)
            sha = r.message.sha256
            rows += [(sha, "key", k) for k in found.keys]
            rows += [(sha, "tlsh", d) for d in found.fuzzy]
            rows += [(sha, "rcpt", _text(a)) for a in found.recipients]
        if rows:
            with self._store.write() as conn:
                conn.executemany(
                    "INSERT OR IGNORE INTO message_keys (sha256, kind, value) VALUES (?, ?, ?)",
                    rows,
                )
        return len(rows)

    def build(
        self,
        *,
        since: str | None = None,
        window_days: int = DEFAULT_WINDOW_DAYS,
        limits: ClusterLimits | None = None,
    ) -> ClusterResult:
        """Cluster the window's alerts and messages; store campaigns and member ids."""
        # numpy loads here, not when ``campaigns list`` or a hunt imports this module.
        from floodwall.enrich.campaigns import cluster_campaigns

        conn = self._store.connection
        conn.execute("BEGIN")  # one snapshot for both passes (WAL readers never block)
        try:
            start = since or self._window_start(window_days)
            result = cluster_campaigns(lambda: self._items(start), limits)
        finally:
            conn.execute("COMMIT")
        self._write(result, start)
        return result

    def _window_start(self, days: int) -> str:
        # The window ends at the newest item, but never in the future: attackers write
        # log timestamps, and one event dated 9999 must not push every real one out.
        now = datetime.now(UTC).replace(tzinfo=None)
        latest = (now + timedelta(days=1)).isoformat(timespec="seconds")
        conn = self._store.connection
        (a,) = conn.execute(
            f"SELECT max(t) FROM (SELECT {_ALERT_TIME} AS t FROM alerts) WHERE t <= ?", (latest,)
        ).fetchone()
        (m,) = conn.execute(
            "SELECT max(substr(scanned, 1, 19)) FROM messages WHERE scanned <= ?", (latest,)
        ).fetchone()
        newest = max((t for t in (a, m) if t), default=None)
        if newest is None:
            return ""
        try:
            end = datetime.fromisoformat(newest)
        except ValueError:
            end = now  # a malformed newest time: fall back to today
        return (end - timedelta(days=days)).isoformat(timespec="seconds")[:19]

    def _items(self, start: str) -> Iterator[CampaignItem]:
        from floodwall.enrich.campaigns import CampaignItem as Item

        keyer = self._need_keyer()
        conn = self._store.connection
        cur = conn.execute(f"SELECT * FROM ({_ALERTS}) WHERE t >= ? ORDER BY rowid", (start,))
        while rows := cur.fetchmany(_BATCH):
            for aid, t, host, ip, asn, origin, country, attack, rule_id, obs in rows:
                # alerts.source_ip holds only what as_public_ip chose (enrich/context.py)
                keys = keyer.address_keys(ip, asn, is_checked=True)
                if obs:
                    keys += keyer.observable_keys(
                        _observables(obs), is_intel=str(rule_id).startswith("intel.")
                    )
                yield Item(
                    "alert", aid, t, tuple(dict.fromkeys(keys)), (), origin, country,
                    tuple(json.loads(attack)), (f"host:{host}",) if host else (),
                )  # fmt: skip
        cur = conn.execute(f"SELECT * FROM ({_MESSAGES}) WHERE t >= ? ORDER BY rowid", (start,))
        while rows := cur.fetchmany(_BATCH):
            for mid, t, ip, asn, origin, country, attack, n, sender, stored in rows:
                keys = keyer.address_keys(ip, asn)  # the gateway stores any client address
                sender_key = keyer.domain_key(sender.rpartition("@")[2]) if sender else None
                if sender_key:
                    keys.append(sender_key)
                fuzzy: list[str] = []
                rcpts: list[str] = []
                for kind, value in json.loads(stored or "[]"):
                    {"key": keys, "tlsh": fuzzy, "rcpt": rcpts}.get(kind, []).append(value)
                yield Item(
                    "message", mid, t, tuple(dict.fromkeys(keys)), tuple(fuzzy), origin,
                    country, tuple(json.loads(attack)), tuple(f"rcpt:{r}" for r in rcpts),
                    0 if rcpts else int(n),
                )  # fmt: skip

    def _write(self, result: ClusterResult, start: str) -> None:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        rows = [_row(c, now) for c in result.campaigns]
        # Generators: a million members are never a list of a million tuples.
        alert_ids = ((c.id, a) for c in result.campaigns for a in c.alert_ids)
        message_ids = ((c.id, m) for c in result.campaigns for m in c.message_ids)
        with self._store.write() as conn:
            stale = "SELECT id FROM campaigns WHERE last_seen >= ?"
            conn.execute(f"UPDATE alerts SET campaign_id = NULL WHERE campaign_id IN ({stale})",
                         (start,))  # fmt: skip
            conn.execute(f"UPDATE messages SET campaign_id = NULL WHERE campaign_id IN ({stale})",
                         (start,))  # fmt: skip
            conn.execute("DELETE FROM campaigns WHERE last_seen >= ?", (start,))
            conn.executemany(
                f"INSERT OR REPLACE INTO campaigns ({', '.join(_COLUMNS)})"
                f" VALUES ({', '.join('?' * len(_COLUMNS))})",
                rows,
            )
            conn.executemany("UPDATE alerts SET campaign_id = ? WHERE id = ?", alert_ids)
            conn.executemany("UPDATE messages SET campaign_id = ? WHERE id = ?", message_ids)

    def list_campaigns(
        self, *, since: str | None = None, limit: int = 1000
    ) -> list[StoredCampaign]:
        """Campaigns last seen at or after ``since``, most recently seen first."""
        sql = f"SELECT {', '.join(_COLUMNS)} FROM campaigns"
        params: list[Any] = []
        if since:
            sql += " WHERE last_seen >= ?"
            params.append(since)
        sql += " ORDER BY last_seen DESC, id LIMIT ?"
        params.append(limit)
        return [_stored(r) for r in self._store.connection.execute(sql, params)]

    def get(self, campaign_id: str) -> StoredCampaign | None:
        """One campaign, or None."""
        row = self._store.connection.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM campaigns WHERE id = ?", (campaign_id,)
        ).fetchone()
        return _stored(row) if row else None

    def members(self, campaign_id: str, *, limit: int = 50) -> list[dict[str, Any]]:
        """The earliest members of a campaign: kind, id, time, and what it is."""
        conn = self._store.connection
        rows = conn.execute(
            f"SELECT 'alert', id, {_ALERT_TIME} AS t, rule_title, host, source_ip FROM alerts"
            " WHERE campaign_id = ? UNION ALL"
            " SELECT 'message', id, substr(scanned, 1, 19), subject, from_addr, source_ip"
            " FROM messages WHERE campaign_id = ? ORDER BY 3, 2 LIMIT ?",
            (campaign_id, campaign_id, limit),
        ).fetchall()
        names = ("kind", "id", "time", "title", "who", "source_ip")
        return [dict(zip(names, r, strict=True)) for r in rows]


def _text(value: str) -> str:
    return value.encode("utf-8", "replace").decode("utf-8")


def _observables(text: str) -> list[Any]:
    from floodwall.records import Observable

    try:
        raw = json.loads(text)
    except ValueError:
        return []
    return [
        Observable(str(o.get("kind", "")), str(o.get("value", "")))
        for o in raw
        if isinstance(o, dict)
    ]


def _row(c: CampaignSummary, now: str) -> tuple[Any, ...]:
    members = len(c.alert_ids) + len(c.message_ids)
    values = {
        "id": c.id,
        "first_seen": c.first_seen,
        "last_seen": c.last_seen,
        "alert_count": len(c.alert_ids),
        "message_count": len(c.message_ids),
        "target_count": c.target_count,
        "origins": [
            {"origin": o, "members": n, "share": round(n / members, 4)} for o, n in c.origins
        ],
        "techniques": [{"id": t, "members": n} for t, n in c.techniques],
        "shared_keys": [{"key": k, "members": n} for k, n in c.shared_keys],
        "targets": {"hosts": list(c.hosts), "recipients": list(c.recipients)},
        "timeline": [{"day": d, "members": n} for d, n in c.timeline],
        "origin_confidence": c.origin_confidence,
        "confidence_reason": c.confidence_reason,
        "updated": now,
    }
    return tuple(json.dumps(values[k]) if k in _JSON_COLUMNS else values[k] for k in _COLUMNS)


def _stored(row: tuple[Any, ...]) -> StoredCampaign:
    values = dict(zip(_COLUMNS, row, strict=True))
    for k in _JSON_COLUMNS:
        values[k] = json.loads(values[k])
    return StoredCampaign(**values)


class MessageKeyRecorder:
    """What ``mail scan`` calls after storing each batch: keeps the campaign keys of the
    messages' content (links, attachments, TLSH), which the messages table does not
    hold. The keyer and TLSH load on the first batch."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._settings = settings
        self._campaigns: CampaignStore | None = None

    def add(self, results: Iterable[ScanResult]) -> int:
        """Record the keys of ``results``; returns rows written."""
        results = list(results)
        if not results:
            return 0
        if self._campaigns is None:
            from floodwall.enrich.campaign_keys import load_campaign_keyer

            self._campaigns = CampaignStore(self._store, load_campaign_keyer(self._settings))
        from floodwall.enrich.fuzzy import tlsh_digest

        return self._campaigns.add_message_keys(results, tlsh_digest)
