"""A file name that uses Unicode bidirectional controls to hide its real extension."""

from __future__ import annotations

from typing import ClassVar

from floodwall.detect.mail.findings import attachment_finding
from floodwall.records import Finding, MailMessage, Severity

# Right-to-left override and friends (Unicode TR #9): "invoice\u202Efdp.exe" displays
# as "invoiceexe.pdf".
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


class RtloFilenameDetector:
    """Attachment name with a right-to-left override or other bidi control (T1036.002)."""

    id: ClassVar[str] = "mail.rtlo_filename"
    title: ClassVar[str] = "Attachment name hides its extension with bidi controls"
    severity: ClassVar[Severity] = Severity.HIGH
    attack: ClassVar[tuple[str, ...]] = ("T1036.002", "T1566.001")

    def detect(self, msg: MailMessage) -> list[Finding]:
        return [
            attachment_finding(self, att, f"{att.path!r} contains a bidirectional control")
            for att in msg.attachments
            if BIDI_CONTROLS & set(att.name)
        ]
