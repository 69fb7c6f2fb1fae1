"""Triage of one alert: status changes with a comment, and assignment; each step kept in
``alert_history`` and in the audit log, in the same transaction as the change."""

from __future__ import annotations

from floodwall.console import audit
from floodwall.console.errors import ConflictError, InputError, NotFoundError
from floodwall.store.db import Store

#: open -> acknowledged -> resolved | false_positive; a closed alert can be reopened.
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"acknowledged", "resolved", "false_positive"}),
    "acknowledged": frozenset({"resolved", "false_positive", "open"}),
    "resolved": frozenset({"open"}),
    "false_positive": frozenset({"open"}),
}
MAX_COMMENT = 4000


def is_allowed_transition(old: str, new: str) -> bool:
    return new in TRANSITIONS.get(old, frozenset())


def change_status(
    store: Store, alert_id: str, new: str, comment: str, *, actor: str, at: str, client_ip: str
) -> str:
    """Move the alert to ``new``; returns the status it had. A comment is required."""
    if new not in TRANSITIONS:
        raise InputError(f"status must be one of {', '.join(TRANSITIONS)}")
    text = comment.strip()
    if not text:
        raise InputError("a status change needs a comment saying why")
    if len(text) > MAX_COMMENT:
        raise InputError(f"a comment has at most {MAX_COMMENT} characters")
    with store.write() as conn:
        row = conn.execute("SELECT status FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no alert {alert_id}")
        old = str(row[0])
        if not is_allowed_transition(old, new):
            raise ConflictError(f"an alert that is {old} cannot become {new}")
        conn.execute("UPDATE alerts SET status = ? WHERE id = ?", (new, alert_id))
        conn.execute(
            "INSERT INTO alert_history (alert_id, at, actor, action, from_value, to_value,"
            " comment) VALUES (?, ?, ?, 'status', ?, ?, ?)",
            (alert_id, at, actor, old, new, text),
        )
        audit.append(
            conn, actor=actor, action="alert_status", target=alert_id,
            detail={"from": old, "to": new, "comment": text}, client_ip=client_ip, at=at,
        )  # fmt: skip
    return old


def assign(
    store: Store,
    alert_id: str,
    assignee: str | None,
    comment: str,
    *,
    actor: str,
    at: str,
    client_ip: str,
) -> None:
    """Give the alert to ``assignee`` (an enabled user) or to nobody (None)."""
    if len(comment) > MAX_COMMENT:
        raise InputError(f"a comment has at most {MAX_COMMENT} characters")
    with store.write() as conn:
        row = conn.execute("SELECT assignee FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no alert {alert_id}")
        if assignee is not None:
            user = conn.execute("SELECT disabled FROM users WHERE name = ?", (assignee,)).fetchone()
            if user is None or user[0]:
                raise InputError(f"no enabled user {assignee!r}")
        conn.execute("UPDATE alerts SET assignee = ? WHERE id = ?", (assignee, alert_id))
        conn.execute(
            "INSERT INTO alert_history (alert_id, at, actor, action, from_value, to_value,"
            " comment) VALUES (?, ?, ?, 'assign', ?, ?, ?)",
            (alert_id, at, actor, row[0], assignee, comment.strip()),
        )
        audit.append(
            conn, actor=actor, action="alert_assign", target=alert_id,
            detail={"from": row[0], "to": assignee}, client_ip=client_ip, at=at,
        )  # fmt: skip
