"""API tokens: scoped, shown once, stored as a hash, revocable, optionally expiring.

A token reads ``fw_<id>_<secret>``: the 12-hex-digit id is public (lists, audit, revoke)
and the secret, 256 random bits, is kept only as its SHA-256. Sent as
``Authorization: Bearer <token>`` (RFC 6750 §2.1).
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from floodwall.console import audit
from floodwall.console.errors import ConflictError, InputError, NotFoundError
from floodwall.console.roles import Principal, Role, scope_role
from floodwall.console.sessions import token_digest
from floodwall.store.db import Store

_TOKEN = re.compile(r"fw_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
_TOUCH_EVERY = timedelta(seconds=60)
_COLUMNS = "t.id, t.user_id, u.name, t.name, t.scope, t.created, t.expires, t.last_used, t.revoked"


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A token as listed: never its secret."""

    id: str
    user_id: int
    user: str
    name: str
    scope: str
    created: str
    expires: str | None
    last_used: str | None
    revoked: str | None


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token just made; ``token`` is shown this once."""

    token: str
    record: TokenRecord


def _record(row: tuple[object, ...]) -> TokenRecord:
    tid, uid, user, name, scope, created, expires, used, revoked = row
    return TokenRecord(
        str(tid), int(str(uid)), str(user), str(name), str(scope), str(created),
        None if expires is None else str(expires), None if used is None else str(used),
        None if revoked is None else str(revoked),
    )  # fmt: skip


class TokenStore:
    """Create, list, look up and revoke API tokens."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    def create(
        self,
        user_id: int,
        name: str,
        scope: str,
        *,
        expires_days: int | None,
        actor: str,
        client_ip: str = "",
    ) -> NewToken:
        """A token for ``user_id``; its scope cannot exceed the user's role."""
        wanted = scope_role(scope)
        name = name.strip()
        if not 1 <= len(name) <= 100:
            raise InputError("a token name has 1 to 100 characters")
        now = self._clock()
        expires = None if expires_days is None else audit.iso_now(now + timedelta(expires_days))
        tid, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        with self._store.write() as conn:
            row = conn.execute(
                "SELECT name, role, disabled FROM users WHERE id = ?", (user_id,)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no user with id {user_id}")
            if row[2]:
                raise ConflictError(f"user {row[0]!r} is disabled")
            if wanted > Role.parse(str(row[1])):
                raise InputError(f"user {row[0]!r} is {row[1]}: a {scope} token would exceed it")
            conn.execute(
                "INSERT INTO api_tokens (id, user_id, name, scope, secret_hash, created, expires)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (tid, user_id, name, scope, token_digest(secret), audit.iso_now(now), expires),
            )
            audit.append(
                conn, actor=actor, action="token_create", target=tid,
                detail={"user": row[0], "scope": scope, "name": name, "expires": expires},
                client_ip=client_ip, at=audit.iso_now(now),
            )  # fmt: skip
        return NewToken(f"fw_{tid}_{secret}", self.need(tid))

    def get(self, token_id: str) -> TokenRecord | None:
        row = self._store.connection.execute(
            f"SELECT {_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?",
            (token_id,),
        ).fetchone()
        return None if row is None else _record(row)

    def need(self, token_id: str) -> TokenRecord:
        found = self.get(token_id)
        if found is None:
            raise NotFoundError(f"no token {token_id!r}")
        return found

    def list(self, *, user_id: int | None = None) -> list[TokenRecord]:
        sql = f"SELECT {_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id"
        params: tuple[object, ...] = ()
        if user_id is not None:
            sql += " WHERE t.user_id = ?"
            params = (user_id,)
        return [
            _record(r) for r in self._store.connection.execute(sql + " ORDER BY t.created", params)
        ]

    def revoke(self, token_id: str, *, actor: str, client_ip: str = "") -> TokenRecord:
        """Revoke a token at once; revoking twice is a conflict."""
        now = audit.iso_now(self._clock())
        with self._store.write() as conn:
            found = self.need(token_id)
            if found.revoked is not None:
                raise ConflictError(f"token {token_id} was revoked at {found.revoked}")
            conn.execute("UPDATE api_tokens SET revoked = ? WHERE id = ?", (now, token_id))
            audit.append(
                conn, actor=actor, action="token_revoke", target=token_id,
                detail={"user": found.user, "name": found.name}, client_ip=client_ip, at=now,
            )  # fmt: skip
        return self.need(token_id)

    def lookup(self, token: str) -> Principal | None:
        """The principal a bearer token acts as, or None (malformed, unknown, revoked,
        expired, owner disabled). Its role is the lower of scope and owner's role."""
        match = _TOKEN.fullmatch(token)
        if match is None:
            return None
        tid, secret = match.groups()
        row = self._store.connection.execute(
            "SELECT t.secret_hash, t.scope, t.expires, t.revoked, t.last_used, u.id, u.name,"
            " u.role, u.disabled FROM api_tokens t JOIN users u ON u.id = t.user_id"
            " WHERE t.id = ?",
            (tid,),
        ).fetchone()
        if row is None:
            return None
        digest, scope, expires, revoked, last_used, uid, name, role, disabled = row
        if not hmac.compare_digest(str(digest), token_digest(secret)):
            return None
        now = self._clock()
        stamp = audit.iso_now(now)
        if revoked is not None or disabled or (expires is not None and str(expires) <= stamp):
            return None
        if last_used is None or str(last_used) <= audit.iso_now(now - _TOUCH_EVERY):
            with self._store.write() as conn:
                conn.execute("UPDATE api_tokens SET last_used = ? WHERE id = ?", (stamp, tid))
        effective = min(scope_role(str(scope)), Role.parse(str(role)))
        return Principal(int(uid), str(name), effective, "token", tid, None)
