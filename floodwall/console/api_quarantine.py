"""``/api/quarantine``: held mail. Showing a message gives its facts, never its bytes;
the bytes (which may be an executable) come only through ``download``, a POST that
names a reason and is audited. Release goes to the configured next hop, once, like
``floodwall quarantine release``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field

from floodwall.console import audit
from floodwall.console.auth import Analyst, Viewer, client_ip, context_of
from floodwall.console.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    UnavailableError,
    UpstreamError,
)
from floodwall.respond.relay import RelayError, RelayResult, relay_message
from floodwall.store.quarantine import QuarantinedMessage, QuarantineError, QuarantineStore
from floodwall.store.quarantine_records import STATUSES

router = APIRouter(prefix="/api/quarantine", tags=["quarantine"])
_REFUSALS: dict[int | str, dict[str, Any]] = {400: {}, 401: {}, 403: {}, 404: {}}
QuarantineId = Annotated[str, Path(min_length=1, max_length=64)]


class Reasoned(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class Release(Reasoned):
    force: bool = Field(
        default=False, description="go past an unfinished release (it may have sent)"
    )


def _quarantine(request: Request) -> QuarantineStore:
    ctx = context_of(request)
    return QuarantineStore(ctx.store(), ctx.settings.data_dir / "quarantine")


def _public(msg: QuarantinedMessage) -> dict[str, Any]:
    facts = dataclasses.asdict(msg)
    facts.pop("file")  # where it lies on the server is not the caller's business
    return facts


def _refusal(exc: Exception) -> Exception:
    text = str(exc)
    if isinstance(exc, ValueError):
        return InputError(text)
    return NotFoundError(text) if text.startswith("no quarantined message") else ConflictError(text)


def _audit(request: Request, who: str, action: str, qid: str, detail: dict[str, Any]) -> None:
    ctx = context_of(request)
    with ctx.store().write() as conn:
        audit.append(
            conn, actor=who, action=action, target=qid, detail=detail,
            client_ip=client_ip(request), at=audit.iso_now(ctx.clock()),
        )  # fmt: skip


@router.get("", responses=_REFUSALS)
def list_held(
    request: Request,
    who: Viewer,
    status: Annotated[str | None, Query(description=" | ".join(STATUSES))] = "held",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[dict[str, Any]]:
    """Messages of a status (default held), newest first."""
    if status is not None and status not in STATUSES:
        raise InputError(f"status must be one of {', '.join(STATUSES)}")
    return [_public(m) for m in _quarantine(request).list(status, limit=limit, offset=offset)]


@router.get("/{qid}", responses=_REFUSALS)
def show_held(request: Request, who: Viewer, qid: QuarantineId) -> dict[str, Any]:
    """Headers, verdict, symbols and attachments (the look is recorded)."""
    try:
        msg = _quarantine(request).show(qid, actor=who.actor)
        audit_trail = _quarantine(request).audit(qid)
    except (QuarantineError, ValueError) as exc:
        raise _refusal(exc) from None
    facts = _public(msg)
    facts["audit"] = [dataclasses.asdict(e) for e in audit_trail]
    return facts


@router.post("/{qid}/download", responses={**_REFUSALS, 409: {}})
def download_held(request: Request, who: Analyst, qid: QuarantineId, body: Reasoned) -> Response:
    """The message's bytes as received, as a file to save, never to open: an explicit,
    audited action with its reason."""
    try:
        data = _quarantine(request).raw(qid, actor=who.actor, reason=body.reason)
    except (QuarantineError, ValueError) as exc:
        raise _refusal(exc) from None
    _audit(request, who.actor, "quarantine_download", qid, {"reason": body.reason})
    return Response(
        data,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{qid}.eml.quarantined"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.post("/{qid}/release", responses={**_REFUSALS, 409: {}, 502: {}, 503: {}})
def release_held(
    request: Request, who: Analyst, qid: QuarantineId, body: Release
) -> dict[str, Any]:
    """Deliver the message to the next hop ([gateway] relay), once; audited."""
    ctx = context_of(request)
    target = ctx.settings.gateway_relay
    if not target:
        raise UnavailableError("no next hop: set [gateway] relay in floodwall.toml")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise UnavailableError(f"[gateway] relay {target!r} is not HOST:PORT")

    def send(mail_from: str, rcpt_to: Sequence[str], data: bytes) -> RelayResult:
        return relay_message(
            host.strip("[]"), int(port), mail_from, rcpt_to, data,
            timeout=ctx.config.relay_timeout,
        )  # fmt: skip

    try:
        outcome = _quarantine(request).release(
            qid, actor=who.actor, reason=body.reason, send=send, force=body.force
        )
    except RelayError as exc:
        _audit(request, who.actor, "quarantine_release_failed", qid, {"error": str(exc)})
        raise UpstreamError(f"the next hop refused or failed: {exc}; it stays held") from None
    except (QuarantineError, ValueError) as exc:
        raise _refusal(exc) from None
    result = outcome if isinstance(outcome, RelayResult) else None
    detail = {"reason": body.reason, "to": target, "code": result.code if result else None}
    _audit(request, who.actor, "quarantine_release", qid, detail)
    return {"id": qid, "status": "released", "relay": target, **detail}


@router.post("/{qid}/delete", responses={**_REFUSALS, 409: {}})
def delete_held(
    request: Request, who: Analyst, qid: QuarantineId, body: Reasoned
) -> dict[str, Any]:
    """Remove the message's file; its record and audit stay."""
    try:
        _quarantine(request).delete(qid, actor=who.actor, reason=body.reason)
    except (QuarantineError, ValueError) as exc:
        raise _refusal(exc) from None
    _audit(request, who.actor, "quarantine_delete", qid, {"reason": body.reason})
    return {"id": qid, "status": "deleted"}
