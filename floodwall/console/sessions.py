"""Browser sessions: a random cookie value kept only as its SHA-256, with an absolute
expiry and an idle timeout, and a CSRF token bound to the session.

The CSRF defence is the double-submit pattern bound to the session (OWASP CSRF
Prevention Cheat Sheet): the token is sent once in a readable cookie and the JSON
answer to the login; a state-changing request must echo it in ``X-CSRF-Token``, and the
server compares it with the session's own copy, so a token planted by another site
(cookie tossing) does not match.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from floodwall.console import audit
from floodwall.console.roles import Principal, Role
from floodwall.store.db import Store

# Writing last_seen on every request would take the store's write lock for each page;
# once a minute is precise enough for an idle timeout counted in minutes.
_TOUCH_EVERY = timedelta(seconds=60)


def token_digest(token: str) -> str:
    """The SHA-256 (hex) a token is stored and looked up by."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just made: the cookie value and CSRF token are known only now."""

    token: str
    csrf: str
    expires: datetime


class SessionStore:
    """Create, look up and end sessions."""

    def __init__(
        self,
        store: Store,
        clock: Callable[[], datetime],
        *,
        lifetime: timedelta,
        idle: timedelta,
    ) -> None:
        self._store = store
        self._clock = clock
        self._lifetime = lifetime
        self._idle = idle

    def create(self, user_id: int, *, client_ip: str = "") -> NewSession:
        """A new session for ``user_id``; expired sessions of anyone are cleared too."""
        now = self._clock()
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        expires = now + self._lifetime
        stamp = audit.iso_now(now)
        with self._store.write() as conn:
            conn.execute(
                "DELETE FROM sessions WHERE expires <= ? OR last_seen <= ?",
                (stamp, audit.iso_now(now - self._idle)),
            )
            conn.execute(
                "INSERT INTO sessions (token_hash, user_id, csrf, created, last_seen, expires,"
                " client_ip) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (token_digest(token), user_id, csrf, stamp, stamp, audit.iso_now(expires),
                 client_ip),
            )  # fmt: skip
        return NewSession(token, csrf, expires)

    def lookup(self, token: str) -> Principal | None:
        """The principal of a live session, or None (unknown, expired, idle, disabled)."""
        if not token or len(token) > 200:
            return None
        now = self._clock()
        digest = token_digest(token)
        row = self._store.connection.execute(
            "SELECT s.user_id, u.name, u.role, u.disabled, s.csrf, s.last_seen, s.expires"
            " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?",
            (digest,),
        ).fetchone()
        if row is None:
            return None
        user_id, name, role, disabled, csrf, last_seen, expires = row
        stamp = audit.iso_now(now)
        if disabled or str(expires) <= stamp or str(last_seen) <= audit.iso_now(now - self._idle):
            return None
        if str(last_seen) <= audit.iso_now(now - _TOUCH_EVERY):
            with self._store.write() as conn:
                conn.execute(
                    "UPDATE sessions SET last_seen = ? WHERE token_hash = ?", (stamp, digest)
                )
        return Principal(int(user_id), str(name), Role.parse(str(role)), "session", None, str(csrf))

    def end(self, token: str) -> bool:
        """Log out: forget the session; True when there was one."""
        with self._store.write() as conn:
            cur = conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_digest(token),))
            return cur.rowcount > 0


def is_csrf_match(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of the session's CSRF token and the header's."""
    if not expected or not given:
        return False
    return hmac.compare_digest(
        expected.encode("utf-8", "replace"), given.encode("utf-8", "replace")
    )
