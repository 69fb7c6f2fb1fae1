"""A password-protected archive: the classic way past gateway scanners."""

from __future__ import annotations

from typing import ClassVar

from floodwall.detect.mail.findings import attachment_finding
from floodwall.records import Finding, MailMessage, Severity


class EncryptedArchiveDetector:
    """An encrypted archive that could not be opened, or was opened only with a password
    sent in the message itself (T1027.013, encrypted file)."""

    id: ClassVar[str] = "mail.encrypted_archive"
    title: ClassVar[str] = "Password-protected attachment"
    severity: ClassVar[Severity] = Severity.MEDIUM
    attack: ClassVar[tuple[str, ...]] = ("T1027.013", "T1566.001")

    def detect(self, msg: MailMessage) -> list[Finding]:
        out = []
        for att in msg.attachments:
            if att.encrypted:
                reason = f"{att.path!r} is encrypted and no password in the message opens it"
            elif att.password:
                reason = f"{att.path!r} is encrypted with the password given in the message"
            else:
                continue
            out.append(attachment_finding(self, att, reason, opened=bool(att.password)))
        return out
