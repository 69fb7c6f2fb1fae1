"""Encrypted Office files (MS-OFFCRYPTO) built here with msoffcrypto-tool, and real ones from
the oletools test data: what ``office_crypto`` and the MIME normalizer make of them."""

from __future__ import annotations

import functools
import hashlib
import io
import time
import zipfile
from email.message import EmailMessage
from pathlib import Path

import olefile
import pytest
from msoffcrypto.format.ooxml import OOXMLFile

from floodwall.ingest.mail_source import RawMail
from floodwall.normalize.filetype import true_type
from floodwall.normalize.mime import parse_message
from floodwall.normalize.office_crypto import (
    CryptoLimits,
    decrypt,
    is_encrypted_office,
    open_encrypted,
)
from floodwall.records import Attachment, MailMessage, Origin

ENCRYPTED = Path(__file__).resolve().parents[3] / "shared/data/mail/oletools_test_data/encrypted"
SPIN = b'        <p:encryptedKey spinCount="100000"'


@functools.cache
def docx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns='
            '"http://schemas.openxmlformats.org/package/2006/content-types"/>',
        )
        z.writestr("word/document.xml", "<w:document>hello</w:document>")
        # msoffcrypto's writer puts a package under 4 KiB in the mini stream wrongly.
        z.writestr("word/media/image1.bin", bytes(range(256)) * 32, zipfile.ZIP_STORED)
    return buf.getvalue()


@functools.cache
def encrypted(password: str) -> bytes:
    """An agile-encrypted docx (spin count 100,000), as Office 2010+ writes it."""
    out = io.BytesIO()
    OOXMLFile(io.BytesIO(docx())).encrypt(password, out)
    data = out.getvalue()
    assert data.count(SPIN) == 1  # the XML sits in one piece: byte edits below stay valid
    return data


def att(name: str, data: bytes) -> Attachment:
    return Attachment(
        name=name,
        path=name,
        depth=0,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        declared_type="application/octet-stream",
        true_type=true_type(data, name),
        data=data,
    )


def message(body: str, name: str, data: bytes) -> MailMessage:
    msg = EmailMessage()
    msg["From"] = "a@example.com"
    msg["To"] = "b@example.org"
    msg["Subject"] = "Report"
    msg.set_content(body)
    msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return parse_message(RawMail(Origin("t.eml", 1), msg.as_bytes()))


def shared(name: str) -> bytes:
    path = ENCRYPTED / name
    if not path.is_file():
        pytest.skip(f"{ENCRYPTED} is absent (the shared test data is not on this machine)")
    return path.read_bytes()


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("autostart-encrypt-standardpassword.xlsm", "xlsx"),  # OOXML, agile encryption
        ("autostart-encrypt-standardpassword.xls", "ole"),  # BIFF8, RC4 CryptoAPI
    ],
)
def test_excel_default_password_is_opened(name: str, kind: str) -> None:
    data = shared(name)
    assert is_encrypted_office(data)
    opened = decrypt(data)
    assert (opened.password, opened.damaged, true_type(opened.data, name)) == (
        "VelvetSweatshop",
        False,
        kind,
    )
    parent, (member,), reasons = open_encrypted(att(name, data), [])
    assert (parent.encrypted, reasons) == (False, [])
    # A default password is no secret: it is not recorded as a message password.
    assert (member.path, member.name, member.depth, member.password) == (
        f"{name}/(decrypted)",
        name,
        1,
        "",
    )
    assert member.sha256 == hashlib.sha256(opened.data).hexdigest()


@pytest.mark.parametrize("name", ["encrypted.doc", "encrypted.ppt", "encrypted.xlsx"])
def test_unknown_password_marks_the_file_encrypted(name: str) -> None:
    data = shared(name)
    assert is_encrypted_office(data)
    parent, members, reasons = open_encrypted(att(name, data), ["wrong", "1111"])
    assert (parent.encrypted, members, reasons) == (True, [], [])


