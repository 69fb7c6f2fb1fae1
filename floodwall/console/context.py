"""What the console's routes share: settings, clocks, limits and one store per thread.

FastAPI runs plain ``def`` routes on a thread pool and sqlite3 connections stay in the
thread that made them, so each worker thread opens its own ``Store`` on first use (WAL
lets them read side by side; writes queue on BEGIN IMMEDIATE, see store/db.py).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from floodwall.console.dashboard import DashboardReader
from floodwall.console.passwords import PasswordHasherAdapter
from floodwall.console.ratelimit import LoginLimits, LoginRateLimiter
from floodwall.console.sessions import SessionStore
from floodwall.console.tokens import TokenStore
from floodwall.console.users import UserStore
from floodwall.settings import Settings
from floodwall.store.db import Store, open_store


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    """The console's own knobs; ``secure_cookies`` None follows the request's scheme."""

    session_lifetime: timedelta = timedelta(hours=8)
    session_idle: timedelta = timedelta(minutes=30)
    login_limits: LoginLimits = field(default_factory=LoginLimits)
    secure_cookies: bool | None = None
    relay_timeout: float = 30.0


class ConsoleContext:
    """Shared by every request of one app; holds no request state."""

    def __init__(
        self,
        settings: Settings,
        config: ConsoleConfig,
        *,
        hasher: PasswordHasherAdapter | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.config = config
        self.clock = clock
        self.hasher = hasher or PasswordHasherAdapter()
        self.limiter = LoginRateLimiter(config.login_limits, clock)
        # The dashboard's trend cache lives as long as the app: one per process.
        self.dashboards = DashboardReader()
        self._local = threading.local()
        self._opened: list[Store] = []
        self._lock = threading.Lock()

    def store(self) -> Store:
        """This thread's connection to the store, opened (and migrated) on first use."""
        found: Store | None = getattr(self._local, "store", None)
        if found is None:
            found = open_store(self.settings.data_dir)
            self._local.store = found
            with self._lock:
                self._opened.append(found)
        return found

    def users(self) -> UserStore:
        return UserStore(self.store(), self.hasher, self.clock)

    def sessions(self) -> SessionStore:
        return SessionStore(
            self.store(),
            self.clock,
            lifetime=self.config.session_lifetime,
            idle=self.config.session_idle,
        )

    def tokens(self) -> TokenStore:
        return TokenStore(self.store(), self.clock)

    def close(self) -> None:
        """Close the connections this thread may close; sqlite3 refuses to close another
        thread's, which then closes when that thread's objects are collected."""
        with self._lock:
            opened, self._opened = self._opened, []
        for store in opened:
            with contextlib.suppress(sqlite3.ProgrammingError):
                store.close()
