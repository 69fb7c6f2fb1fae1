"""The Finding an attachment detector reports: who saw it, which file, and why."""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from floodwall.records import Attachment, Finding, Observable, Severity


class _Meta(Protocol):
    id: ClassVar[str]
    title: ClassVar[str]
    severity: ClassVar[Severity]
    attack: ClassVar[tuple[str, ...]]


def attachment_finding(detector: _Meta, att: Attachment, reason: str, **extra: Any) -> Finding:
    """A finding about ``att``; ``evidence["attachment"]`` ties it to the file."""
    return Finding(
        detector.id,
        detector.title,
        detector.severity,
        detector.attack,
        {"reason": reason, "attachment": att.path, **extra},
        (Observable("sha256", att.sha256),),
        detector=detector.id,
    )
