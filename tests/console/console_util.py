"""Test helpers shared by the console tests (registered by conftest.py as ``console_util``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class ManualClock:
    """A clock the test moves by hand (session expiry, token expiry, rate-limit windows)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)
