"""Open the embedded store: one SQLite file in WAL mode, shared by several processes.

The SMTP gateway, the log pipeline and the web console each open their own
connection to the same ``floodwall.db``. WAL lets readers run while one writer
commits, and every write transaction starts with BEGIN IMMEDIATE so that a writer
waits (busy_timeout) for the lock up front instead of failing half-way with
"database is locked" when a read transaction tries to upgrade to a write.

WAL needs shared memory between the processes, so the data directory must be on a
local file system (not NFS/SMB), and all processes must run on the same host.
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from floodwall.store import migrations as _migrations
from floodwall.store.migrations import Migration, MigrationError

__all__ = [
    "DB_NAME",
    "MigrationError",
    "Store",
    "StoreError",
    "default_data_dir",
    "open_store",
]

DB_NAME = "floodwall.db"
BUSY_TIMEOUT_S = 10.0
# STRICT tables (0001_initial.sql) arrived in SQLite 3.37.
_MIN_SQLITE = (3, 37, 0)


class StoreError(RuntimeError):
    """The store cannot be opened with the guarantees the product relies on."""


class Store:
    """One process's connection to the store, with the schema brought up to date.

    Not shared between threads (sqlite3's default check): a threaded server opens
    one Store per thread. Use it as a context manager, or call ``close()``.
    """

    def __init__(
        self,
        path: Path,
        connection: sqlite3.Connection,
        schema_version: int,
        applied: tuple[int, ...],
    ) -> None:
        self._path = path
        self._conn = connection
        self._schema_version = schema_version
        self._applied = applied

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    @property
    def connection(self) -> sqlite3.Connection:
        """The raw connection, in autocommit mode: wrap writes in ``write()``."""
        return self._conn

    @property
    def schema_version(self) -> int:
        """The highest migration applied to this database."""
        return self._schema_version

    @property
    def applied_now(self) -> tuple[int, ...]:
        """Versions this open applied; empty when the schema was already current."""
        return self._applied

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: BEGIN IMMEDIATE, then COMMIT, or ROLLBACK on error.

        IMMEDIATE takes the write lock at BEGIN, where busy_timeout applies. A
        deferred transaction that reads first and writes later can get SQLITE_BUSY
        at the upgrade without waiting, because its snapshot may be stale.
        """
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
            self._conn.execute("COMMIT")
        except BaseException:
            # SQLite already rolled back after some errors (SQLITE_FULL, IOERR).
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_store(
    data_dir: Path,
    *,
    durable: bool = False,
    migrations: Sequence[Migration] | None = None,
) -> Store:
    """Open (creating if needed) ``data_dir/floodwall.db`` and apply pending migrations.

    ``durable=True`` sets synchronous=FULL, for a caller that acknowledges something
    to the outside world only after its commit (the gateway's ``250``). The default,
    NORMAL, is what SQLite recommends with WAL: a crash of the process loses nothing
    committed and the database never corrupts; only a power cut or OS crash may drop
    the last few commits. Alerts are derived data that a re-run recomputes, so the
    fsync on every commit that FULL costs buys them nothing.

    ``migrations`` replaces the shipped ones; tests use it.
    """
    if sqlite3.sqlite_version_info < _MIN_SQLITE:
        raise StoreError(f"SQLite {sqlite3.sqlite_version} is too old; 3.37 or newer is needed")
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / DB_NAME
    steps = tuple(_migrations.load_migrations() if migrations is None else migrations)
    _migrations.check_sequence(steps)
    # isolation_level=None: no implicit BEGINs from the sqlite3 module; we issue
    # BEGIN IMMEDIATE ourselves (see Store.write).
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        _configure(conn, durable=durable)
        applied = _migrate(conn, steps)
        version = steps[-1].version if steps else 0
        return Store(path, conn, version, tuple(m.version for m in applied))
    except BaseException:
        conn.close()
        raise


def _configure(conn: sqlite3.Connection, *, durable: bool) -> None:
    # busy_timeout first: switching a new file to WAL takes a lock that another
    # process opening the same fresh file may hold.
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    mode = _enable_wal(conn)
    if mode.lower() != "wal":
        raise StoreError(
            f"SQLite refused WAL mode (journal_mode is {mode!r}); is the data "
            "directory on a network file system?"
        )
    conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
    conn.execute("PRAGMA foreign_keys = ON")
    # Truncate the WAL file after checkpoints instead of letting it stay at its
    # high-water mark after a large import.
    conn.execute("PRAGMA journal_size_limit = 67108864")
    # 32 MiB of page cache instead of 2: alert indexes stay in memory during a
    # large import rather than being re-read for every batch.
    conn.execute("PRAGMA cache_size = -32768")


def _enable_wal(conn: sqlite3.Connection) -> str:
    """Switch to WAL (a no-op when the file already is), retrying a lost race.

    On a brand-new file still in rollback mode, two processes switching at once
    each hold a shared lock and want an exclusive one. SQLite then fails one of
    them at once with SQLITE_BUSY to avoid a deadlock, without calling the busy
    handler, so busy_timeout does not cover this case and we wait ourselves.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            return str(mode)
        except sqlite3.OperationalError as e:
            busy = (e.sqlite_errorcode & 0xFF) == sqlite3.SQLITE_BUSY
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.005, 0.05))  # jitter: racers do not retry in step


def _migrate(conn: sqlite3.Connection, steps: Sequence[Migration]) -> list[Migration]:
    # Fast path without the write lock: the usual open finds the schema current, and
    # several processes starting together should not queue behind each other.
    if not _migrations.pending(conn, steps):
        return []
    # BEGIN IMMEDIATE serialises migrators; the loser re-reads the ledger inside the
    # lock, finds nothing pending and applies nothing.
    conn.execute("BEGIN IMMEDIATE")
    try:
        applied = _migrations.apply(conn, steps)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return applied


def default_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The CLI's default data directory; everything else is handed a path.

    $FLOODWALL_DATA, else $XDG_DATA_HOME/floodwall, else ~/.local/share/floodwall.
    A relative XDG_DATA_HOME is ignored, as the XDG spec requires.
    """
    env = os.environ if environ is None else environ
    explicit = env.get("FLOODWALL_DATA")
    if explicit:
        return Path(explicit).expanduser()
    xdg = env.get("XDG_DATA_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "floodwall"
    return Path.home() / ".local" / "share" / "floodwall"
