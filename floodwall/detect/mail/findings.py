"""The Findings mail detectors report: who saw it, what, and why (one builder, so the
metadata a Finding carries comes from the detector's class, never retyped)."""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from floodwall.records import Attachment, Finding, Observable, Severity


class DetectorMeta(Protocol):
    """What a finding takes from its detector class."""

    id: ClassVar[str]
    title: ClassVar[str]
    severity: ClassVar[Severity]
    attack: ClassVar[tuple[str, ...]]


def detector_finding(
    detector: DetectorMeta, evidence: dict[str, Any], observables: tuple[Observable, ...] = ()
) -> Finding:
    """A finding of ``detector``; ``evidence["reason"]`` is the sentence shown."""
    return Finding(
        detector.id,
        detector.title,
        detector.severity,
        detector.attack,
        evidence,
        observables,
        detector=detector.id,
    )


def attachment_finding(
    detector: DetectorMeta, att: Attachment, reason: str, **extra: Any
) -> Finding:
    """A finding about ``att``; ``evidence["attachment"]`` ties it to the file."""
    evidence = {"reason": reason, "attachment": att.path, **extra}
    return detector_finding(detector, evidence, (Observable("sha256", att.sha256),))