def test_password_from_the_message_opens_it_and_is_recorded() -> None:
    msg = message("The report is attached.\nPassword: s3cret\n", "report.docx", encrypted("s3cret"))
    by_path = {a.path: a for a in msg.attachments}
    assert by_path["report.docx"].encrypted is False
    member = by_path["report.docx/(decrypted)"]
    assert (member.true_type, member.password, member.data) == ("docx", "s3cret", docx())
    assert msg.unscannable == ()


def test_without_the_password_the_message_says_encrypted() -> None:
    msg = message("The report is attached.\n", "report.docx", encrypted("s3cret"))
    (only,) = msg.attachments
    assert only.encrypted and only.true_type == "ole"
    assert msg.unscannable == ()  # judged (no password fits), so a finding, not damage


def test_encrypted_document_inside_a_zip_is_opened() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("report.docx", encrypted("VelvetSweatshop"))
    msg = message("see attached", "report.zip", buf.getvalue())
    by_path = {a.path: a for a in msg.attachments}
    assert by_path["report.zip/report.docx/(decrypted)"].data == docx()


def test_plain_ole_and_ooxml_are_not_encrypted() -> None:
    ole = io.BytesIO()
    assert not is_encrypted_office(docx())
    assert not is_encrypted_office(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\xff" * 600)
    assert not is_encrypted_office(ole.getvalue())


# Hostile files: each gives a clear outcome quickly, never a raise or a hang.


def _timed(data: bytes, limits: CryptoLimits | None = None) -> tuple[str, bool, float]:
    start = time.process_time()
    opened = decrypt(data, ["a", "b", "c"], limits or CryptoLimits())
    return opened.reason, opened.damaged, time.process_time() - start


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("spin", "expected"),
    [
        # Over our cap, under the spec's 10,000,000: refused before any hashing.
        (b'    <p:encryptedKey spinCount="9999999"', "spin count 9999999 over 500000"),
        # Over the spec's limit (MS-OFFCRYPTO 2.3.4.10): msoffcrypto refuses it.
        (b'    <p:encryptedKey spinCount="4000000000"', "corrupt encrypted Office file"),
        (b'    <p:encryptedKey spinCount="-1--------"', "corrupt encrypted Office file"),
    ],
)
def test_spin_count_abuse_is_refused_fast(spin: bytes, expected: str) -> None:
    data = encrypted("x").replace(SPIN, spin.rjust(len(SPIN)))
    reason, damaged, cpu = _timed(data)
    assert expected in reason and damaged
    assert cpu < 1.0, cpu


@pytest.mark.timeout(30)
def test_hash_budget_stops_the_password_tries() -> None:
    limits = CryptoLimits(max_hash_rounds=250_000)  # two tries of 100,000 rounds
    reason, damaged, cpu = _timed(encrypted("x"), limits)
    assert reason == "password tries stopped after 200000 hash rounds" and not damaged
    assert cpu < 1.0, cpu


def test_huge_file_and_huge_encryption_info_are_refused() -> None:
    data = encrypted("x")
    assert _timed(data, CryptoLimits(max_bytes=1000))[:2] == (
        "encrypted Office file over 0 MiB",
        False,
    )
    reason, damaged, _ = _timed(data, CryptoLimits(max_info_bytes=100))
    assert (reason, damaged) == ("EncryptionInfo over the size limit", True)


@pytest.mark.timeout(30)
def test_corrupt_encryption_info_and_truncation_never_raise() -> None:
    data = encrypted("x")
    with olefile.OleFileIO(data) as ole:
        info = ole.openstream("EncryptionInfo").read()
    garbage = info[:8] + b"\xff\xfe<\x00" + bytes(range(256)) * 2  # invalid UTF-8 XML
    bad = data.replace(info[: 8 + len(garbage)], garbage[: len(info)])
    assert decrypt(bad).damaged
    for cut in (len(data) // 2, 600, 513):
        assert not decrypt(data[:cut]).data
        msg = message("hi", "cut.docx", data[:cut])  # the normalizer never raises either
        assert msg.attachments[0].name == "cut.docx"
    damaged = message("hi", "bad.docx", bad)
    assert any("corrupt encrypted Office file" in note for note in damaged.unscannable)
    assert damaged.attachments[0].encrypted
