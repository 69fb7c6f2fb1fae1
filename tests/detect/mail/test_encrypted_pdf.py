"""mail.encrypted_pdf: PDFs locked with a password that the message gives.

The encrypted PDFs are built here with the Standard security handler, written from ISO
32000-1 7.6.3 and ISO 32000-2 7.6.4 (Algorithms 1-3, 8-10) with cryptography's RC4 and
AES, not with pypdf, which the detector reads them with; poppler's ``pdftotext`` checks
that each one opens with its password and not without it. A few more come from pypdf's
own writer. ``python tests/detect/mail/test_encrypted_pdf.py`` writes the sample
(tests/samples/detect/mail/encrypted_pdf/sample.eml).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import logging
import shutil
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from pypdf import PdfWriter

from floodwall.detect.mail import encrypted_pdf
from floodwall.detect.mail.encrypted_pdf import (
    MAX_BYTES,
    MAX_PARSED,
    EncryptedPdfDetector,
    Lock,
    opens,
    pdf_lock,
)
from floodwall.ingest.mail_source import RawMail
from floodwall.normalize.mime import parse_message
from floodwall.records import Attachment, MailMessage, Origin

SAMPLE = Path(__file__).resolve().parents[2] / "samples/detect/mail/encrypted_pdf/sample.eml"
PAD = bytes.fromhex("28bf4e5e4e758a4164004e56fffa01082e2e00b6d0683e802f0ca9fe6453697a")
FILE_ID = bytes.fromhex("5a1e6d0c9f3b4a7e8c2d1f0e9b8a7c6d")
P = -1028  # every permission but assembling the document (7.6.3.2 Table 22)
TEXT = b"Harmless Floodwall test sample: an encrypted PDF."
CRYPT = "/StmF /StdCF /StrF /StdCF"  # 7.6.5: streams and strings use the crypt filter StdCF
DETECTOR = EncryptedPdfDetector()


def _rc4(key: bytes, data: bytes) -> bytes:
    return Cipher(ARC4(key), mode=None).encryptor().update(data)


def _aes(key: bytes, iv: bytes, data: bytes, *, pad: bool = True) -> bytes:
    if pad:
        padder = padding.PKCS7(128).padder()
        data = padder.update(data) + padder.finalize()
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def _hash_2b(password: bytes, salt: bytes, udata: bytes) -> bytes:
    """ISO 32000-2 Algorithm 2.B, with the U string for owner hashes."""
    k, i, e = hashlib.sha256(password + salt + udata).digest(), 0, b""
    while i < 64 or e[-1] > i - 32:
        e = _aes(k[:16], k[16:32], (password + k + udata) * 64, pad=False)
        k = hashlib.new(("sha256", "sha384", "sha512")[sum(e[:16]) % 3], e).digest()
        i += 1
    return k[:32]


def _padded(password: str) -> bytes:
    return (password.encode("latin-1") + PAD)[:32]


def _lock(user: str, owner: str, revision: int) -> tuple[bytes, str, dict[str, bytes]]:
    """The file key, the handler's version entries and its strings (Algorithms 2-5, 8-10)."""
    if revision == 6:
        key, salts = hashlib.sha256(b"file key").digest(), [bytes([i]) * 8 for i in range(4)]
        u = _hash_2b(user.encode(), salts[0], b"") + salts[0] + salts[1]
        o = _hash_2b(owner.encode(), salts[2], u) + salts[2] + salts[3]
        ue = _aes(_hash_2b(user.encode(), salts[1], b""), bytes(16), key, pad=False)
        oe = _aes(_hash_2b(owner.encode(), salts[3], u), bytes(16), key, pad=False)
        perms = (P & 0xFFFFFFFF).to_bytes(4, "little") + b"\xff" * 4 + b"Tadb" + bytes(4)
        ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
        version = f"/V 5 /R 6 /Length 256 /CF << /StdCF << /CFM /AESV3 /Length 32 >> >> {CRYPT}"
        return key, version, {"O": o, "U": u, "OE": oe, "UE": ue, "Perms": ecb.update(perms)}
    n = 5 if revision == 2 else 16
    owner_key = hashlib.md5(_padded(owner)).digest()
    for _ in range(50 if revision >= 3 else 0):
        owner_key = hashlib.md5(owner_key).digest()
    o = _rc4(owner_key[:n], _padded(user))
    for i in range(1, 20 if revision >= 3 else 1):
        o = _rc4(bytes(b ^ i for b in owner_key[:n]), o)
    key = hashlib.md5(_padded(user) + o + (P & 0xFFFFFFFF).to_bytes(4, "little") + FILE_ID)
    key_bytes = key.digest()
    for _ in range(50 if revision >= 3 else 0):
        key_bytes = hashlib.md5(key_bytes[:n]).digest()
    key_bytes = key_bytes[:n]
    if revision == 2:
        u = _rc4(key_bytes, PAD)
    else:
        u = _rc4(key_bytes, hashlib.md5(PAD + FILE_ID).digest())
        for i in range(1, 20):
            u = _rc4(bytes(b ^ i for b in key_bytes), u)
        u += bytes(16)
    version = {2: "/V 1 /R 2 /Length 40", 3: "/V 2 /R 3 /Length 128"}.get(revision, "")
    version = (
        version or f"/V 4 /R 4 /Length 128 /CF << /StdCF << /CFM /AESV2 /Length 16 >> >> {CRYPT}"
    )
    return key_bytes, version, {"O": o, "U": u}


