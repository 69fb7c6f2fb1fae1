"""Build the harmless samples for the office and document detectors (run to regenerate).

Built documents only point at reserved names (RFC 2606) and carry no code that runs.
Real macro, DDE and RTF files are copied from oletools' test data (BSD-2-Clause,
Philippe Lagadec, https://github.com/decalage2/oletools/tree/master/tests/test-data),
read from ``../shared/data/mail/oletools_test_data``; they start calc.exe at most.
"""

from __future__ import annotations

import io
import struct
import sys
import uuid
import zipfile
from pathlib import Path

from sample_mail import message

HERE = Path(__file__).parent
OLETOOLS = HERE.parents[3].parent / "shared" / "data" / "mail" / "oletools_test_data"
ONE_HEADER = bytes.fromhex("e4525c7b8cd8a74daeb15378d02996d3") + b"\0" * 64
FILE_DATA = uuid.UUID("bde316e7-2665-4511-a4c4-8d4d0b7a9eac").bytes_le
PE = b"MZ" + b"\0" * 58 + b"\x40\0\0\0" + b"PE\0\0" + b"\x4c\x01" + b"\0" * 200
TEMPLATE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/attachedTemplate"
HYPERLINK = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink"


def docx(rels: str = "", extra: str = "") -> bytes:
    """A minimal Word document; ``rels`` goes in word/_rels/settings.xml.rels."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        z.writestr("word/document.xml", "<w:document><w:body>Hello</w:body></w:document>")
        if rels:
            z.writestr("word/_rels/settings.xml.rels", rels)
    return buf.getvalue()


def rels(kind: str, target: str, mode: str = "External", extra: str = "") -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{extra}<Relationships xmlns="http://schemas.'
        f'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="{kind}" '
        f'Target="{target}" TargetMode="{mode}"/></Relationships>'
    )


def pdf(catalog: bytes) -> bytes:
    """A one-page PDF whose catalog dictionary carries ``catalog``."""
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R" + catalog + b">>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
        b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )


def onenote(*files: bytes) -> bytes:
    """A OneNote header followed by one FileDataStoreObject per file."""
    out = ONE_HEADER
    for data in files:
        out += FILE_DATA + struct.pack("<QIQ", len(data), 0, 0) + data + b"\0" * 16
    return out


def rtf_package(filename: str, payload: bytes) -> bytes:
    """An RTF with an OLE Package object that would drop ``filename``."""
    name = filename.encode() + b"\0"
    native = b"\x02\x00" + name + b"C:\\" + name + struct.pack("<II", 0, 0)
    native += b"C:\\tmp\\" + name + struct.pack("<I", len(payload)) + payload
    cls = b"Package\0"
    ole1 = struct.pack("<II", 0x501, 2) + struct.pack("<I", len(cls)) + cls
    ole1 += struct.pack("<II", 0, 0) + struct.pack("<I", len(native)) + native
    return (
        b"{\\rtf1\\ansi{\\object\\objemb{\\*\\objclass Package}{\\*\\objdata "
        + ole1.hex().encode()
        + b"}}\\par Hello}"
    )


def neutered_xlm(data: bytes) -> bytes:
    """excel4_sample_macro.xls with its Auto_Open name renamed Print_Area: XLM, no trigger."""
    at = data.index(b"\x18\x00\x17\x00\x20\x00\x00\x01")  # NAME, builtin, one character
    return data[: at + 19] + b"\x06" + data[at + 20 :]


def oletools(name: str) -> bytes:
    return (OLETOOLS / name).read_bytes()


def samples() -> dict[str, tuple[str, list[tuple[str, bytes, str]]]]:
    octet = "application/octet-stream"
    xls = oletools("excel4-macros/excel4_sample_macro.xls")
    return {
        "macro_autoexec": ("Invoice macro", [("invoice.xls", xls, "application/vnd.ms-excel")]),
        "macro_suspicious": ("Sheet", [("sheet.xls", neutered_xlm(xls), octet)]),
        "office_dde": ("Order DDE", [("order.docx", oletools("msodde/dde-test.docx"), octet)]),
        "remote_template": (
            "Contract",
            [("contract.docx", docx(rels(TEMPLATE, "https://template.example.net/t.dotm")), octet)],
        ),
        "rtf_object": ("Statement", [("statement.rtf", rtf_package("a.txt", b"hi"), octet)]),
        "pdf_active": (
            "Receipt",
            [("receipt.pdf", pdf(b"/OpenAction<</S/JavaScript/JS(app.alert(1))>>"), octet)],
        ),
        "onenote_embedded": ("Notes", [("notes.one", onenote(PE), octet)]),
    }


if __name__ == "__main__":
    if not OLETOOLS.is_dir():
        sys.exit(f"oletools test data not found at {OLETOOLS}")
    for folder, (subject, files) in samples().items():
        (HERE / folder).mkdir(exist_ok=True)
        (HERE / folder / "sample.eml").write_bytes(
            message(subject, files, "Please see the attached document.")
        )
