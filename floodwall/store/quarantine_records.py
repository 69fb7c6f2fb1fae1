"""The quarantine's records and the small helpers its store shares: ids, text, time.

Split from ``quarantine.py`` by meaning: what a held message and an audit entry are,
and how a row turns into one; the store there decides what happens to them.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from floodwall.respond.policy import Symbol

STATUSES = ("held", "released", "deleted", "expired")
AUDIT_ACTIONS = ("hold", "show", "release", "release_failed", "delete", "expire", "download")

_ID = re.compile(r"[0-9a-f]{32}")
ID_PREFIX = re.compile(r"[0-9a-f]{6,32}")
MAX_HEADERS = 200  # kept in the row so `show` never has to open the message file
MAX_HEADER_VALUE = 4000
MAX_TEXT = 4000  # reasons and details


class QuarantineError(Exception):
    """An action the quarantine refuses: unknown id, wrong status, release under way."""


@dataclass(frozen=True, slots=True)
class HeldAttachment:
    """One attachment of a held message, as the scan saw it."""

    name: str
    path: str  # from the top: invoice.zip/docs/invoice.pdf.exe
    depth: int  # 0 for a MIME part, one more per archive level
    true_type: str
    declared_type: str
    size: int
    sha256: str
    encrypted: bool
    findings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QuarantinedMessage:
    """One row of the quarantine: the envelope, what the scan found, and the status."""

    id: str
    held: str
    source: str
    hold_key: str | None
    mail_from: str
    rcpt_to: tuple[str, ...]
    message_id: str
    from_addr: str
    subject: str
    headers: tuple[tuple[str, str], ...]
    sha256: str
    size: int
    verdict: str
    score: float
    symbols: tuple[Symbol, ...]
    attachments: tuple[HeldAttachment, ...]
    unscannable: tuple[str, ...]
    file: str
    status: str
    status_changed: str
    release_claim: str | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One action on a held message."""

    id: int
    quarantine_id: str
    at: str
    actor: str
    action: str
    reason: str
    detail: str


def is_quarantine_id(value: str) -> bool:
    """True for a well-formed id (32 lowercase hex digits), the only names of files here."""
    return _ID.fullmatch(value) is not None


def check_id(value: str) -> str:
    if not is_quarantine_id(value):
        raise ValueError(f"not a quarantine id: {clean_text(value)[:80]!r}")
    return value


def clean_text(value: str, cap: int | None = None) -> str:
    # Hostile input may carry lone surrogates (undecodable headers), which SQLite
    # cannot store as TEXT.
    clean = value.encode("utf-8", "replace").decode("utf-8")
    return clean if cap is None else clean[:cap]


def now_iso(now: datetime | None = None) -> str:
    moment = datetime.now(UTC) if now is None else now.astimezone(UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def new_id() -> str:
    # Time-ordered ids keep inserts at the end of the primary-key index; 16 hex digits of
    # nanoseconds last until 2554, and 64 random bits keep two processes apart.
    return f"{time.time_ns():016x}{os.urandom(8).hex()}"


def required_reason(reason: str) -> str:
    if not reason.strip():
        raise ValueError("a reason is required")
    return clean_text(reason.strip(), MAX_TEXT)


COLUMNS = (
    "id, held, source, hold_key, mail_from, rcpt_to, message_id, from_addr, subject, headers,"
    " sha256, size, verdict, score, symbols, attachments, unscannable, file, status,"
    " status_changed, release_claim"
)


def decode_row(row: tuple[Any, ...]) -> QuarantinedMessage:
    (id_, held, source, key, mail_from, rcpt, message_id, from_addr, subject, headers,
     sha256, size, verdict, score, symbols, attachments, unscannable, file, status,
     changed, claim) = row  # fmt: skip
    return QuarantinedMessage(
        id=id_, held=held, source=source, hold_key=key, mail_from=mail_from,
        rcpt_to=tuple(json.loads(rcpt)), message_id=message_id, from_addr=from_addr,
        subject=subject, headers=tuple((str(n), str(v)) for n, v in json.loads(headers)),
        sha256=sha256, size=int(size), verdict=verdict, score=float(score),
        symbols=tuple(Symbol(s["id"], float(s["score"]), s["reason"]) for s in json.loads(symbols)),
        attachments=tuple(
            HeldAttachment(
                a["name"], a["path"], int(a["depth"]), a["true_type"], a["declared_type"],
                int(a["size"]), a["sha256"], bool(a["encrypted"]), tuple(a["findings"]),
            )
            for a in json.loads(attachments)
        ),
        unscannable=tuple(json.loads(unscannable)), file=file, status=status,
        status_changed=changed, release_claim=claim,
    )  # fmt: skip


class AlreadyHeldError(Exception):
    def __init__(self, qid: str) -> None:
        super().__init__(qid)
        self.qid = qid


def outcome_detail(outcome: object) -> str:
    """What the next hop said, for the audit: a RelayResult's code, text and refusals."""
    code, text = getattr(outcome, "code", None), getattr(outcome, "text", None)
    if isinstance(code, int) and isinstance(text, str):
        refused = getattr(outcome, "refused", ())
        tail = "; refused " + ", ".join(str(r) for r in refused) if refused else ""
        return f"{code} {text}{tail}"
    return "" if outcome is None else repr(outcome)