def _literal(data: bytes) -> bytes:
    """A literal string (7.3.4.2) with the bytes that need it escaped."""
    for raw, escaped in ((b"\\", b"\\\\"), (b"(", b"\\("), (b")", b"\\)"), (b"\r", b"\\r")):
        data = data.replace(raw, escaped)
    return b"(" + data + b")"


def build_pdf(
    user: str | None = None,
    owner: str = "owner-only-secret",
    revision: int = 3,
    *,
    xref_stream: bool = False,
    literal: bool = False,
) -> bytes:
    """A one-page PDF saying TEXT, encrypted with ``user`` (None: not encrypted)."""
    content = b"BT /F1 18 Tf 72 720 Td (" + TEXT + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"",  # the content stream, below
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    trailer = b"/Root 1 0 R /ID [<%s> <%s>]" % (FILE_ID.hex().encode(), FILE_ID.hex().encode())
    if user is not None:
        key, version, entries = _lock(user, owner, revision)
        if revision == 6:
            content = bytes(16) + _aes(key, bytes(16), content)
        else:  # Algorithm 1: the object's key (object 4, generation 0)
            salt = b"sAlT" if revision == 4 else b""
            obj_key = hashlib.md5(key + b"\x04\0\0\0\0" + salt).digest()[: len(key) + 5]
            content = (
                bytes(16) + _aes(obj_key, bytes(16), content) if salt else _rc4(obj_key, content)
            )
        spelled = b"".join(
            b"/%s %s " % (k.encode(), _literal(v) if literal else b"<%s>" % v.hex().encode())
            for k, v in entries.items()
        )
        objects.append(b"<< /Filter /Standard %s %s/P %d >>" % (version.encode(), spelled, P))
        trailer += b" /Encrypt 6 0 R"
    objects[3] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content)
    out, offsets = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), []
    for num, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (num, body)
    start = len(out)
    if xref_stream:  # 7.5.8: the trailer's entries in the stream's dictionary; W [1 4 2]
        rows = b"\0" + bytes(4) + b"\xff\xff"
        rows += b"".join(b"\x01" + o.to_bytes(4, "big") + bytes(2) for o in [*offsets, start])
        num = len(objects) + 1
        out += b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] %s /Length %d >>\nstream\n" % (
            num, num + 1, trailer, len(rows))  # fmt: skip
        out += rows + b"\nendstream\nendobj\n"
    else:
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
        out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
        out += b"trailer\n<< /Size %d %s >>\n" % (len(objects) + 1, trailer)
    return bytes(out + b"startxref\n%d\n%%%%EOF\n" % start)


def pypdf_written(user: str, algorithm: str) -> bytes:
    """A blank page encrypted by pypdf's writer (another writer's layout: no /ID)."""
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    writer.encrypt(user_password=user, owner_password="owner-only-secret", algorithm=algorithm)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def message(text: str, *files: tuple[str, bytes, str]) -> MailMessage:
    atts = tuple(
        Attachment(name, name, 0, len(data), hashlib.sha256(data).hexdigest(), "", kind, data)
        for name, data, kind in files
    )
    return MailMessage(Origin("t", 1), "<m@t>", "0" * 64, (), "a@example.org", "",
                       text=text, attachments=atts)  # fmt: skip


