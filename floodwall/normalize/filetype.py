"""What a file really is, from its first bytes, never from the name an attacker chose.

``true_type`` reads magic numbers (and, for zip-based formats, the central directory's
names); ``extensions`` reads the name, bidi tricks included, so detectors can compare
the two ("invoice.pdf.exe" that is a PE, "photo\u202egnp.exe" that shows as .png).
"""

from __future__ import annotations

import io
import struct
import uuid
import zipfile

__all__ = ["DANGEROUS_EXTENSIONS", "extensions", "true_type"]

DANGEROUS_EXTENSIONS = frozenset(
    {
        "exe", "dll", "scr", "js", "jse", "vbs", "vbe", "wsf", "wsh", "hta", "lnk", "iso",
        "img", "vhd", "vhdx", "one", "chm", "msi", "cpl", "jar", "ps1", "bat", "cmd", "com",
        "pif", "reg", "url", "library-ms", "appx", "msix", "xll", "sct",
    }
)  # fmt: skip

_HEAD = 4096  # most magic sits in the first page; ISO/UDF descriptors are read further on
# [MS-SHLLINK] 2.1: HeaderSize 0x4C, then LinkCLSID 00021401-0000-0000-C000-000000000046.
_LNK = b"\x4c\x00\x00\x00" + uuid.UUID("00021401-0000-0000-c000-000000000046").bytes_le
# [MS-ONESTORE] 2.3.1: the .one file type GUID, as stored on disk.
_ONE = bytes.fromhex("e4525c7b8cd8a74daeb15378d02996d3")
_OLE = bytes.fromhex("d0cf11e0a1b11ae1")
# Windows Installer databases carry these root-storage CLSIDs (package, transform, patch).
_MSI_CLSIDS = frozenset(
    uuid.UUID(f"000c{n}-0000-0000-c000-000000000046").bytes_le for n in ("1084", "1082", "1086")
)
_SIMPLE: tuple[tuple[bytes, str], ...] = (
    (b"\x7fELF", "elf"),
    (b"%PDF-", "pdf"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "rar"),
    (b"\x1f\x8b\x08", "gzip"),  # RFC 1952: ID1 ID2 and CM 8 (deflate), the only method
    (b"\xfd7zXZ\x00", "xz"),
    (b"{\\rt", "rtf"),  # Word opens "{\rt" without the "f"; droppers rely on it
    (b"ITSF", "chm"),
    (b"MSCF", "cab"),
    (b"vhdxfile", "vhdx"),
    (b"conectix", "vhd"),  # a dynamic VHD starts with a copy of its footer
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (_LNK, "lnk"),
    (_ONE, "one"),
)
_MACHO = (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe")
_HTML_STARTS = ("<!doctype html", "<html", "<script", "<head", "<body", "<svg")
_OOXML_MAIN = (
    ("word/document.xml", "docx"),
    ("xl/workbook.xml", "xlsx"),
    ("xl/workbook.bin", "xlsx"),
    ("ppt/presentation.xml", "pptx"),
)
_BIDI = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c")
_REVERSING = frozenset("\u202e\u202b\u2067")  # RLO, RLE, RLI start a right-to-left run
_INVISIBLE = frozenset("\u200b\u200c\u200d\ufeff")


def true_type(data: bytes, name: str = "") -> str:
    """The file's type from its content; ``name`` is only a tie-breaker for text.

    Returns one of the short names in this module ("pe", "dll", "zip", "docx", "ole",
    "msi", "iso", "html", "hta", "text", ...), "empty", or "unknown".
    """
    del name  # the content speaks first; callers compare it with ``extensions(name)``
    if not data:
        return "empty"
    head = data[:_HEAD]
    if head.startswith(b"MZ"):
        return _pe(data)
    if head.startswith(b"PK") and head[2:4] in (b"\x03\x04", b"\x05\x06", b"\x07\x08"):
        return _zip_kind(data)
    if head.startswith(_OLE):
        return _ole_kind(data)
    for magic, kind in _SIMPLE:
        if head.startswith(magic):
            return kind
    if head.startswith(b"\xca\xfe\xba\xbe"):
        # Mach-O fat headers share CAFEBABE with Java classes; a class file's major
        # version (>= 45) sits where the fat header keeps its (small) architecture count.
        return "macho" if struct.unpack(">I", head[4:8])[0] < 45 else "class"
    if head.startswith(b"BZh") and head[3:4].isdigit() and head[3:4] != b"0":
        return "bzip2"
    if head[:4] in _MACHO:
        return "macho"
    if head[257:262] == b"ustar":
        return "tar"
    image = _disc_image(data)
    if image:
        return image
    if b"%PDF-" in head[:1024]:
        return "pdf"  # readers accept a PDF header anywhere in the first kilobyte
    return _text_kind(head)


def _pe(data: bytes) -> str:
    """PE/COFF: e_lfanew at 0x3C points at "PE\\0\\0"; Characteristics 0x2000 means DLL.

    Any MZ file counts as "pe": a DOS stub, a cut or a damaged header is still a program
    to the detectors, and an attacker gains nothing by breaking the header.
    """
    if len(data) < 0x40:
        return "pe"
    offset = struct.unpack_from("<I", data, 0x3C)[0]
    if data[offset : offset + 4] != b"PE\x00\x00" or len(data) < offset + 24:
        return "pe"
    characteristics = struct.unpack_from("<H", data, offset + 22)[0]
    return "dll" if characteristics & 0x2000 else "pe"


def _zip_kind(data: bytes) -> str:
    """OOXML, JAR or MSIX are zips told apart by the names in the central directory."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except Exception:  # a truncated zip is still a zip
        return "zip"
    if "[Content_Types].xml" in names:
        if "AppxManifest.xml" in names or "AppxMetadata/AppxBundleManifest.xml" in names:
            return "msix"
        for part, kind in _OOXML_MAIN:
            if part in names:
                return kind
        return "ooxml"
    if "META-INF/MANIFEST.MF" in names and any(n.endswith(".class") for n in names):
        return "jar"
    return "zip"


def _ole_kind(data: bytes) -> str:
    """OLE2 (MS-CFB): the root directory entry's CLSID tells an MSI from other OLE files."""
    if len(data) < 0x40:
        return "ole"
    shift = struct.unpack_from("<H", data, 0x1E)[0]
    first_dir = struct.unpack_from("<I", data, 0x30)[0]
    if shift not in (9, 12) or first_dir >= 0xFFFFFFFA:
        return "ole"
    root = (first_dir + 1) << shift  # sector n starts after the 512-byte-or-sector header
    clsid = data[root + 0x50 : root + 0x60]
    return "msi" if clsid in _MSI_CLSIDS else "ole"


def _disc_image(data: bytes) -> str:
    """ECMA-119 8.1: volume descriptors from sector 16; UDF (ECMA-167) adds NSR0x."""
    ids = {data[at : at + 5] for at in (0x8001, 0x8801, 0x9001)}
    if b"CD001" in ids:
        return "iso"
    if ids & {b"BEA01", b"NSR02", b"NSR03"}:
        return "udf"
    if len(data) >= 512 and data[-512:-504] == b"conectix":
        return "vhd"  # a fixed VHD keeps its footer only at the end
    if len(data) >= 512 and data[510:512] == b"\x55\xaa" and data[0] in (0xEB, 0xE9):
        return "img"  # a FAT/NTFS boot sector: jump instruction and 55AA signature
    return ""


def _text_kind(head: bytes) -> str:
    text = _decode(head)
    if text is None:
        return "unknown"
    lowered = text.lstrip("\ufeff \t\r\n").lower()
    if "<hta:application" in lowered:
        return "hta"
    start = lowered[:1024]
    if start.startswith(_HTML_STARTS):
        return "html"
    if start.startswith("<?xml") and "<svg" in start:
        return "html"  # an SVG image runs script in the browser like a page does
    return "text"


def _decode(head: bytes) -> str | None:
    """The text of ``head`` if it is mostly printable UTF-8 (or BOM-marked UTF-16)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        codec = "utf-16"
        head = head[: len(head) // 2 * 2]
    else:
        codec = "utf-8"
    try:
        text = head.decode(codec)
    except UnicodeDecodeError as err:
        if codec != "utf-8" or err.start < len(head) - 3:
            return None
        text = head[: err.start].decode(codec)  # a character cut at the end of the window
    if not text:
        return None
    printable = sum(1 for c in text if c.isprintable() or c in "\t\r\n\f")
    return text if printable >= 0.95 * len(text) else None


def extensions(name: str) -> tuple[str, ...]:
    """Every dotted suffix of ``name``, lowered, without the dots: "a.pdf.exe" → (pdf, exe).

    Windows drops trailing dots and spaces, so "evil.exe. " ends in exe. When the name
    holds bidi controls (RLO U+202E and kin), the suffixes as displayed are added after
    the real ones: "photo\u202egnp.exe" gives ("exe", "png").
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if c not in _INVISIBLE)
    found = list(_suffixes("".join(c for c in base if c not in _BIDI)))
    if any(c in _BIDI for c in base):
        for suffix in _suffixes(_displayed(base)):
            if suffix not in found:
                found.append(suffix)
    return tuple(found)


def _suffixes(base: str) -> list[str]:
    parts = base.rstrip(". ").lower().split(".")
    return [p.strip() for p in parts[1:] if p.strip()]


def _displayed(base: str) -> str:
    """Roughly what a viewer shows: each right-to-left run reversed, controls dropped."""
    out: list[str] = []
    run: list[str] | None = None
    for c in base:
        if c in _REVERSING:
            if run is not None:
                out.extend(reversed(run))
            run = []
        elif c in ("\u202c", "\u2069"):  # PDF / PDI close the run
            if run is not None:
                out.extend(reversed(run))
            run = None
        elif c in _BIDI:
            continue
        elif run is not None:
            run.append(c)
        else:
            out.append(c)
    if run is not None:
        out.extend(reversed(run))
    return "".join(out)
