"""An attachment whose content is not what its name says."""

from __future__ import annotations

from typing import ClassVar

from floodwall.detect.mail.findings import attachment_finding
from floodwall.normalize.filetype import extensions
from floodwall.normalize.office_crypto import is_encrypted_office
from floodwall.records import Finding, MailMessage, Severity

# The true types each harmless-looking extension may honestly have.
EXPECTED: dict[str, frozenset[str]] = {
    "pdf": frozenset({"pdf"}),
    "jpg": frozenset({"jpeg"}), "jpeg": frozenset({"jpeg"}), "png": frozenset({"png"}),
    "gif": frozenset({"gif"}),
    "docx": frozenset({"ooxml", "docx", "zip"}), "xlsx": frozenset({"ooxml", "xlsx", "zip"}),
    "pptx": frozenset({"ooxml", "pptx", "zip"}),
    "doc": frozenset({"ole", "rtf"}), "xls": frozenset({"ole"}), "ppt": frozenset({"ole"}),
    "txt": frozenset({"text"}), "csv": frozenset({"text"}),
    "zip": frozenset({"zip", "ooxml", "jar"}), "7z": frozenset({"7z"}), "rar": frozenset({"rar"}),
    "gz": frozenset({"gzip"}),
}  # fmt: skip
_OOXML = frozenset(["docx", "xlsx", "pptx", "docm", "xlsm", "pptm", "dotx", "dotm", "xltx", "xltm"])
# A mismatch only matters when the real content is something that can run or carry code.
RISKY = frozenset(
    [
        "pe",
        "dll",
        "elf",
        "macho",
        "lnk",
        "one",
        "chm",
        "msi",
        "hta",
        "html",
        "jar",
        "iso",
        "img",
        "vhd",
        "vhdx",
        "ole",
        "rtf",
    ]
)


class FileTypeMismatchDetector:
    """The extension promises a document or picture, the magic bytes say otherwise
    (T1036.008, masquerading file type)."""

    id: ClassVar[str] = "mail.file_type_mismatch"
    title: ClassVar[str] = "Attachment content does not match its name"
    severity: ClassVar[Severity] = Severity.HIGH
    attack: ClassVar[tuple[str, ...]] = ("T1036.008", "T1566.001")

    def detect(self, msg: MailMessage) -> list[Finding]:
        out = []
        for att in msg.attachments:
            exts = extensions(att.name)
            expected = EXPECTED.get(exts[-1]) if exts else None
            if expected and att.true_type not in expected and att.true_type in RISKY:
                if exts[-1] in _OOXML and att.true_type == "ole" and is_encrypted_office(att.data):
                    # An encrypted OOXML package is stored in an OLE compound file
                    # (MS-OFFCRYPTO §2.3.4.4): that is its honest form, not a disguise.
                    # Opened, its document is scanned as a member; unopened, it is
                    # flagged as encrypted.
                    continue
                reason = f"{att.path!r} is named .{exts[-1]} but holds {att.true_type}"
                out.append(attachment_finding(self, att, reason, true_type=att.true_type))
        return out
