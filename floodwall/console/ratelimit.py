"""Failed-login rate limiting, per user name and per client address.

Sliding windows held in the console process (it is one process per store). Counting by
name slows a guess at one account from many addresses; counting by address slows one
address spraying many names (OWASP Authentication Cheat Sheet, "Login Throttling";
NIST SP 800-63B §5.2.2 asks for a limit on consecutive failed attempts). A success does
not clear the address's count, so one valid account cannot launder guesses at others.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

_MAX_KEYS = 100_000  # a spray of random names must not grow memory without bound


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """How many failures each key may have within ``window`` before logins wait."""

    per_user: int = 5
    per_ip: int = 20
    window: timedelta = timedelta(minutes=15)


class LoginRateLimiter:
    """Counts failures; ``retry_after`` says how long a login attempt must wait."""

    def __init__(self, limits: LoginLimits, clock: Callable[[], datetime]) -> None:
        self._limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, deque[datetime]] = {}

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self._limits.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, user: str, client_ip: str) -> float | None:
        """Seconds until an attempt for ``user`` from ``client_ip`` is allowed, or None."""
        now = self._clock()
        waits: list[float] = []
        with self._lock:
            for key, cap in ((f"u:{user.lower()}", self._limits.per_user),
                             (f"i:{client_ip}", self._limits.per_ip)):  # fmt: skip
                times = self._recent(key, now)
                if len(times) >= cap:
                    oldest = times[-cap]
                    waits.append((oldest + self._limits.window - now).total_seconds())
        return max(waits) if waits else None

    def record_failure(self, user: str, client_ip: str) -> None:
        now = self._clock()
        with self._lock:
            if len(self._failures) >= _MAX_KEYS:
                for key in list(self._failures):
                    self._recent(key, now)
                if len(self._failures) >= _MAX_KEYS:
                    self._failures.clear()  # under a flood, forget rather than fall over
            for key in (f"u:{user.lower()}", f"i:{client_ip}"):
                self._failures.setdefault(key, deque()).append(now)

    def record_success(self, user: str) -> None:
        """A right password clears the name's count (not the address's: see the module)."""
        with self._lock:
            self._failures.pop(f"u:{user.lower()}", None)
