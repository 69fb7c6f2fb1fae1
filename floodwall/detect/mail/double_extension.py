"""A file named like a document but ending in an executable extension."""

from __future__ import annotations

from typing import ClassVar

from floodwall.detect.mail.findings import attachment_finding
from floodwall.normalize.filetype import DANGEROUS_EXTENSIONS, extensions
from floodwall.records import Finding, MailMessage, Severity

# What victims are told they are opening.
DECOY_EXTENSIONS = frozenset(
    [
        "pdf",
        "doc",
        "docx",
        "xls",
        "xlsx",
        "ppt",
        "pptx",
        "rtf",
        "txt",
        "csv",
        "jpg",
        "jpeg",
        "png",
        "gif",
        "bmp",
        "zip",
        "rar",
        "7z",
        "htm",
        "html",
        "mp3",
        "mp4",
        "wav",
        "xml",
        "odt",
        "ods",
    ]
)


class DoubleExtensionDetector:
    """``invoice.pdf.exe``: a decoy extension followed by a dangerous one (T1036.007)."""

    id: ClassVar[str] = "mail.double_extension"
    title: ClassVar[str] = "Attachment with a double extension"
    severity: ClassVar[Severity] = Severity.HIGH
    attack: ClassVar[tuple[str, ...]] = ("T1036.007", "T1566.001")

    def detect(self, msg: MailMessage) -> list[Finding]:
        out = []
        for att in msg.attachments:
            exts = extensions(att.name)
            if len(exts) >= 2 and exts[-1] in DANGEROUS_EXTENSIONS and exts[-2] in DECOY_EXTENSIONS:
                reason = f"{att.path!r} poses as .{exts[-2]} but is .{exts[-1]}"
                out.append(attachment_finding(self, att, reason))
        return out
