"""Who is asking: roles, token scopes, and the principal a request runs as.

Roles are ordered: each includes the rights of the ones below it. An API token carries
a scope; it acts with the lower of its scope's role and its owner's current role, so
demoting a user also narrows every token the user made.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Role(IntEnum):
    """viewer reads; analyst triages and releases; admin manages users, tokens, policy."""

    VIEWER = 1
    ANALYST = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        """``viewer`` | ``analyst`` | ``admin``; ValueError otherwise."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown role {text!r}: viewer, analyst or admin") from None


ROLE_LABELS = tuple(r.label for r in Role)

#: Token scope -> the role it grants at most.
SCOPES: dict[str, Role] = {"read": Role.VIEWER, "triage": Role.ANALYST, "admin": Role.ADMIN}


def scope_role(scope: str) -> Role:
    """The role a token scope grants at most; ValueError for an unknown scope."""
    try:
        return SCOPES[scope]
    except KeyError:
        raise ValueError(f"unknown scope {scope!r}: read, triage or admin") from None


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a user through a session cookie or an API token.

    ``actor`` is what the audit log records: the user name, plus the token id when a
    token was used (``alice/token:3f9a...``), so a leaked token's use can be traced.
    """

    user_id: int
    name: str
    role: Role
    via: str  # "session" | "token"
    token_id: str | None = None
    csrf: str | None = None  # the session's CSRF token; None for tokens

    @property
    def actor(self) -> str:
        return self.name if self.token_id is None else f"{self.name}/token:{self.token_id}"

    def is_allowed(self, needed: Role) -> bool:
        """True when this caller's role includes ``needed``."""
        return self.role >= needed
