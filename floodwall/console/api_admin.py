"""Users, API tokens and the audit log. Admins manage users and see the audit log;
everyone manages their own tokens, and admins anyone's."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from floodwall.console import audit
from floodwall.console.auth import Admin, Viewer, client_ip, context_of
from floodwall.console.errors import InputError, NotFoundError
from floodwall.console.roles import ROLE_LABELS, SCOPES, Principal, Role
from floodwall.console.tokens import TokenRecord
from floodwall.console.users import UserRecord

router = APIRouter(prefix="/api")
_REFUSALS: dict[int | str, dict[str, Any]] = {400: {}, 401: {}, 403: {}}
UserName = Annotated[str, Path(min_length=1, max_length=64)]


class NewUser(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    role: str = Field(description=" | ".join(ROLE_LABELS))
    password: str = Field(min_length=1, max_length=1024)


class UserChange(BaseModel):
    role: str | None = Field(default=None, description=" | ".join(ROLE_LABELS))
    disabled: bool | None = None


class NewPassword(BaseModel):
    password: str = Field(min_length=1, max_length=1024)


class NewTokenBody(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    scope: str = Field(description=" | ".join(SCOPES))
    expires_days: int | None = Field(default=90, ge=1, le=3650)
    user: str | None = Field(default=None, max_length=64, description="admins only")


def _user(u: UserRecord) -> dict[str, Any]:
    return {"id": u.id, "name": u.name, "role": u.role.label, "created": u.created,
            "password_changed": u.password_changed, "disabled": u.disabled}  # fmt: skip


def _role(text: str) -> Role:
    try:
        return Role.parse(text)
    except ValueError as exc:
        raise InputError(str(exc)) from None


@router.get("/users", tags=["users"], responses=_REFUSALS)
def list_users(request: Request, who: Admin) -> list[dict[str, Any]]:
    return [_user(u) for u in context_of(request).users().list()]


@router.post("/users", tags=["users"], status_code=201, responses={**_REFUSALS, 409: {}})
def create_user(request: Request, who: Admin, body: NewUser) -> dict[str, Any]:
    made = (
        context_of(request)
        .users()
        .create(
            body.name,
            _role(body.role),
            body.password,
            actor=who.actor,
            client_ip=client_ip(request),
        )
    )
    return _user(made)


@router.patch("/users/{name}", tags=["users"], responses={**_REFUSALS, 404: {}, 409: {}})
def change_user(request: Request, who: Admin, name: UserName, body: UserChange) -> dict[str, Any]:
    """Change a role or disable a user (their sessions end); the last admin stays."""
    role = None if body.role is None else _role(body.role)
    changed = (
        context_of(request)
        .users()
        .update(
            name, role=role, disabled=body.disabled, actor=who.actor, client_ip=client_ip(request)
        )
    )
    return _user(changed)


@router.put(
    "/users/{name}/password", tags=["users"], status_code=204, responses={**_REFUSALS, 404: {}}
)
def set_password(request: Request, who: Viewer, name: UserName, body: NewPassword) -> None:
    """Users set their own password; admins anyone's. The user's sessions end."""
    if who.name != name and not who.is_allowed(Role.ADMIN):
        raise NotFoundError(f"no user {name!r}")  # do not confirm other names exist
    if who.via == "token" and not who.is_allowed(Role.ADMIN):
        raise InputError("a password is changed from a signed-in session, not with a token")
    context_of(request).users().set_password(
        name, body.password, actor=who.actor, client_ip=client_ip(request)
    )


def _token(t: TokenRecord) -> dict[str, Any]:
    return dataclasses.asdict(t)


def _owner_id(request: Request, who: Principal, user: str | None) -> int | None:
    if user is None or user == who.name:
        return who.user_id
    if not who.is_allowed(Role.ADMIN):
        raise NotFoundError(f"no user {user!r}")
    return context_of(request).users().need(user).id


@router.get("/tokens", tags=["tokens"], responses=_REFUSALS)
def list_tokens(request: Request, who: Viewer, all_users: bool = False) -> list[dict[str, Any]]:
    """The caller's tokens (admins: everyone's with ``all_users``); never their secrets."""
    owner = None if all_users and who.is_allowed(Role.ADMIN) else who.user_id
    return [_token(t) for t in context_of(request).tokens().list(user_id=owner)]


@router.post("/tokens", tags=["tokens"], status_code=201, responses={**_REFUSALS, 404: {}})
def create_token(request: Request, who: Viewer, body: NewTokenBody) -> dict[str, Any]:
    """A scoped token (read | triage | admin, at most the owner's role); shown once.
    A token cannot mint tokens: that needs a signed-in session."""
    if who.via == "token":
        raise InputError("tokens are made from a signed-in session, not with a token")
    if body.scope not in SCOPES:
        raise InputError(f"scope must be one of {', '.join(SCOPES)}")
    owner = _owner_id(request, who, body.user)
    assert owner is not None
    made = context_of(request).tokens().create(
        owner, body.name, body.scope, expires_days=body.expires_days, actor=who.actor,
        client_ip=client_ip(request),
    )  # fmt: skip
    return {"token": made.token, **_token(made.record)}


@router.delete("/tokens/{token_id}", tags=["tokens"], responses={**_REFUSALS, 404: {}, 409: {}})
def revoke_token(
    request: Request, who: Viewer, token_id: Annotated[str, Path(max_length=12)]
) -> dict[str, Any]:
    """Revoke at once. Own tokens, or anyone's for an admin."""
    tokens = context_of(request).tokens()
    found = tokens.get(token_id)
    if found is None or (found.user_id != who.user_id and not who.is_allowed(Role.ADMIN)):
        raise NotFoundError(f"no token {token_id!r}")
    return _token(tokens.revoke(token_id, actor=who.actor, client_ip=client_ip(request)))


@router.get("/audit", tags=["audit"], responses=_REFUSALS)
def audit_entries(
    request: Request,
    who: Admin,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,  # SQLite INTEGER
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """Newest first; ``before`` (a seq) pages back."""
    conn = context_of(request).store().connection
    rows = audit.entries(conn, before=before, action=action, actor=actor, limit=limit)
    return [dataclasses.asdict(r) for r in rows]


@router.get("/audit/verify", tags=["audit"], responses=_REFUSALS)
def audit_verify(request: Request, who: Admin) -> dict[str, Any]:
    """Recompute the hash chain; ``broken_at`` is the first bad entry, or null."""
    report = audit.verify(context_of(request).store().connection)
    return {**dataclasses.asdict(report), "intact": report.is_intact}
