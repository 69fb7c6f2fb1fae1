"""Mail verdicts in the store: what was scanned, and what the policy decided."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from floodwall.mail.scan import ScanResult
from floodwall.store.db import Store


def _text(value: str) -> str:
    # Hostile input may carry lone surrogates (undecodable file names, broken headers),
    # which SQLite cannot store as TEXT.
    return value.encode("utf-8", "replace").decode("utf-8")


def _message_id() -> str:
    # Time-ordered ids keep inserts at the end of the primary-key index.
    return f"{time.time_ns():020x}{os.urandom(6).hex()}"


_NO_ORIGIN = (None, None, None, None, "unknown", "no origin looked up", "{}")


def _origin_columns(ctx: Mapping[str, Any]) -> tuple[Any, ...]:
    """``(source_ip, country, asn, as_org, origin, origin_reason, enrichment)``."""
    source = ctx.get("source") or {}
    origin = ctx.get("origin") or {}
    geo = source.get("geo") or {}
    network = source.get("as") or {}
    org = (network.get("organization") or {}).get("name")
    return (
        source.get("ip"),
        geo.get("country_iso_code"),
        network.get("number"),
        _text(org) if org else None,
        str(origin.get("class", "unknown")),
        _text(str(origin.get("reason", ""))),
        json.dumps(ctx, default=str),  # ASCII escapes: no lone surrogate reaches SQLite
    )


class MessageStore:
    """Writes scan results to the ``messages`` table in one transaction per batch."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def add(
        self,
        results: Iterable[ScanResult],
        *,
        source: str = "scan",
        recipients: Sequence[int] | None = None,
        contexts: Sequence[Mapping[str, Any]] | None = None,
    ) -> int:
        """Store one row per message; returns how many were stored.

        ``recipients`` gives each result's recipient count (the gateway passes its
        envelope's); without it a message counts once per To and Cc address.
        ``contexts`` gives each result's origin (``AlertContextEnricher.for_addresses``:
        ``source`` {ip, geo, as} and ``origin`` {class, reason}), stored in the columns of
        migration 0005 and, whole, in ``enrichment``; without it the origin is unknown.
        """
        now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        results = list(results)
        if recipients is not None and len(recipients) != len(results):
            raise ValueError("recipients needs one count per result")
        counts = recipients or [max(len(r.message.to), 1) for r in results]
        if contexts is not None and len(contexts) != len(results):
            raise ValueError("contexts needs one object per result")
        origins = [_origin_columns(c) for c in contexts] if contexts is not None else None
        rows = [
            (
                _message_id(), now, source, _text(r.message.origin.path),
                r.message.origin.record_id, _text(r.message.message_id), r.message.sha256,
                _text(r.message.from_addr), _text(r.message.subject),
                max(n, 1), r.verdict.action, r.verdict.score,
                json.dumps([{"id": s.id, "score": s.score, "reason": _text(s.reason)}
                            for s in r.verdict.symbols]),
                json.dumps([_text(u) for u in r.verdict.unscannable]),
                json.dumps(sorted({t for f in r.findings for t in f.attack})),
                *(origins[i] if origins is not None else _NO_ORIGIN),
            )
            for i, (r, n) in enumerate(zip(results, counts, strict=True))
        ]  # fmt: skip
        if rows:
            with self._store.write() as conn:
                conn.executemany(
                    "INSERT INTO messages (id, scanned, source, path, record_id, message_id,"
                    " sha256, from_addr, subject, recipients, verdict, score, symbols,"
                    " unscannable, attack, source_ip, country, asn, as_org, origin,"
                    " origin_reason, enrichment)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
        return len(rows)

    def counts(self) -> dict[str, int]:
        """Messages per verdict, each counted once per recipient."""
        cur = self._store.connection.execute(
            "SELECT verdict, SUM(recipients) FROM messages GROUP BY verdict"
        )
        return {str(v): int(n) for v, n in cur.fetchall()}
