"""Versioned schema migrations: ``NNNN_name.sql`` files shipped as package data.

Each file is applied once, in order, inside the caller's transaction, and recorded in
``schema_migrations`` with a SHA-256 of its text. A store whose recorded checksum no
longer matches the shipped file, or which holds a version this code does not know,
is refused: silently running on a schema that differs from the code's is how data
gets corrupted.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    checksum   TEXT NOT NULL
)
"""


class MigrationError(RuntimeError):
    """The store's schema history does not match the migrations this code ships."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: its number, name (from the file name) and SQL text."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the SQL text; a released migration must never change."""
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def load_migrations() -> tuple[Migration, ...]:
    """The migrations shipped in this package, ordered by version.

    Read through importlib.resources so that they are found in a wheel or zip too
    (``store/migrations/*.sql`` must be listed in the package data).
    """
    found: list[Migration] = []
    for entry in resources.files(__package__).iterdir():
        match = _NAME.match(entry.name)
        if match:
            text = entry.read_text(encoding="utf-8")
            found.append(Migration(int(match.group(1)), match.group(2), text))
    found.sort(key=lambda m: m.version)
    check_sequence(found)
    return tuple(found)


def check_sequence(migrations: Sequence[Migration]) -> None:
    """Refuse gaps and duplicates: versions must run 1, 2, 3 ... without holes."""
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise MigrationError(f"migration versions must be 1..n without gaps, got {versions}")


def split_statements(sql: str) -> list[str]:
    """Cut a script into single statements.

    ``executescript`` would COMMIT the caller's transaction first, which would drop
    the BEGIN IMMEDIATE that keeps two processes from migrating at once, so each
    statement is executed on its own instead. ``sqlite3.complete_statement`` knows
    about quotes, comments and trigger bodies, so a ``;`` inside them does not cut.
    """
    statements: list[str] = []
    start = 0
    for pos, char in enumerate(sql):
        if char == ";" and sqlite3.complete_statement(sql[start : pos + 1]):
            statements.append(sql[start : pos + 1].strip())
            start = pos + 1
    rest = sql[start:].strip()
    if rest and not _only_comments(rest):
        raise MigrationError(f"unterminated statement at end of migration: {rest[:60]!r}")
    return statements


def _only_comments(text: str) -> bool:
    lines = (line.strip() for line in text.splitlines())
    return all(not line or line.startswith("--") for line in lines)


def pending(conn: sqlite3.Connection, migrations: Sequence[Migration]) -> list[Migration]:
    """The migrations not yet applied, after checking the applied ones are unchanged."""
    has_ledger = conn.execute(
        "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if not has_ledger:
        return list(migrations)
    known = {m.version: m for m in migrations}
    applied: set[int] = set()
    for version, name, checksum in conn.execute(
        "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
    ):
        mine = known.get(version)
        if mine is None:
            raise MigrationError(
                f"store has migration {version:04d}_{name}, which this Floodwall does not "
                "know; it was written by a newer version"
            )
        if mine.checksum != checksum or mine.name != name:
            raise MigrationError(
                f"migration {version:04d}_{name} changed after it was applied "
                f"(recorded {checksum[:12]}, shipped {mine.checksum[:12]}); "
                "add a new migration instead of editing a released one"
            )
        applied.add(version)
    return [m for m in migrations if m.version not in applied]


def apply(conn: sqlite3.Connection, migrations: Sequence[Migration]) -> list[Migration]:
    """Apply what is pending; the caller holds the write transaction.

    Returns the migrations applied now (empty when another process got there first).
    """
    conn.execute(_LEDGER)
    todo = pending(conn, migrations)
    for migration in todo:
        for statement in split_statements(migration.sql):
            conn.execute(statement)
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at, checksum) "
            "VALUES (?, ?, ?, ?)",
            (
                migration.version,
                migration.name,
                datetime.now(UTC).isoformat(timespec="microseconds"),
                migration.checksum,
            ),
        )
    if todo:
        # Mirrors the version into the file header, where `sqlite3 floodwall.db
        # 'PRAGMA user_version'` and backup tools can read it without our tables.
        conn.execute(f"PRAGMA user_version = {todo[-1].version:d}")
    return todo
