"""Attachments that the user's own ClamAV daemon (clamd) reports as malware."""

from __future__ import annotations

from typing import ClassVar

from floodwall.detect.mail.clamd import ClamdClient, ClamdError
from floodwall.detect.mail.findings import attachment_finding
from floodwall.records import Finding, MailMessage, Severity


class ClamavDetector:
    """ClamAV names an attachment as malware (a signature found by the user's clamd).

    Optional: it runs only where a clamd answered at start-up, and scans every attachment
    with data, archive members included, through the client passed in (clamd(8)
    INSTREAM). A scan clamd could not finish (a stream over its StreamMaxLength, an
    error, a timeout, a dropped connection) raises :class:`ClamdError`, so the message
    is held as unscannable instead of passing unexamined.
    """

    id: ClassVar[str] = "mail.clamav"
    title: ClassVar[str] = "ClamAV found malware"
    severity: ClassVar[Severity] = Severity.CRITICAL
    attack: ClassVar[tuple[str, ...]] = ("T1566.001",)

    def __init__(self, client: ClamdClient) -> None:
        self.client = client

    def detect(self, msg: MailMessage) -> list[Finding]:
        out = []
        for att in msg.attachments:
            if not att.data:
                continue
            result = self.client.scan(att.data)
            if result.status == "error":
                raise ClamdError(f"clamd could not scan {att.path!r}: {result.detail}")
            if result.status == "found":
                reason = f"ClamAV reports {att.path!r} as {result.signature}"
                out.append(attachment_finding(self, att, reason, signature=result.signature))
        return out
