"""The store opens in WAL mode, migrates once, and refuses a tampered history."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from floodwall.store.db import DB_NAME, MigrationError, default_data_dir, open_store
from floodwall.store.migrations import Migration, load_migrations, split_statements

ALL = tuple(m.version for m in load_migrations())
LATEST = ALL[-1]


def _pragma(conn: sqlite3.Connection, name: str) -> Any:
    return conn.execute(f"PRAGMA {name}").fetchone()[0]


def test_fresh_store_is_created_with_wal_and_schema(tmp_path: Path) -> None:
    data = tmp_path / "nested" / "data"
    with open_store(data) as store:
        assert store.path == data / DB_NAME
        assert store.path.exists()
        assert store.schema_version == LATEST
        assert store.applied_now == ALL
        conn = store.connection
        assert _pragma(conn, "journal_mode") == "wal"
        assert _pragma(conn, "synchronous") == 1  # NORMAL
        assert _pragma(conn, "foreign_keys") == 1
        assert _pragma(conn, "busy_timeout") == 10_000
        assert _pragma(conn, "user_version") == LATEST
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type='table'")}
        assert {"hunts", "alerts", "intake", "schema_migrations"} <= tables
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type='index'")}
        for column in ("timestamp", "level", "rule_id", "status"):
            assert f"alerts_{column}" in indexes


def test_durable_store_syncs_fully(tmp_path: Path) -> None:
    with open_store(tmp_path, durable=True) as store:
        assert _pragma(store.connection, "synchronous") == 2  # FULL


def test_reopen_is_idempotent(tmp_path: Path) -> None:
    with open_store(tmp_path) as first:
        assert first.applied_now == ALL
    for _ in range(2):
        with open_store(tmp_path) as again:
            assert again.applied_now == ()
            assert again.schema_version == LATEST
            rows = again.connection.execute("SELECT version, name FROM schema_migrations")
            assert rows.fetchall() == [(m.version, m.name) for m in load_migrations()]


def test_shipped_migrations_are_found_in_order() -> None:
    migrations = load_migrations()
    assert [(m.version, m.name) for m in migrations][:1] == [(1, "initial")]
    assert all(len(m.checksum) == 64 for m in migrations)


def test_changed_migration_is_refused(tmp_path: Path) -> None:
    shipped = load_migrations()
    open_store(tmp_path).close()
    edited = Migration(1, "initial", shipped[0].sql + "\n-- edited\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        open_store(tmp_path, migrations=[edited, *shipped[1:]])


def test_tampered_ledger_is_refused(tmp_path: Path) -> None:
    with open_store(tmp_path) as store, store.write() as conn:
        conn.execute("UPDATE schema_migrations SET checksum = 'x' WHERE version = 1")
    with pytest.raises(MigrationError, match="0001_initial changed"):
        open_store(tmp_path)


def test_store_from_newer_version_is_refused(tmp_path: Path) -> None:
    shipped = load_migrations()
    newer = Migration(len(shipped) + 1, "future", "CREATE TABLE future (a TEXT);")
    open_store(tmp_path, migrations=[*shipped, newer]).close()
    with pytest.raises(MigrationError, match="newer version"):
        open_store(tmp_path)


def test_new_migration_applies_on_reopen(tmp_path: Path) -> None:
    shipped = load_migrations()
    open_store(tmp_path).close()
    extra = Migration(len(shipped) + 1, "extra", "CREATE TABLE extra (a TEXT);")
    with open_store(tmp_path, migrations=[*shipped, extra]) as store:
        assert store.applied_now == (extra.version,)
        assert store.schema_version == extra.version
        assert _pragma(store.connection, "user_version") == extra.version


def test_failing_migration_rolls_back_whole(tmp_path: Path) -> None:
    shipped = load_migrations()
    bad = Migration(
        len(shipped) + 1, "bad", "CREATE TABLE half (a TEXT);\nINSERT INTO nope VALUES (1);"
    )
    with pytest.raises(sqlite3.OperationalError, match="no such table: nope"):
        open_store(tmp_path, migrations=[*shipped, bad])
    with open_store(tmp_path) as store:
        # All pending migrations share one transaction, so the shipped ones went back out too.
        assert store.applied_now == ALL
        names = {r[0] for r in store.connection.execute("SELECT name FROM sqlite_schema")}
        assert "half" not in names


def test_gap_in_versions_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="without gaps"):
        open_store(tmp_path, migrations=[Migration(2, "two", "SELECT 1;")])


def test_split_statements_respects_quotes_comments_and_triggers() -> None:
    sql = """
    -- a comment; with a semicolon
    CREATE TABLE t (a TEXT DEFAULT 'x;y');
    CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = 'z;'; END;
    /* block; comment */ INSERT INTO t VALUES ('1'); INSERT INTO t VALUES ('2');
    -- trailing comment
    """
    statements = split_statements(sql)
    assert len(statements) == 4
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")
    with pytest.raises(MigrationError, match="unterminated"):
        split_statements("CREATE TABLE t (a TEXT)")


def test_default_data_dir_order(tmp_path: Path) -> None:
    home = Path.home()
    assert default_data_dir({"FLOODWALL_DATA": str(tmp_path)}) == tmp_path
    assert default_data_dir({"FLOODWALL_DATA": "~/fw"}) == home / "fw"
    xdg = {"XDG_DATA_HOME": str(tmp_path)}
    assert default_data_dir(xdg) == tmp_path / "floodwall"
    assert default_data_dir({"XDG_DATA_HOME": "relative/dir"}) == home / ".local/share/floodwall"
    assert default_data_dir({"FLOODWALL_DATA": ""}) == home / ".local/share/floodwall"


def _open_at_once(data_dir: str, barrier: Any, results: Any) -> None:
    barrier.wait()
    with open_store(Path(data_dir)) as store:
        results.put((store.schema_version, store.applied_now))


def test_processes_migrating_at_once_apply_each_migration_once(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    for round_ in range(3):
        data = tmp_path / f"round{round_}"
        n = 4
        barrier = ctx.Barrier(n)
        results = ctx.Queue()
        procs = [
            ctx.Process(target=_open_at_once, args=(str(data), barrier, results)) for _ in range(n)
        ]
        for p in procs:
            p.start()
        outcomes = [results.get(timeout=60) for _ in range(n)]
        for p in procs:
            p.join(timeout=60)
            assert p.exitcode == 0
        results.close()
        results.join_thread()
        assert all(version == LATEST for version, _ in outcomes)
        applied = [a for _, a in outcomes if a]
        assert applied == [ALL], outcomes
        with open_store(data) as store:
            rows = store.connection.execute("SELECT version FROM schema_migrations").fetchall()
            assert rows == [(v,) for v in ALL]
