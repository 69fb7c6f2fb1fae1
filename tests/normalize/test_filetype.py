"""Types told from real magic bytes built here, and names read the way Windows reads them."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import struct
import tarfile
import uuid
import zipfile
from pathlib import Path

import py7zr
import pycdlib
import pytest

from floodwall.normalize.filetype import DANGEROUS_EXTENSIONS, extensions, true_type


def pe(characteristics: int = 0x0102) -> bytes:
    """DOS header, e_lfanew = 0x80, then "PE\\0\\0" and a COFF header."""
    dos = b"MZ" + bytes(0x3A) + struct.pack("<I", 0x80) + bytes(0x80 - 0x40)
    coff = struct.pack("<HHIIIHH", 0x8664, 1, 0, 0, 0, 0xF0, characteristics)
    return dos + b"PE\x00\x00" + coff + bytes(512)


def zipped(*names: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name in names:
            z.writestr(name, b"<x/>")
    return buf.getvalue()


def ole(clsid: bytes = bytes(16)) -> bytes:
    """An MS-CFB header (512-byte sectors, directory at sector 0) and its root entry."""
    header = bytearray(512)
    header[:8] = bytes.fromhex("d0cf11e0a1b11ae1")
    struct.pack_into("<HH", header, 0x1A, 3, 0xFFFE)
    struct.pack_into("<H", header, 0x1E, 9)
    struct.pack_into("<I", header, 0x30, 0)
    root = bytearray(128)
    name = "Root Entry".encode("utf-16-le") + b"\x00\x00"
    root[: len(name)] = name
    root[0x50:0x60] = clsid
    return bytes(header) + bytes(root) + bytes(384)


def seven_zip(tmp: Path) -> bytes:
    with py7zr.SevenZipFile(tmp / "a.7z", "w") as z:
        z.writestr(b"x", "x.txt")
    return (tmp / "a.7z").read_bytes()


def tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        info = tarfile.TarInfo("a.txt")
        info.size = 1
        t.addfile(info, io.BytesIO(b"a"))
    return buf.getvalue()


def iso(tmp: Path, udf: bool = False) -> bytes:
    disc = pycdlib.PyCdlib()
    disc.new(joliet=3, udf="2.60" if udf else None)
    disc.add_fp(
        io.BytesIO(b"MZ"),
        2,
        "/A.EXE;1",
        joliet_path="/a.exe",
        udf_path="/a.exe" if udf else None,
    )
    disc.write(str(tmp / "a.iso"))
    disc.close()
    return (tmp / "a.iso").read_bytes()


LNK = b"\x4c\x00\x00\x00" + uuid.UUID("00021401-0000-0000-c000-000000000046").bytes_le + bytes(56)
MSI = uuid.UUID("000c1084-0000-0000-c000-000000000046").bytes_le

CASES: list[tuple[str, object]] = [
    ("pe", pe()),
    ("dll", pe(0x2102)),
    ("pe", b"MZ" + bytes(100)),  # no PE header: still a program
    ("pe", b"MZ data"),
    ("elf", b"\x7fELF\x02\x01\x01" + bytes(57)),
    ("macho", b"\xcf\xfa\xed\xfe" + bytes(28)),
    ("macho", b"\xca\xfe\xba\xbe\x00\x00\x00\x02" + bytes(40)),
    ("class", b"\xca\xfe\xba\xbe\x00\x00\x00\x34" + bytes(40)),
    ("zip", zipped("a.txt")),
    ("docx", zipped("[Content_Types].xml", "word/document.xml")),
    ("xlsx", zipped("[Content_Types].xml", "xl/workbook.xml")),
    ("pptx", zipped("[Content_Types].xml", "ppt/presentation.xml")),
    ("ooxml", zipped("[Content_Types].xml")),
    ("msix", zipped("[Content_Types].xml", "AppxManifest.xml")),
    ("jar", zipped("META-INF/MANIFEST.MF", "a/Main.class")),
    ("zip", zipped("a.txt")[:40]),  # truncated: no central directory, still a zip
    ("ole", ole()),
    ("msi", ole(MSI)),
    ("ole", bytes.fromhex("d0cf11e0a1b11ae1")),
    ("rtf", b"{\\rtf1\\ansi hello}"),
    ("rtf", b"{\\rt0 dropper}"),
    ("pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"),
    ("pdf", b"junk before\n%PDF-1.4\n\x00\x01\x02"),
    ("7z", "seven_zip"),
    ("rar", b"Rar!\x1a\x07\x01\x00" + bytes(20)),
    ("rar", b"Rar!\x1a\x07\x00" + bytes(20)),
    ("gzip", gzip.compress(b"x")),
    ("bzip2", bz2.compress(b"x")),
    ("xz", lzma.compress(b"x")),
    ("tar", tar()),
    ("iso", "iso"),
    ("vhdx", b"vhdxfile" + bytes(100)),
    ("vhd", b"conectix" + bytes(504)),
    ("vhd", bytes(4096) + b"conectix" + bytes(504)),
    ("img", b"\xeb\x3c\x90MSDOS5.0" + bytes(499) + b"\x55\xaa"),
    ("lnk", LNK),
    ("one", bytes.fromhex("e4525c7b8cd8a74daeb15378d02996d3") + bytes(16)),
    ("chm", b"ITSF\x03\x00\x00\x00" + bytes(50)),
    ("cab", b"MSCF\x00\x00\x00\x00" + bytes(50)),
    ("png", b"\x89PNG\r\n\x1a\n" + bytes(20)),
    ("jpeg", b"\xff\xd8\xff\xe0" + bytes(20)),
    ("gif", b"GIF89a" + bytes(20)),
    ("html", b"<!DOCTYPE html><html><body>hi</body></html>"),
    ("html", b"\xef\xbb\xbf  \r\n<HTML><script>x()</script>"),
    ("html", b"<script>location='https://evil.example'</script>"),
    ("html", b"<svg xmlns='http://www.w3.org/2000/svg'><script>x()</script></svg>"),
    ("html", b"<?xml version='1.0'?>\n<svg xmlns='http://www.w3.org/2000/svg'/>"),
    ("hta", b"<html><head><HTA:APPLICATION ID='x'/></head></html>"),
    ("text", b"WScript.CreateObject('WScript.Shell').Run('calc')\n"),
    ("text", "Grüße, café — ok\n".encode()),
    ("text", "\ufeffparam($x)\r\nWrite-Host $x".encode("utf-16")),
    ("text", b"BZh is how this line starts"),
    ("unknown", bytes(range(256)) * 4),
    ("unknown", b"\xff\xfe\x00\xd8"),
    ("empty", b""),
]


@pytest.mark.parametrize(
    ("expected", "sample"), CASES, ids=[f"{i}-{c[0]}" for i, c in enumerate(CASES)]
)
def test_true_type(expected: str, sample: object, tmp_path: Path) -> None:
    data = (
        {"seven_zip": seven_zip, "iso": iso}[sample](tmp_path)
        if isinstance(sample, str)
        else sample
    )
    assert isinstance(data, bytes)
    assert true_type(data, "innocent.txt") == expected


def test_udf_bridge_is_still_iso(tmp_path: Path) -> None:
    assert true_type(iso(tmp_path, udf=True), "a.img") == "iso"


def test_the_name_does_not_decide() -> None:
    assert true_type(pe(), "invoice.pdf") == "pe"
    assert true_type(b"%PDF-1.7\n", "setup.exe") == "pdf"


def test_type_is_fast_on_large_input() -> None:
    import time

    big = b"A" * (64 << 20)
    start = time.perf_counter()
    assert true_type(big, "x") == "text"
    assert time.perf_counter() - start < 2  # reads the head only; a full scan takes longer


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("invoice.PDF.exe", ("pdf", "exe")),
        ("report.docx", ("docx",)),
        ("noext", ()),
        ("archive.tar.gz", ("tar", "gz")),
        ("evil.exe. . ", ("exe",)),
        ("C:\\Users\\x\\a.js", ("js",)),
        ("dir/sub.d/file", ()),
        ("photo\u202egnp.exe", ("exe", "png")),
        ("invoice\u202efdp.scr", ("scr", "pdf")),
        ("x\u202ecod.\u202cexe", ("exe", "docexe")),
        ("a\u200b.lnk", ("lnk",)),
        ("Q3.library-ms", ("library-ms",)),
    ],
)
def test_extensions(name: str, expected: tuple[str, ...]) -> None:
    assert extensions(name) == expected


def test_dangerous_extensions() -> None:
    assert {"exe", "lnk", "iso", "one", "library-ms", "sct"} <= DANGEROUS_EXTENSIONS
    assert "pdf" not in DANGEROUS_EXTENSIONS and "docx" not in DANGEROUS_EXTENSIONS
    assert set(extensions("photo\u202egnp.exe")) & DANGEROUS_EXTENSIONS == {"exe"}