def fired(text: str, data: bytes, kind: str = "pdf") -> list[dict[str, object]]:
    findings = DETECTOR.detect(message(text, ("doc.pdf", data, kind)))
    for f in findings:
        assert (f.id, f.title, f.severity, f.attack) == (
            DETECTOR.id, DETECTOR.title, DETECTOR.severity, DETECTOR.attack)  # fmt: skip
        assert f.evidence["attachment"] == "doc.pdf" and f.evidence["reason"]
    return [f.evidence for f in findings]


PW = "password: 7731"
ENCRYPTED = build_pdf("7731")
STREAM_ONLY = build_pdf().replace(
    b"/Contents 4 0 R", b"/Contents 4 0 R /Note 6 0 R"
) + b"6 0 obj\n<< /Length 60 >>\nstream\ntrailer << /Encrypt 9 0 R /ID [<00> <00>] >> /Encrypt\nendstream\nendobj\n"  # fmt: skip
PUBSEC = ENCRYPTED.replace(b"/Filter /Standard", b"/Filter /Adobe.PubSec")
# The same lock under a name that spells a letter as #xx (7.3.5): still the Encrypt entry.
ESCAPED = ENCRYPTED.replace(b"/Encrypt", b"/Encr#79pt")


@pytest.mark.parametrize(
    ("text", "data", "kind", "password"),
    [
        # Must fire: the text's password opens the PDF.
        (PW, ENCRYPTED, "pdf", "7731"),
        (PW, ESCAPED, "pdf", "7731"),  # /Encr#79pt is /Encrypt
        ("Senha do PDF: 7731", build_pdf("7731", revision=2), "pdf", "7731"),
        ("Segue o boleto. Senha de acesso ao PDF 7731 - protocolo 99", ENCRYPTED, "pdf", "7731"),
        ("[PDF Password]:62734", build_pdf("62734", revision=4), "pdf", "62734"),
        ("Kennwort: 'Xy9#pq'", build_pdf("Xy9#pq", revision=6), "pdf", "Xy9#pq"),
        ("Use a senha: 123", pypdf_written("123", "AES-256"), "pdf", "123"),
        ("Senha de acesso: 1010", pypdf_written("1010", "AES-256-R5"), "pdf", "1010"),
        ("The password is 4455.", pypdf_written("4455", "RC4-40"), "pdf", "4455"),
        ("Senha do PDF 0204\r\nProtocolo", pypdf_written("0204", "AES-128"), "pdf", "0204"),
        ("contraseña: 4455", build_pdf("4455", revision=3, literal=True), "pdf", "4455"),
        ("mot de passe : 4455", build_pdf("4455", revision=6, literal=True), "pdf", "4455"),
        (PW, build_pdf("7731", revision=3, xref_stream=True), "pdf", "7731"),
        (PW, build_pdf("7731", revision=6, xref_stream=True), "pdf", "7731"),
        (PW, ENCRYPTED + b"\n% an update\ntrailer\n<< /Size 7 >>\n", "pdf", "7731"),
        # The owner password opens the file too (7.6.3.4 Algorithm 7).
        ("password: owner-only-secret", ENCRYPTED, "pdf", "owner-only-secret"),
        # A lock that cannot be checked, and a password in the text: the fail-safe side.
        (PW, PUBSEC, "pdf", ""),
        (PW, ENCRYPTED.replace(b"/V 2 /R 3", b"/V 0 /R 3"), "pdf", ""),  # 0: undocumented
        # Must not fire.
        (PW, build_pdf(""), "pdf", None),  # an owner password only: anyone opens it
        (PW, build_pdf("", revision=6), "pdf", None),
        (PW, build_pdf("", revision=2, xref_stream=True), "pdf", None),
        ("The password is your date of birth (DDMMYYYY).", ENCRYPTED, "pdf", None),
        ("password: 1234", ENCRYPTED, "pdf", None),  # a wrong password: honest, or a typo
        ("Statement attached.", PUBSEC, "pdf", None),
        (PW, build_pdf(), "pdf", None),  # not encrypted
        (PW, STREAM_ONLY, "pdf", None),  # /Encrypt only inside a content stream
        (PW, ENCRYPTED[: len(ENCRYPTED) // 2], "pdf", None),  # truncated before the trailer
        (PW, ENCRYPTED, "zip", None),  # not a PDF
        (PW, b"%PDF-1.7\n" + bytes(range(256)) * 4000, "pdf", None),  # garbage
        (PW, ENCRYPTED + b"%" * MAX_BYTES, "pdf", None),  # over the size read
    ],
)
def test_encrypted_pdf(text: str, data: bytes, kind: str, password: str | None) -> None:
    found = fired(text, data, kind)
    if password is None:
        assert found == []
    else:
        assert len(found) == 1
        assert found[0]["opened"] is bool(password)
        assert found[0].get("password", "") == password


M = MAX_BYTES - 200  # pypdf reads each of these whole; larger files it is not given
BOMB = zlib.compress(bytes(80_000_000), 1)
HOSTILE = {
    "trailer keywords": b"%PDF-1.7\n" + b"trailer<<" * (M // 9),
    "deep nesting": b"%PDF-1.7\ntrailer" + b"<<" * (M // 2) + b"\nstartxref\n9\n%%EOF",
    "nested arrays": b"%PDF-1.7\n1 0 obj\n"
    + b"[" * (M // 2)
    + b"\nendobj\ntrailer<</Root 1 0 R>>\nstartxref\n9\n%%EOF",
    "xref stream names": b"%PDF-1.7\n" + b"/XRef" * (M // 5),
    "open strings": b"%PDF-1.7\ntrailer<</Encrypt (" + b"((a)" * (M // 4),
    "endless comment": b"%PDF-1.7\ntrailer<</Encrypt 9 0 R %" + b"1" * M,
    "endless hex string": b"%PDF-1.7\ntrailer<</Encrypt <" + b"a" * M,
    "lock object not found": b"%PDF-1.7\n" + b"9 9 " * (M // 4) + b"trailer<</Encrypt 9 0 R>>",
    "startxref past the end": ENCRYPTED[:-20] + b"startxref\n99999999999\n%%EOF\n",
    # A broken xref makes pypdf rebuild it from every "n g obj" (its slowest path).
    "a chain of references": b"%PDF-1.7\n"
    + b"".join(b"%d 0 obj %d 0 R endobj\n" % (i, i + 1) for i in range(1, M // 30))
    + b"trailer<</Root 1 0 R /Encrypt 1 0 R>>\nstartxref\n99\n%%EOF",
    "many keys in the lock": b"%PDF-1.7\n1 0 obj<< /Filter /Standard /V 2 /R 3 /O <00> /U <00> /P -1 "
    + b"/A 1 " * (M // 5)
    + b">>endobj\ntrailer<</Encrypt 1 0 R>>\nstartxref\n9999\n%%EOF",
    # 80 MB of zeros: pypdf stops inflating at 75 MB (pypdf.filters.ZLIB_MAX_OUTPUT_LENGTH).
    "xref stream bomb": b"%%PDF-1.7\n1 0 obj\n<< /Type /XRef /Size 9 /W [1 4 2] /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream\nendobj\nstartxref\n9\n%%%%EOF\n"
    % (len(BOMB), BOMB),
    "8 MB of garbage": b"%PDF-1.7\n" + bytes(range(256)) * 32_000,
}


@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_ends_fast(name: str, caplog: pytest.LogCaptureFixture) -> None:
    start = time.perf_counter()
    with caplog.at_level(logging.DEBUG):
        found = fired("Statement attached.", HOSTILE[name])
    assert time.perf_counter() - start < 2.0
    assert found == []  # no password in the text: at most an unchecked lock, never a finding
    assert caplog.records == []  # pypdf logs each repair: silenced


@pytest.mark.timeout(10)
def test_many_locked_pdfs_and_passwords_are_bounded() -> None:
    text = " ".join(f"password: wrong{i}" for i in range(60))
    locked = build_pdf("right", revision=6)
    start = time.perf_counter()
    msg = message(text, *[(f"d{i}.pdf", locked, "pdf") for i in range(30)])
    assert DETECTOR.detect(msg) == []
    assert time.perf_counter() - start < 5.0


def test_pdfs_of_a_message_are_read_within_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[int] = []

    def lock(data: bytes) -> tuple[Lock, None]:
        read.append(len(data))
        return Lock.UNREADABLE, None

    monkeypatch.setattr(encrypted_pdf, "pdf_lock", lock)
    big = b"%PDF-1.7\n/Encrypt" + bytes(MAX_BYTES - 17)
    msg = message(
        PW, *[(f"d{i}.pdf", big, "pdf") for i in range(10)], ("huge.pdf", big + b"x", "pdf")
    )
    assert DETECTOR.detect(msg) == []
    assert read == [MAX_BYTES] * (MAX_PARSED // MAX_BYTES)


def test_plain_pdfs_do_not_use_up_the_budget_of_a_locked_one() -> None:
    plain = b"%PDF-1.7\n" + bytes(MAX_BYTES - 9)  # no Encrypt entry: not handed to pypdf
    msg = message(
        PW, *[(f"d{i}.pdf", plain, "pdf") for i in range(10)], ("doc.pdf", ENCRYPTED, "pdf")
    )
    assert [f.evidence["password"] for f in DETECTOR.detect(msg)] == ["7731"]


def test_pdf_lock_states() -> None:
    assert pdf_lock(build_pdf()) == (Lock.NONE, None)
    assert pdf_lock(build_pdf("", revision=4)) == (Lock.OPEN, None)
    assert pdf_lock(PUBSEC) == (Lock.UNCHECKABLE, None)
    # cut before its trailer, no Encrypt entry is left to read: not encrypted, as read
    assert pdf_lock(ENCRYPTED[: len(ENCRYPTED) // 2]) == (Lock.NONE, None)
    assert pdf_lock(b"/Encrypt" + ENCRYPTED[: len(ENCRYPTED) // 2]) == (Lock.UNREADABLE, None)
    assert pdf_lock(ENCRYPTED + bytes(MAX_BYTES)) == (Lock.UNREADABLE, None)
    # pypdf repairs the file with the trailer written inside the stream, and gives up.
    assert pdf_lock(STREAM_ONLY)[0] in (Lock.NONE, Lock.UNREADABLE)
    lock, reader = pdf_lock(ENCRYPTED)
    assert lock is Lock.USER and reader is not None
    assert not opens(reader, "") and not opens(reader, "7732")
    assert opens(reader, "7731") and opens(reader, "owner-only-secret")


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils is not installed")
@pytest.mark.parametrize("revision", [2, 3, 4, 6])
def test_built_pdfs_open_with_their_password_in_poppler(tmp_path: Path, revision: int) -> None:
    """The builder is checked against an independent reader, so the table above tests
    the detector against real encryption, not against itself."""
    path = tmp_path / "locked.pdf"
    path.write_bytes(build_pdf("7731", revision=revision, literal=revision == 6))

    def text(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = ["pdftotext", *args, str(path), "-"]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)

    assert text("-upw", "7731").stdout.strip() == TEXT.decode()
    assert text().returncode != 0 and "password" in text().stderr.lower()
    path.write_bytes(build_pdf("", revision=revision))
    assert text().stdout.strip() == TEXT.decode()


def sample() -> bytes:
    """The sample message: a Brazilian bank-notice lure, as in the phishing corpus."""
    spec = importlib.util.spec_from_file_location(
        "sample_mail", SAMPLE.parents[1] / "sample_mail.py"
    )
    assert spec is not None and spec.loader is not None
    sample_mail = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sample_mail)
    body = "Segue em anexo o comprovante. Senha do PDF: 7731"
    files = [("comprovante.pdf", build_pdf("7731", revision=3), "application/pdf")]
    return bytes(sample_mail.message("Comprovante", files, body, boundary="=floodwall-sample="))


def test_sample_is_current_and_fires() -> None:
    assert SAMPLE.read_bytes() == sample(), "regenerate: python " + __file__
    msg = parse_message(RawMail(Origin(str(SAMPLE), 1), SAMPLE.read_bytes()))
    assert [f.evidence["password"] for f in DETECTOR.detect(msg)] == ["7731"]


if __name__ == "__main__":
    SAMPLE.parent.mkdir(parents=True, exist_ok=True)
    SAMPLE.write_bytes(sample())
    sys.stdout.write(f"wrote {SAMPLE}\n")
