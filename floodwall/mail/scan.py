"""Scan one message: detectors name what they see, the policy decides."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from floodwall.records import Finding, MailMessage
from floodwall.respond.policy import Policy, Verdict


class MailDetector(Protocol):
    """A mail detector: class-level metadata and one ``detect`` method, no I/O."""

    id: ClassVar[str]

    def detect(self, msg: MailMessage) -> list[Finding]: ...


@dataclass(frozen=True, slots=True)
class ScanResult:
    """A message, what was found in it, and the verdict."""

    message: MailMessage
    findings: tuple[Finding, ...]
    verdict: Verdict


def scan_message(msg: MailMessage, detectors: Sequence[MailDetector], policy: Policy) -> ScanResult:
    """Run every detector; a detector that fails on hostile input makes the message
    unscannable (held by default) instead of letting it through unexamined."""
    findings: list[Finding] = []
    problems = list(msg.unscannable)
    for detector in detectors:
        try:
            findings.extend(detector.detect(msg))
        except Exception as exc:  # a detector bug must never pass a message silently
            problems.append(f"detector {detector.id} failed: {type(exc).__name__}: {exc}")
    return ScanResult(msg, tuple(findings), policy.decide(findings, problems))


def result_object(result: ScanResult, context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The jsonl contract for one message: path, message_id, verdict, score, symbols
    ({id, score, reason}) and attachments (name, true type, sha256, findings);
    ``authentication``, Floodwall's own SPF/DKIM/DMARC results as an Authentication-Results
    value (RFC 8601), when the scan tried them; with a
    ``context`` (``enrich/context.py``), ``source`` {ip, geo, as} and ``origin`` {class,
    reason} of the client that handed the message in."""
    msg, verdict = result.message, result.verdict
    by_attachment: dict[str, list[str]] = {}
    for f in result.findings:
        path = f.evidence.get("attachment")
        if isinstance(path, str):
            by_attachment.setdefault(path, []).append(f.id)
    auth = msg.sender_auth
    return {
        "path": msg.origin.path,
        "record_id": msg.origin.record_id,
        "message_id": msg.message_id,
        "sha256": msg.sha256,
        "from": msg.from_addr,
        "subject": msg.subject,
        "verdict": verdict.action,
        "score": verdict.score,
        "symbols": [{"id": s.id, "score": s.score, "reason": s.reason} for s in verdict.symbols],
        "attachments": [
            {
                "name": a.name,
                "path": a.path,
                "depth": a.depth,
                "declared_type": a.declared_type,
                "true_type": a.true_type,
                "size": a.size,
                "sha256": a.sha256,
                "encrypted": a.encrypted,
                "findings": sorted(set(by_attachment.get(a.path, []))),
            }
            for a in msg.attachments
        ],
        "unscannable": list(verdict.unscannable),
        **({"authentication": auth.header_value()} if auth is not None else {}),
        **(
            {"source": dict(context["source"]), "origin": dict(context["origin"])}
            if context is not None
            else {}
        ),
    }
