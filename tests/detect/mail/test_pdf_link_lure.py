"""PdfLinkLureDetector: PDF attachments that link to shorteners, free hosting or IPs."""

from __future__ import annotations

import time
import zlib

import attachment_cases as cases
import mail_util as util
import pytest

from floodwall.detect.mail import reference
from floodwall.detect.mail.free_hosting_link import FreeHostingLinkDetector
from floodwall.detect.mail.pdf_link_lure import MAX_INFLATED, PdfLinkLureDetector, pdf_uris

DETECTOR = PdfLinkLureDetector(
    util.psl(),
    reference.load_shorteners(),
    FreeHostingLinkDetector(util.psl(), reference.load_free_hosting()),
)


def pdf(*objects: bytes) -> bytes:
    """A one-page PDF with ``objects`` appended (enough structure for the scan)."""
    body = b"%PDF-1.7\n1 0 obj <</Type /Page>> endobj\n" + b"\n".join(objects)
    return body + b"\n%%EOF\n"


def link(uri: bytes) -> bytes:
    return b"2 0 obj <</Type /Annot /Subtype /Link /A <</S /URI /URI (" + uri + b")>> >> endobj"


def compressed(obj: bytes) -> bytes:
    """``obj`` inside a Flate object stream, as most producers write links now."""
    data = zlib.compress(obj)
    return b"3 0 obj <</Type /ObjStm /Filter /FlateDecode>> stream\n" + data + b"\nendstream"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (pdf(link(b"https://bit.ly/3YwugFf")), "shortener"),
        (pdf(link(b"https://x1.z13.web.core.windows.net/")), "storage"),
        (pdf(link(b"https://script.google.com/macros/s/AKfy/exec")), "serverless"),
        (pdf(link(b"http://203.0.113.9/login")), "ip"),
        (pdf(compressed(link(b"https://is.gd/IrKfCU"))), "shortener"),
        (pdf(b"/URI <68747470733a2f2f6269742e6c792f78>"), "shortener"),  # hex string
        (pdf(link(b"https://bit.ly/a\\)b")), "shortener"),  # escaped parenthesis
        # must not fire
        (pdf(link(b"https://www.example.com/terms")), None),
        (pdf(link(b"mailto:billing@bit.ly")), None),
        (pdf(), None),
        (pdf(b"3 0 obj stream\nnot flate at all\nendstream"), None),  # broken stream
        (pdf(link(b"https://bit.ly/x"))[:30], None),  # truncated before the link
    ],
)
def test_pdf_link_lure(data: bytes, expected: str | None) -> None:
    findings = DETECTOR.detect(cases.message(cases.att("Statement.pdf", "pdf", data)))
    assert [f.evidence["kinds"] for f in findings] == ([[expected]] if expected else [])
    assert util.fired(DETECTOR, cases.message(cases.att("s.pdf", "pdf", data))) is bool(expected)


def test_only_pdfs_are_read() -> None:
    data = link(b"https://bit.ly/x")
    assert cases.fired(DETECTOR, cases.att("note.txt", "text", data)) == []
    assert cases.fired(DETECTOR, cases.att("x.bin", "", b"%PDF-" + data)) == ["x.bin"]


def test_flate_bomb_is_bounded() -> None:
    bomb = zlib.compress(b"\0" * (64 * 1024 * 1024), 9)  # 64 MiB of zeros in ~64 KiB
    data = pdf(*[b"4 0 obj stream\n" + bomb + b"\nendstream"] * 3)
    start = time.process_time()
    assert pdf_uris(data) == []
    assert time.process_time() - start < 5  # inflating stops at MAX_INFLATED
    assert MAX_INFLATED <= 16 * 1024 * 1024


def test_hostile_bytes_are_safe() -> None:
    junk = b"%PDF-" + bytes(range(256)) * 4000 + b"/URI (" + b"\\" * 5000
    assert pdf_uris(junk) == []
    assert pdf_uris(b"%PDF-/URI <zz>/URI (\xff\xfe)") == ["\xff\xfe"]
