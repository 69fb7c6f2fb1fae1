"""Users, passwords, sessions and API tokens against a real store."""

from __future__ import annotations

from datetime import timedelta

import pytest
from console_util import ManualClock

from floodwall.console.errors import ConflictError, InputError
from floodwall.console.passwords import PasswordHasherAdapter, generate_password, password_problem
from floodwall.console.roles import Role, scope_role
from floodwall.console.sessions import SessionStore, is_csrf_match
from floodwall.console.tokens import TokenStore
from floodwall.console.users import UserStore
from floodwall.store.db import Store

PASSWORD = "correct horse battery"


def _users(store: Store, hasher: PasswordHasherAdapter, clock: ManualClock) -> UserStore:
    return UserStore(store, hasher, clock)


def test_first_run_generates_admin_password_once(
    store: Store, hasher: PasswordHasherAdapter, clock: ManualClock
) -> None:
    users = _users(store, hasher, clock)
    boot = users.ensure_admin({})
    assert boot.created and boot.password is not None and len(boot.password) >= 20
    admin = users.need("admin")
    assert admin.role is Role.ADMIN
    assert hasher.is_valid(admin.password_hash, boot.password)
    assert boot.password not in admin.password_hash
    again = users.ensure_admin({})
    assert not again.created and again.password is None


def test_admin_password_from_environment_is_not_echoed(
    store: Store, hasher: PasswordHasherAdapter, clock: ManualClock
) -> None:
    users = _users(store, hasher, clock)
    boot = users.ensure_admin({"FLOODWALL_ADMIN_PASSWORD": PASSWORD})
    assert boot.created and boot.password is None
    assert hasher.is_valid(users.need("admin").password_hash, PASSWORD)


def test_passwords_rules_and_hash(hasher: PasswordHasherAdapter) -> None:
    assert password_problem("short") is not None
    assert password_problem(" " * 20) is not None
    assert password_problem("x" * 2000) is not None
    assert password_problem(PASSWORD) is None
    digest = hasher.hash(PASSWORD)
    assert digest.startswith("$argon2id$")
    assert hasher.is_valid(digest, PASSWORD)
    assert not hasher.is_valid(digest, PASSWORD + "x")
    assert not hasher.is_valid(None, PASSWORD)
    assert not hasher.is_valid("not a hash", PASSWORD)
    assert not hasher.is_valid(digest, "\udcff invalid surrogate")
    assert generate_password() != generate_password()


def test_user_names_and_last_admin(
    store: Store, hasher: PasswordHasherAdapter, clock: ManualClock
) -> None:
    users = _users(store, hasher, clock)
    users.ensure_admin({"FLOODWALL_ADMIN_PASSWORD": PASSWORD})
    for bad in ("", "-x", "a b", "x" * 65, "é", "a\x00b"):
        with pytest.raises(InputError):
            users.create(bad, Role.VIEWER, PASSWORD, actor="admin")
    users.create("ann", Role.ANALYST, PASSWORD, actor="admin")
    with pytest.raises(ConflictError):
        users.create("ann", Role.VIEWER, PASSWORD, actor="admin")
    with pytest.raises(ConflictError):
        users.update("admin", role=Role.VIEWER, actor="admin")
    with pytest.raises(ConflictError):
        users.update("admin", disabled=True, actor="admin")
    users.update("ann", role=Role.ADMIN, actor="admin")
    users.update("admin", disabled=True, actor="ann")
    assert users.need("admin").disabled


def test_sessions_expire_idle_and_end_on_disable(
    store: Store, hasher: PasswordHasherAdapter, clock: ManualClock
) -> None:
    users = _users(store, hasher, clock)
    users.ensure_admin({"FLOODWALL_ADMIN_PASSWORD": PASSWORD})
    ann = users.create("ann", Role.ANALYST, PASSWORD, actor="admin")
    sessions = SessionStore(store, clock, lifetime=timedelta(hours=8), idle=timedelta(minutes=30))
    new = sessions.create(ann.id, client_ip="127.0.0.1")
    who = sessions.lookup(new.token)
    assert who is not None and who.name == "ann" and who.role is Role.ANALYST
    assert is_csrf_match(who.csrf, new.csrf)
    other_last = "B" if new.csrf.endswith("A") else "A"  # 1 token in 64 ends in "A"
    assert not is_csrf_match(who.csrf, new.csrf[:-1] + other_last)
    assert not is_csrf_match(who.csrf, None)
    assert sessions.lookup(new.token + "x") is None
    assert sessions.lookup("x" * 10_000) is None
    # the cookie value is not stored
    rows = store.connection.execute("SELECT token_hash, csrf FROM sessions").fetchall()
    assert all(new.token not in str(r) for r in rows)
    clock.advance(minutes=31)
    assert sessions.lookup(new.token) is None
    again = sessions.create(ann.id)
    for _ in range(20):  # kept alive by use, but not past the absolute lifetime
        clock.advance(minutes=25)
        alive = sessions.lookup(again.token) is not None
        if clock.now >= again.expires:
            assert not alive
            break
        assert alive
    third = sessions.create(ann.id)
    users.update("ann", disabled=True, actor="admin")
    assert sessions.lookup(third.token) is None
    assert not sessions.end(third.token)


def test_tokens_scoped_revocable_and_capped_by_role(
    store: Store, hasher: PasswordHasherAdapter, clock: ManualClock
) -> None:
    users = _users(store, hasher, clock)
    users.ensure_admin({"FLOODWALL_ADMIN_PASSWORD": PASSWORD})
    ann = users.create("ann", Role.ANALYST, PASSWORD, actor="admin")
    tokens = TokenStore(store, clock)
    with pytest.raises(InputError):
        tokens.create(ann.id, "ci", "admin", expires_days=None, actor="admin")
    with pytest.raises(ValueError):
        tokens.create(ann.id, "ci", "root", expires_days=None, actor="admin")
    made = tokens.create(ann.id, "ci", "read", expires_days=1, actor="ann")
    who = tokens.lookup(made.token)
    assert who is not None and who.role is Role.VIEWER and who.token_id == made.record.id
    assert who.actor == f"ann/token:{made.record.id}"
    assert tokens.lookup(made.token[:-1] + ("A" if made.token[-1] != "A" else "B")) is None
    assert tokens.lookup("fw_" + "0" * 12 + "_" + "a" * 43) is None
    assert tokens.lookup("garbage\x00") is None
    triage = tokens.create(ann.id, "bot", "triage", expires_days=None, actor="ann")
    users.update("ann", role=Role.VIEWER, actor="admin")  # demotion narrows the token
    narrowed = tokens.lookup(triage.token)
    assert narrowed is not None and narrowed.role is Role.VIEWER
    tokens.revoke(triage.record.id, actor="admin")
    assert tokens.lookup(triage.token) is None
    with pytest.raises(ConflictError):
        tokens.revoke(triage.record.id, actor="admin")
    clock.advance(days=2)
    assert tokens.lookup(made.token) is None  # expired
    assert scope_role("triage") is Role.ANALYST
    assert all(made.token not in str(t) for t in tokens.list())
