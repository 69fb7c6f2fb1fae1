"""The console's audit log: append-only and hash-chained.

Each entry stores the hash of the entry before it, and its own hash covers that and
every field it holds, so changing, removing or reordering any entry breaks the chain
from there on (the construction of a hash chain, as in RFC 6962's tree-less form).
SQLite triggers refuse UPDATE and DELETE on the table (migration 0006); someone who
edits the file directly can drop them, and ``verify`` is what catches that.

An entry removed from the very end leaves no break in what remains, so ``verify`` also
compares the highest sequence number SQLite ever handed out (``sqlite_sequence``, kept
by AUTOINCREMENT), and takes an optional anchor, a ``seq:hash`` pair noted earlier (the
head ``verify`` printed), to prove that nothing before it was rewritten.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
MAX_FIELD = 2000


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One entry of the audit log."""

    seq: int
    at: str
    actor: str
    action: str
    target: str
    detail: str  # JSON object text, hashed exactly as stored
    client_ip: str
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What ``verify`` found: ``broken_at`` is the first bad entry's seq, or None."""

    entries: int
    head_seq: int
    head_hash: str
    broken_at: int | None
    problem: str

    @property
    def is_intact(self) -> bool:
        return self.broken_at is None and not self.problem


def iso_now(now: datetime | None = None) -> str:
    """ISO 8601 UTC to the microsecond, with ``Z``: sorts as text."""
    moment = datetime.now(UTC) if now is None else now.astimezone(UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _clean(value: str) -> str:
    # Attackers choose the user names tried at login; keep them storable and bounded.
    return value.encode("utf-8", "replace").decode("utf-8")[:MAX_FIELD]


def entry_hash(
    prev_hash: str,
    seq: int,
    at: str,
    actor: str,
    action: str,
    target: str,
    detail: str,
    client_ip: str,
) -> str:
    """SHA-256 over the previous hash and the entry's fields, as canonical JSON."""
    body = json.dumps(
        [prev_hash, seq, at, actor, action, target, detail, client_ip],
        ensure_ascii=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode("ascii")).hexdigest()


def append(
    conn: sqlite3.Connection,
    *,
    actor: str,
    action: str,
    target: str = "",
    detail: Mapping[str, Any] | None = None,
    client_ip: str = "",
    at: str | None = None,
) -> AuditRecord:
    """Add one entry; the caller holds the write transaction (``Store.write``).

    Inside BEGIN IMMEDIATE the last entry cannot change under us, so two processes
    never chain onto the same predecessor.
    """
    if not conn.in_transaction:
        raise RuntimeError("audit.append needs a write transaction (Store.write)")
    last = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq_row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'").fetchone()
    used = max(int(last[0]) if last else 0, int(seq_row[0]) if seq_row else 0)
    prev = str(last[1]) if last else GENESIS
    record = AuditRecord(
        seq=used + 1,
        at=at or iso_now(),
        actor=_clean(actor) or "-",
        action=_clean(action),
        target=_clean(target),
        detail=json.dumps(dict(detail or {}), ensure_ascii=True, sort_keys=True, default=str),
        client_ip=_clean(client_ip),
        prev_hash=prev,
        hash="",
    )
    digest = entry_hash(
        prev, record.seq, record.at, record.actor, record.action, record.target,
        record.detail, record.client_ip,
    )  # fmt: skip
    conn.execute(
        "INSERT INTO audit_log (seq, at, actor, action, target, detail, client_ip,"
        " prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (record.seq, record.at, record.actor, record.action, record.target, record.detail,
         record.client_ip, prev, digest),
    )  # fmt: skip
    return dataclasses.replace(record, hash=digest)


_COLUMNS = "seq, at, actor, action, target, detail, client_ip, prev_hash, hash"


def _records(cur: sqlite3.Cursor) -> Iterator[AuditRecord]:
    for row in cur:
        yield AuditRecord(int(row[0]), *(str(v) for v in row[1:]))


def entries(
    conn: sqlite3.Connection,
    *,
    before: int | None = None,
    action: str | None = None,
    actor: str | None = None,
    limit: int = 100,
) -> list[AuditRecord]:
    """Newest first; ``before`` is the keyset cursor (a seq)."""
    where: list[str] = []
    params: list[Any] = []
    if before is not None:
        where.append("seq < ?")
        params.append(before)
    if action is not None:
        where.append("action = ?")
        params.append(action)
    if actor is not None:
        where.append("actor = ?")
        params.append(actor)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    cur = conn.execute(
        f"SELECT {_COLUMNS} FROM audit_log{clause} ORDER BY seq DESC LIMIT ?", (*params, limit)
    )
    return list(_records(cur))


def verify(conn: sqlite3.Connection, *, anchor: tuple[int, str] | None = None) -> ChainReport:
    """Recompute the chain from the first entry; report the first entry that breaks it.

    A break is: a hash that does not match the entry's fields (edited), a prev_hash that
    is not the previous entry's hash (removed or reordered), or a gap in seq (removed).
    """
    prev_hash, prev_seq, count = GENESIS, 0, 0
    anchor_seen = anchor is None
    cur = conn.execute(f"SELECT {_COLUMNS} FROM audit_log ORDER BY seq")
    for r in _records(cur):
        count += 1
        problem = ""
        if r.prev_hash != prev_hash:
            problem = "does not follow the entry before it (an entry was removed or moved)"
        elif r.seq != prev_seq + 1:
            problem = f"comes after seq {prev_seq}: entries in between were removed"
        elif r.hash != entry_hash(
            r.prev_hash, r.seq, r.at, r.actor, r.action, r.target, r.detail, r.client_ip
        ):
            problem = "its content does not match its hash (the entry was edited)"
        elif anchor is not None and r.seq == anchor[0]:
            if r.hash != anchor[1]:
                problem = "differs from the anchor noted earlier (the log was rewritten)"
            anchor_seen = True
        if problem:
            return ChainReport(count, prev_seq, prev_hash, r.seq, f"entry {r.seq} {problem}")
        prev_hash, prev_seq = r.hash, r.seq
    seq_row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'").fetchone()
    issued = int(seq_row[0]) if seq_row else 0
    if issued > prev_seq:
        return ChainReport(
            count, prev_seq, prev_hash, prev_seq + 1,
            f"entries {prev_seq + 1}..{issued} were issued and are gone (the end was cut)",
        )  # fmt: skip
    if not anchor_seen and anchor is not None:
        return ChainReport(
            count, prev_seq, prev_hash, anchor[0],
            f"the anchor entry {anchor[0]} is missing (the end of the log was cut)",
        )  # fmt: skip
    return ChainReport(count, prev_seq, prev_hash, None, "")
