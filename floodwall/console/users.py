"""Console users: names, roles, argon2 password hashes; every change audited.

Users are never deleted, only disabled: the audit log and alert history name them,
and a name that came back for someone else would inherit that past.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from floodwall.console import audit
from floodwall.console.errors import ConflictError, InputError, NotFoundError
from floodwall.console.passwords import PasswordHasherAdapter, generate_password, password_problem
from floodwall.console.roles import Role
from floodwall.store.db import Store

ADMIN_NAME = "admin"
ADMIN_PASSWORD_ENV = "FLOODWALL_ADMIN_PASSWORD"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_COLUMNS = "id, name, role, password_hash, created, password_changed, disabled"


@dataclass(frozen=True, slots=True)
class UserRecord:
    """One console user. ``password_hash`` never leaves the server."""

    id: int
    name: str
    role: Role
    password_hash: str
    created: str
    password_changed: str
    disabled: bool


@dataclass(frozen=True, slots=True)
class AdminBootstrap:
    """What ``ensure_admin`` did: ``password`` is set only when it generated one."""

    created: bool
    password: str | None


def check_name(name: str) -> str:
    """A user name: 1-64 of letters, digits and ``._@-``, starting with a letter or digit."""
    if _NAME.fullmatch(name) is None:
        raise InputError("a user name is 1-64 letters, digits or ._@- (first: letter or digit)")
    return name


def _record(row: tuple[object, ...]) -> UserRecord:
    uid, name, role, pw, created, changed, disabled = row
    return UserRecord(
        int(str(uid)), str(name), Role.parse(str(role)), str(pw), str(created), str(changed),
        bool(disabled),
    )  # fmt: skip


class UserStore:
    """Reads and changes users in one Store; each change is one transaction with its audit."""

    def __init__(
        self,
        store: Store,
        hasher: PasswordHasherAdapter,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._clock = clock

    def _now(self) -> str:
        return audit.iso_now(self._clock())

    def get(self, name: str) -> UserRecord | None:
        row = self._store.connection.execute(
            f"SELECT {_COLUMNS} FROM users WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else _record(row)

    def get_by_id(self, user_id: int) -> UserRecord | None:
        row = self._store.connection.execute(
            f"SELECT {_COLUMNS} FROM users WHERE id = ?", (user_id,)
        ).fetchone()
        return None if row is None else _record(row)

    def need(self, name: str) -> UserRecord:
        user = self.get(name)
        if user is None:
            raise NotFoundError(f"no user {name!r}")
        return user

    def list(self) -> list[UserRecord]:
        cur = self._store.connection.execute(f"SELECT {_COLUMNS} FROM users ORDER BY name")
        return [_record(r) for r in cur]

    def count(self) -> int:
        (n,) = self._store.connection.execute("SELECT count(*) FROM users").fetchone()
        return int(n)

    def create(
        self, name: str, role: Role, password: str, *, actor: str, client_ip: str = ""
    ) -> UserRecord:
        """Add a user; the password must pass ``password_problem``."""
        check_name(name)
        problem = password_problem(password)
        if problem:
            raise InputError(problem)
        digest = self._hasher.hash(password)
        now = self._now()
        with self._store.write() as conn:
            if self.get(name) is not None:
                raise ConflictError(f"user {name!r} exists")
            conn.execute(
                "INSERT INTO users (name, role, password_hash, created, password_changed)"
                " VALUES (?, ?, ?, ?, ?)",
                (name, role.label, digest, now, now),
            )
            audit.append(
                conn, actor=actor, action="user_create", target=name,
                detail={"role": role.label}, client_ip=client_ip, at=now,
            )  # fmt: skip
        return self.need(name)

    def update(
        self,
        name: str,
        *,
        role: Role | None = None,
        disabled: bool | None = None,
        actor: str,
        client_ip: str = "",
    ) -> UserRecord:
        """Change a user's role or disable them; the last enabled admin cannot be lost."""
        with self._store.write() as conn:
            user = self.need(name)
            new_role = user.role if role is None else role
            new_disabled = user.disabled if disabled is None else disabled
            is_losing_admin = user.role is Role.ADMIN and not user.disabled
            if is_losing_admin and (new_role is not Role.ADMIN or new_disabled):
                (admins,) = conn.execute(
                    "SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0"
                ).fetchone()
                if int(admins) <= 1:
                    raise ConflictError("this is the last enabled admin; make another first")
            conn.execute(
                "UPDATE users SET role = ?, disabled = ? WHERE id = ?",
                (new_role.label, int(new_disabled), user.id),
            )
            if new_disabled:
                conn.execute("DELETE FROM sessions WHERE user_id = ?", (user.id,))
            changes: dict[str, object] = {}
            if new_role is not user.role:
                changes["role"] = [user.role.label, new_role.label]
            if new_disabled != user.disabled:
                changes["disabled"] = [user.disabled, new_disabled]
            audit.append(
                conn, actor=actor, action="user_update", target=user.name, detail=changes,
                client_ip=client_ip, at=self._now(),
            )  # fmt: skip
        return self.need(name)

    def set_password(self, name: str, password: str, *, actor: str, client_ip: str = "") -> None:
        """Replace a password and end the user's sessions (a reset locks out the old holder)."""
        problem = password_problem(password)
        if problem:
            raise InputError(problem)
        digest = self._hasher.hash(password)
        now = self._now()
        with self._store.write() as conn:
            user = self.need(name)
            conn.execute(
                "UPDATE users SET password_hash = ?, password_changed = ? WHERE id = ?",
                (digest, now, user.id),
            )
            conn.execute("DELETE FROM sessions WHERE user_id = ?", (user.id,))
            audit.append(
                conn, actor=actor, action="user_password", target=user.name,
                client_ip=client_ip, at=now,
            )  # fmt: skip

    def rehash(self, user_id: int, password: str) -> None:
        """Store a hash made with the current parameters (after a successful login)."""
        with self._store.write() as conn:
            conn.execute(
                "UPDATE users SET password_hash = ? WHERE id = ?",
                (self._hasher.hash(password), user_id),
            )

    def ensure_admin(self, environ: Mapping[str, str] | None = None) -> AdminBootstrap:
        """On the first run (no users at all), create ``admin``.

        Its password comes from $FLOODWALL_ADMIN_PASSWORD, else it is generated and
        returned so the caller can show it once. There is never a built-in password.
        """
        if self.count() > 0:
            return AdminBootstrap(created=False, password=None)
        env = os.environ if environ is None else environ
        given = env.get(ADMIN_PASSWORD_ENV, "")
        password = given or generate_password()
        try:
            self.create(ADMIN_NAME, Role.ADMIN, password, actor="floodwall")
        except ConflictError:  # another process bootstrapped at the same moment
            return AdminBootstrap(created=False, password=None)
        return AdminBootstrap(created=True, password=None if given else password)
