"""An attachment of a kind that runs code when opened, at any archive depth."""

from __future__ import annotations

from typing import ClassVar

from floodwall.detect.mail.findings import attachment_finding
from floodwall.normalize.filetype import DANGEROUS_EXTENSIONS, extensions
from floodwall.records import Finding, MailMessage, Severity

# True types that execute or mount on a double click, whatever the name says.
DANGEROUS_TYPES = frozenset(
    [
        "pe",
        "dll",
        "elf",
        "macho",
        "lnk",
        "one",
        "chm",
        "msi",
        "iso",
        "udf",
        "vhd",
        "vhdx",
        "img",
        "jar",
        "hta",
    ]
)


class DangerousAttachmentDetector:
    """Executables, scripts, shortcuts, disk images and the like (T1204.002)."""

    id: ClassVar[str] = "mail.dangerous_attachment"
    title: ClassVar[str] = "Dangerous attachment type"
    severity: ClassVar[Severity] = Severity.HIGH
    attack: ClassVar[tuple[str, ...]] = ("T1566.001", "T1204.002")

    def detect(self, msg: MailMessage) -> list[Finding]:
        out = []
        for att in msg.attachments:
            exts = extensions(att.name)
            why = []
            if exts and exts[-1] in DANGEROUS_EXTENSIONS:
                why.append(f"extension .{exts[-1]}")
            if att.true_type in DANGEROUS_TYPES:
                why.append(f"content {att.true_type}")
            if why:
                reason = f"{att.path!r}: {', '.join(why)}"
                out.append(attachment_finding(self, att, reason, true_type=att.true_type))
        return out
