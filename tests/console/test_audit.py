"""The audit log: append-only in the store, and any edit or removal found by verify."""

from __future__ import annotations

import sqlite3

import pytest

from floodwall.console import audit
from floodwall.store.db import Store


def _fill(store: Store, n: int) -> None:
    for i in range(n):
        with store.write() as conn:
            audit.append(conn, actor="ann", action="login", target=f"t{i}", detail={"i": i})


def _drop_triggers(store: Store) -> None:
    store.connection.execute("DROP TRIGGER audit_log_no_update")
    store.connection.execute("DROP TRIGGER audit_log_no_delete")


def test_chain_is_intact_and_triggers_refuse_changes(store: Store) -> None:
    _fill(store, 5)
    report = audit.verify(store.connection)
    assert report.is_intact and report.entries == 5 and report.head_seq == 5
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.connection.execute("UPDATE audit_log SET actor = 'eve' WHERE seq = 2")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.connection.execute("DELETE FROM audit_log WHERE seq = 5")
    with pytest.raises(RuntimeError):
        audit.append(store.connection, actor="x", action="y")


@pytest.mark.parametrize(
    ("tamper", "first_bad"),
    [
        ("UPDATE audit_log SET actor = 'eve' WHERE seq = 3", 3),
        ("UPDATE audit_log SET detail = '{\"i\": 9}' WHERE seq = 2", 2),
        ("DELETE FROM audit_log WHERE seq = 3", 4),
        ("DELETE FROM audit_log WHERE seq = 1", 2),
        ("DELETE FROM audit_log WHERE seq >= 5", 5),
    ],
)
def test_verify_finds_edit_and_removal(store: Store, tamper: str, first_bad: int) -> None:
    _fill(store, 6)
    _drop_triggers(store)
    store.connection.execute(tamper)
    report = audit.verify(store.connection)
    assert not report.is_intact
    assert report.broken_at == first_bad, report.problem


def test_rewritten_chain_is_caught_by_anchor(store: Store) -> None:
    _fill(store, 4)
    head = audit.verify(store.connection)
    _drop_triggers(store)
    # Rewrite entry 2 and re-hash everything after it: the chain is self-consistent again.
    rows = store.connection.execute("SELECT * FROM audit_log ORDER BY seq").fetchall()
    store.connection.execute("DELETE FROM audit_log")
    prev = audit.GENESIS
    for seq, at, actor, action, target, detail, ip, _p, _h in rows:
        actor = "eve" if seq == 2 else actor
        digest = audit.entry_hash(prev, seq, at, actor, action, target, detail, ip)
        store.connection.execute(
            "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, at, actor, action, target, detail, ip, prev, digest),
        )
        prev = digest
    assert audit.verify(store.connection).is_intact  # without an anchor it cannot tell
    report = audit.verify(store.connection, anchor=(head.head_seq, head.head_hash))
    assert report.broken_at == 4


def test_hostile_fields_are_stored_bounded(store: Store) -> None:
    with store.write() as conn:
        rec = audit.append(conn, actor="\udcff" + "a" * 5000, action="login_failed")
    assert len(rec.actor) == audit.MAX_FIELD
    assert audit.verify(store.connection).is_intact
    assert audit.entries(store.connection, action="login_failed")[0].seq == rec.seq
