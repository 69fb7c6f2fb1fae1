"""Attachments whose SHA-256 is on a list of known-bad files."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from floodwall.detect.mail.findings import attachment_finding
from floodwall.records import Finding, MailMessage, Severity


class HashIocDetector:
    """An attachment (or a file inside one) is a known-bad file by its SHA-256.

    ``known_bad`` maps lower-case SHA-256 hex to where it was listed (a feed and its
    comment); the intel import builds it and passes it in, this detector only looks up.
    """

    id: ClassVar[str] = "mail.hash_ioc"
    title: ClassVar[str] = "Attachment is a known-bad file"
    severity: ClassVar[Severity] = Severity.CRITICAL
    attack: ClassVar[tuple[str, ...]] = ("T1566.001",)

    def __init__(self, known_bad: Mapping[str, str]) -> None:
        # Feeds write hashes in either case; normalise once here, not per attachment.
        self.known_bad = {k.strip().lower(): v for k, v in known_bad.items()}

    def detect(self, msg: MailMessage) -> list[Finding]:
        out = []
        for att in msg.attachments:
            source = self.known_bad.get(att.sha256.lower())
            if source is not None:
                reason = f"{att.path!r} has SHA-256 {att.sha256}, listed by {source}"
                out.append(attachment_finding(self, att, reason, source=source))
        return out
