"""The mail quarantine: held messages as files, their facts and every action in the store.

A held message is one file under ``data_dir/quarantine`` (``YYYY-MM-DD/<id>.eml``,
mode 0600) and one ``quarantine`` row; every action on it adds a ``quarantine_audit``
row saying who did what, when and why. Rows are never removed: deleting or expiring a
message removes its file and keeps the record of what happened to it.

Two guarantees the gateway and the operators rely on:
- ``hold`` returns only once the file is on disk for good (fsync of the file, rename,
  fsync of its directories), so the gateway may answer ``250`` after it;
- a message is never delivered twice: ``release`` claims the row in a write
  transaction before sending, so a second release, concurrent or later, is refused;
  a release that died half-way leaves its claim, and only ``force=True`` goes past it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from floodwall.mail.scan import ScanResult, result_object
from floodwall.respond.header_filter import strip_own_fields
from floodwall.store.db import Store
from floodwall.store.durable import fsync_dir, write_durably
from floodwall.store.quarantine_records import (
    AUDIT_ACTIONS,
    COLUMNS,
    ID_PREFIX,
    MAX_HEADER_VALUE,
    MAX_HEADERS,
    MAX_TEXT,
    STATUSES,
    AlreadyHeldError,
    AuditEntry,
    HeldAttachment,
    QuarantinedMessage,
    QuarantineError,
    check_id,
    clean_text,
    decode_row,
    is_quarantine_id,
    new_id,
    now_iso,
    outcome_detail,
    required_reason,
)

__all__ = [
    "AUDIT_ACTIONS",
    "STATUSES",
    "AuditEntry",
    "HeldAttachment",
    "QuarantineError",
    "QuarantineStore",
    "QuarantinedMessage",
    "is_quarantine_id",
]


class QuarantineStore:
    """Hold, list, show, release, delete and expire quarantined messages.

    ``root`` is ``data_dir / "quarantine"``. One instance per process (or thread), like
    the ``Store`` it is given; several processes may share the same root and store.
    """

    def __init__(self, store: Store, root: Path) -> None:
        self._store = store
        self._root = root
        if not root.is_dir():
            root.mkdir(mode=0o700, parents=True, exist_ok=True)
            fsync_dir(root.parent)

    @property
    def root(self) -> Path:
        """The folder the message files live under."""
        return self._root

    # -- holding ---------------------------------------------------------------------

    def hold(
        self,
        raw: bytes,
        result: ScanResult,
        *,
        mail_from: str,
        rcpt_to: Sequence[str],
        source: str = "gateway",
        actor: str = "floodwall",
        key: str | None = None,
    ) -> str:
        """Keep ``raw`` and its scan result; returns the quarantine id.

        Durable on return. With ``key`` (the gateway's spool id) a second hold of the
        same key returns the first id and writes nothing, so a gateway that crashed
        after holding and before clearing its spool does not hold the message twice.
        """
        if key is not None:
            key = clean_text(key, 200)
            found = self._by_key(key)
            if found is not None:
                return found
        qid = new_id()
        held = now_iso()
        relative = f"{held[:10]}/{qid}.eml"
        self._write_file(relative, raw)
        obj = result_object(result)
        msg = result.message
        headers = [[clean_text(n, 200), clean_text(v, MAX_HEADER_VALUE)] for n, v in msg.headers]
        row = (
            qid, held, clean_text(source, 100), key, clean_text(mail_from, 1000),
            json.dumps([clean_text(r, 1000) for r in rcpt_to]), clean_text(msg.message_id, 1000),
            clean_text(msg.from_addr, 1000), clean_text(msg.subject, 2000),
            json.dumps(headers[:MAX_HEADERS]), obj["sha256"], len(raw),
            result.verdict.action, float(result.verdict.score),
            json.dumps([{**s, "reason": clean_text(s["reason"])} for s in obj["symbols"]]),
            json.dumps([{**a, "name": clean_text(a["name"]), "path": clean_text(a["path"])}
                        for a in obj["attachments"]]),
            json.dumps([clean_text(u) for u in obj["unscannable"]]), relative, held,
        )  # fmt: skip
        try:
            with self._store.write() as conn:
                if key is not None:
                    found = self._by_key(key)
                    if found is not None:  # another process held it meanwhile
                        raise AlreadyHeldError(found)
                conn.execute(
                    "INSERT INTO quarantine (id, held, source, hold_key, mail_from, rcpt_to,"
                    " message_id, from_addr, subject, headers, sha256, size, verdict, score,"
                    " symbols, attachments, unscannable, file, status_changed)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
                self._audit(conn, qid, held, actor, "hold", "", f"verdict {result.verdict.action}")
        except AlreadyHeldError as e:
            self._remove_file(relative)
            return e.qid
        except BaseException:
            self._remove_file(relative)
            raise
        return qid

    def _by_key(self, key: str) -> str | None:
        cur = self._store.connection.execute("SELECT id FROM quarantine WHERE hold_key = ?", (key,))
        found = cur.fetchone()
        return None if found is None else str(found[0])

    def _write_file(self, relative: str, data: bytes) -> None:
        """Temp file, fsync, rename, fsync the directory (and the root if the day is new)."""
        final = self._root / relative
        folder = final.parent
        if not folder.is_dir():
            folder.mkdir(mode=0o700, exist_ok=True)
        # A racing process may have created the day folder without its fsync yet done:
        # the root is synced every time, not only by whoever created the folder.
        write_durably(folder / f".{final.name}.tmp", final, data)
        fsync_dir(self._root)

    def _path(self, relative: str) -> Path:
        # The row names the file; a tampered row must not reach outside the root.
        path = (self._root / relative).resolve()
        if not path.is_relative_to(self._root.resolve()):
            raise QuarantineError(f"message file {relative!r} lies outside the quarantine")
        return path

    def _remove_file(self, relative: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(relative).unlink()

    @staticmethod
    def _audit(
        conn: sqlite3.Connection, qid: str, at: str, actor: str, action: str, reason: str,
        detail: str,
    ) -> None:  # fmt: skip
        conn.execute(
            "INSERT INTO quarantine_audit (quarantine_id, at, actor, action, reason, detail)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                qid,
                at,
                clean_text(actor, 200) or "unknown",
                action,
                reason,
                clean_text(detail, MAX_TEXT),
            ),
        )

    # -- reading ---------------------------------------------------------------------

    def get(self, qid: str) -> QuarantinedMessage | None:
        """The row of ``qid``, or None; a malformed id is refused with ValueError."""
        cur = self._store.connection.execute(
            f"SELECT {COLUMNS} FROM quarantine WHERE id = ?", (check_id(qid),)
        )
        row = cur.fetchone()
        return None if row is None else decode_row(row)

    def resolve(self, prefix: str) -> str:
        """The one id starting with ``prefix`` (at least 6 hex digits), for the CLI."""
        if ID_PREFIX.fullmatch(prefix) is None:
            raise ValueError(f"not a quarantine id: {clean_text(prefix)[:80]!r}")
        cur = self._store.connection.execute(
            "SELECT id FROM quarantine WHERE id >= ? AND id < ? ORDER BY id LIMIT 2",
            (prefix, prefix + "g"),  # 'g' sorts after every hex digit
        )
        ids = [str(r[0]) for r in cur.fetchall()]
        if not ids:
            raise QuarantineError(f"no quarantined message {prefix}")
        if len(ids) > 1:
            raise QuarantineError(f"{prefix} names more than one message; give more digits")
        return ids[0]

    def show(self, qid: str, *, actor: str) -> QuarantinedMessage:
        """The row of ``qid``, recording that ``actor`` looked at it."""
        msg = self._need(qid)
        with self._store.write() as conn:
            self._audit(conn, qid, now_iso(), actor, "show", "", "")
        return msg

    def raw(self, qid: str, *, actor: str, reason: str) -> bytes:
        """The message's bytes, as received; recorded as a ``download`` with its reason."""
        why = required_reason(reason)
        msg = self._need(qid)
        if msg.status in ("deleted", "expired") or not msg.file:
            raise QuarantineError(f"message {qid} is {msg.status}; its file is gone")
        data = self._path(msg.file).read_bytes()
        with self._store.write() as conn:
            self._audit(conn, qid, now_iso(), actor, "download", why, f"{len(data)} bytes")
        return data

    def _need(self, qid: str) -> QuarantinedMessage:
        msg = self.get(qid)
        if msg is None:
            raise QuarantineError(f"no quarantined message {qid}")
        return msg

    def audit(self, qid: str | None = None, *, limit: int = 1000) -> tuple[AuditEntry, ...]:
        """The actions on ``qid`` (or on every message, the latest ``limit``), oldest first."""
        cols = "id, quarantine_id, at, actor, action, reason, detail"
        if qid is not None:
            cur = self._store.connection.execute(
                f"SELECT {cols} FROM quarantine_audit WHERE quarantine_id = ? ORDER BY id",
                (check_id(qid),),
            )
        else:
            cur = self._store.connection.execute(
                f"SELECT * FROM (SELECT {cols} FROM quarantine_audit ORDER BY id DESC LIMIT ?)"
                " ORDER BY id",
                (limit,),
            )
        return tuple(AuditEntry(*row) for row in cur.fetchall())

    # -- acting ----------------------------------------------------------------------

    def release(
        self,
        qid: str,
        *,
        actor: str,
        reason: str,
        send: Callable[[str, Sequence[str], bytes], object],
        force: bool = False,
    ) -> object:
        """Deliver a held message through ``send(mail_from, rcpt_to, raw)``, once.

        Returns what ``send`` returned. When ``send`` raises, the failure is recorded
        as ``release_failed``, the message stays held, and the exception propagates.
        ``force`` goes past the claim of an earlier release that died half-way (it
        may have delivered the message: check the next hop first).
        """
        why = required_reason(reason)
        claim = f"{clean_text(actor, 200)} at {now_iso()} (pid {os.getpid()})"
        with self._store.write() as conn:
            msg = self._need(qid)
            if msg.status != "held":
                raise QuarantineError(
                    f"message {qid} is {msg.status} (since {msg.status_changed}); "
                    "only a held message can be released"
                )
            if msg.release_claim is not None and not force:
                raise QuarantineError(
                    f"a release of {qid} by {msg.release_claim} did not finish; the message "
                    "may have been delivered: check the next hop, then release with force"
                )
            conn.execute("UPDATE quarantine SET release_claim = ? WHERE id = ?", (claim, qid))
            if msg.release_claim is not None:
                detail = f"forced past the claim of {msg.release_claim}"
                self._audit(conn, qid, now_iso(), actor, "release_failed", why, detail)
        try:
            # As the gateway relays: none of the sender's own X-Floodwall-* or
            # "Authentication-Results: floodwall" fields reach the mailbox (RFC 8601 §5).
            raw = strip_own_fields(self._path(msg.file).read_bytes())
            outcome = send(msg.mail_from, msg.rcpt_to, raw)
        except Exception as exc:
            with self._store.write() as conn:
                conn.execute("UPDATE quarantine SET release_claim = NULL WHERE id = ?", (qid,))
                detail = f"{type(exc).__name__}: {exc}"
                self._audit(conn, qid, now_iso(), actor, "release_failed", why, detail)
            raise
        # A BaseException (Ctrl-C) in send leaves the claim: nobody knows if it went out.
        at = now_iso()
        with self._store.write() as conn:
            conn.execute(
                "UPDATE quarantine SET status = 'released', status_changed = ?,"
                " release_claim = NULL WHERE id = ?",
                (at, qid),
            )
            self._audit(conn, qid, at, actor, "release", why, outcome_detail(outcome))
        return outcome

    def delete(self, qid: str, *, actor: str, reason: str) -> None:
        """Remove the message's file; the row and its audit stay."""
        why = required_reason(reason)
        at = now_iso()
        with self._store.write() as conn:
            msg = self._need(qid)
            if msg.status in ("deleted", "expired"):
                raise QuarantineError(f"message {qid} is already {msg.status}")
            if msg.release_claim is not None:
                raise QuarantineError(f"message {qid} is being released by {msg.release_claim}")
            conn.execute(
                "UPDATE quarantine SET status = 'deleted', status_changed = ? WHERE id = ?",
                (at, qid),
            )
            self._audit(conn, qid, at, actor, "delete", why, f"was {msg.status}")
        # After the commit: a crash in between leaves a file nobody can release, never a
        # row that promises a file which is gone.
        if msg.file:
            self._remove_file(msg.file)

    def purge(self, retention_days: int, *, now: datetime | None = None) -> int:
        """Expire held messages, and drop the files of released ones, older than
        ``retention_days``; returns how many messages lost their file."""
        if retention_days < 0:
            raise ValueError("retention_days must be 0 or more")
        at = now_iso(now)
        cutoff = now_iso((now or datetime.now(UTC)) - timedelta(days=retention_days))
        with self._store.write() as conn:
            rows = conn.execute(
                "SELECT id, file, status FROM quarantine WHERE release_claim IS NULL AND"
                " ((status = 'held' AND held < ?)"
                " OR (status = 'released' AND status_changed < ? AND file != ''))",
                (cutoff, cutoff),
            ).fetchall()
            for qid, _, status in rows:
                if status == "held":
                    conn.execute(
                        "UPDATE quarantine SET status = 'expired', status_changed = ? WHERE id = ?",
                        (at, qid),
                    )
                    detail = f"held more than {retention_days} days"
                else:
                    conn.execute("UPDATE quarantine SET file = '' WHERE id = ?", (qid,))
                    detail = f"file of a message released more than {retention_days} days ago"
                self._audit(conn, qid, at, "retention", "expire", "retention", detail)
        for _, file, _ in rows:
            if file:
                self._remove_file(file)
        return len(rows)

    def list(
        self,
        status: str | None = "held",
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[QuarantinedMessage, ...]:
        """Messages of ``status`` (None: any), newest first, held in [since, until)."""
        where: list[str] = []
        params: list[object] = []
        if status is not None:
            if status not in STATUSES:
                raise ValueError(f"status must be one of {', '.join(STATUSES)}")
            where.append("status = ?")
            params.append(status)
        if since is not None:
            where.append("held >= ?")
            params.append(now_iso(since))
        if until is not None:
            where.append("held < ?")
            params.append(now_iso(until))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        cur = self._store.connection.execute(
            f"SELECT {COLUMNS} FROM quarantine{clause} ORDER BY held DESC, id DESC"
            " LIMIT ? OFFSET ?",
            (*params, max(0, limit), max(0, offset)),
        )
        return tuple(decode_row(r) for r in cur.fetchall())
