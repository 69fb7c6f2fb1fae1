"""Every harmless attack sample is held (quarantine or reject) by the whole scanner with the
shipped policy: EICAR, auto-exec macros, a .lnk, HTML smuggling, a remote-template docx, a
zip holding invoice.pdf.exe and a sender on a lookalike domain (issue 3)."""

from __future__ import annotations

import functools
import io
import uuid
import zipfile
from pathlib import Path

import pytest
import sample_mail

from floodwall.ingest.mail_source import RawMail
from floodwall.mail.detectors import build_detectors
from floodwall.mail.scan import MailDetector, ScanResult, scan_message
from floodwall.normalize.mime import parse_message
from floodwall.records import Origin
from floodwall.respond.policy import Policy
from floodwall.settings import Settings

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "detect" / "mail"
OLETOOLS = Path(__file__).resolve().parents[3].parent / "shared/data/mail/oletools_test_data"
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
PE = b"MZ" + b"\0" * 58 + b"\x40\0\0\0" + b"PE\0\0" + b"\x4c\x01" + b"\0" * 200
# A shell link header (MS-SHLLINK 2.1): size 0x4C and the link CLSID; harmless.
LNK = b"\x4c\0\0\0" + uuid.UUID("00021401-0000-0000-c000-000000000046").bytes_le + b"\0" * 60
HELD = ("quarantine", "reject")


@functools.cache
def detectors() -> tuple[MailDetector, ...]:
    """All detectors (no clamd: the samples must be held without ClamAV)."""
    return tuple(build_detectors(Settings.load(Path("/nonexistent-floodwall-data"))))


def scan(data: bytes, name: str = "sample.eml") -> ScanResult:
    msg = parse_message(RawMail(Origin(name, 1), data))
    return scan_message(msg, detectors(), Policy.load())


def zipped(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, data)
    return buf.getvalue()


BUILT = {
    "eicar.txt": ("Test", [("eicar.txt", EICAR + b"\r\n", "text/plain")]),
    "eicar in a zip": ("Test", [("test.zip", zipped("eicar.com", EICAR), "application/zip")]),
    "lnk": ("Scan", [("scan.lnk", LNK, "application/octet-stream")]),
    "zip with invoice.pdf.exe": (
        "Invoice",
        [("invoice.zip", zipped("invoice.pdf.exe", PE), "application/zip")],
    ),
}
SHIPPED = ("html_smuggling", "remote_template", "macro_autoexec", "lookalike_domain", "yara",
           "encrypted_pdf")  # fmt: skip
OLETOOLS_MACROS = (
    # Encrypted with Excel's default password (VelvetSweatshop, MS-OFFCRYPTO): opened by
    # floodwall.normalize.office_crypto, so the auto-exec macro is seen.
    "encrypted/autostart-encrypt-standardpassword.xlsm",
    "encrypted/autostart-encrypt-standardpassword.xls",
    "olevba/sample_with_vba.ppt",
    "excel4-macros/excel4_sample_macro.xlsm",
)


@pytest.mark.parametrize("case", sorted(BUILT))
def test_built_attack_is_held(case: str) -> None:
    subject, files = BUILT[case]
    result = scan(sample_mail.message(subject, files), case)
    assert result.verdict.action in HELD, (case, result.verdict)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_sample_is_held(name: str) -> None:
    result = scan((SAMPLES / name / "sample.eml").read_bytes(), name)
    assert result.verdict.action in HELD, (name, result.verdict)


@pytest.mark.parametrize("rel", OLETOOLS_MACROS)
def test_oletools_macro_sample_is_held(rel: str) -> None:
    path = OLETOOLS / rel
    if not path.is_file():
        pytest.skip(f"{OLETOOLS} is absent (the shared test data is not on this machine)")
    files = [(path.name, path.read_bytes(), "application/octet-stream")]
    result = scan(sample_mail.message("Macro", files), rel)
    assert result.verdict.action in HELD, (rel, result.verdict)


@pytest.mark.parametrize("rel", ["encrypted/encrypted.docm", "encrypted/encrypted.xls"])
def test_office_file_no_password_opens_is_named(rel: str) -> None:
    """Encrypted with a password the message does not give: the file itself is a finding,
    like an encrypted archive (T1027.013)."""
    path = OLETOOLS / rel
    if not path.is_file():
        pytest.skip(f"{OLETOOLS} is absent (the shared test data is not on this machine)")
    files = [(path.name, path.read_bytes(), "application/octet-stream")]
    result = scan(sample_mail.message("Macro", files), rel)
    assert "mail.encrypted_archive" in {f.id for f in result.findings}, result.findings
    assert result.verdict.action != "accept", result.verdict


def test_a_plain_message_is_not_held() -> None:
    """The control: the same builder with a harmless text file is delivered."""
    result = scan(sample_mail.message("Notes", [("notes.txt", b"hello\n", "text/plain")]))
    assert result.verdict.action == "accept", result.verdict
