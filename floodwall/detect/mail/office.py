"""The one place oletools is called: office files read from bytes, quirks kept in here.

oletools prints to stdout and logs on hostile input, and raises anything at all; every
call runs inside ``_quiet`` and an exception becomes ``UNPARSED`` (a report with
``parsed=False`` or ``None``), so detectors stay small and never crash on a bad file.
Nothing here touches the disk: olevba, olefile and zipfile all accept bytes.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

from floodwall.records import Attachment, MailMessage

# The sniffed types (floodwall.normalize.filetype) that can carry macros and fields.
OFFICE_TYPES = frozenset({"ole", "ooxml", "docx", "xlsx", "pptx", "rtf"})
_OLE = bytes.fromhex("d0cf11e0a1b11ae1")
_RTF = b"{\\rt"
# olevba reports these as "Suspicious" too, but they say "obfuscated", not "does harm".
_NOT_KEYWORDS = frozenset(
    {"hex strings", "base64 strings", "dridex strings", "vba strings", "xlm macro"}
)
_DDE = re.compile(r"^\s*\"?\s*DDE(AUTO)?\b", re.IGNORECASE)
_EQUATION_CLSID = "0002CE02-0000-0000-C000-000000000046"


@dataclass(frozen=True, slots=True)
class VbaReport:
    """What olevba saw: macros present, their auto-exec triggers and suspicious keywords."""

    parsed: bool = True
    has_vba: bool = False
    has_xlm: bool = False
    autoexec: tuple[str, ...] = ()
    suspicious: tuple[str, ...] = ()


UNPARSED = VbaReport(parsed=False)


@dataclass(frozen=True, slots=True)
class RtfObject:
    """One ``\\objdata`` in an RTF file, as rtfobj decoded it."""

    is_ole: bool
    class_name: str
    clsid: str
    is_package: bool
    filename: str
    size: int
    equation: bool  # Equation Editor (CVE-2017-11882/-0802 class), by class name or CLSID


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """oletools (and plugin_biff inside olevba) print; keep that out of our output."""
    sink = io.StringIO()
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)  # msoffcrypto and friends log through the root
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            yield
    finally:
        logging.disable(previous)


@lru_cache(maxsize=1)
def _oletools() -> Any:
    """oletools, loaded at the first Office file: with pyparsing under it, its import costs
    ~0.3 CPU-s, paid by every ``mail scan`` run even when no message holds Office files."""
    with warnings.catch_warnings():  # olevba calls pyparsing's deprecated camelCase API
        warnings.simplefilter("ignore", DeprecationWarning)
        import olefile
        from oletools import msodde, olevba, ooxml, rtfobj, xls_parser
    return SimpleNamespace(
        olefile=olefile, msodde=msodde, olevba=olevba, ooxml=ooxml, rtfobj=rtfobj, xls=xls_parser
    )


@lru_cache(maxsize=8)  # the autoexec and suspicious detectors read the same file
def vba_findings(data: bytes, name: str) -> VbaReport:
    """VBA and Excel 4 (XLM) macros in an OLE or OOXML file; ``UNPARSED`` if oletools fails.

    Only pass OLE or zip files: olevba reads any other bytes as VBA source text.
    """
    if not data.startswith((_OLE, b"PK")):
        return VbaReport()
    try:
        with _quiet():
            parser = _oletools().olevba.VBA_Parser(name or "attachment", data=data, relaxed=True)
            try:
                has_vba = bool(parser.detect_vba_macros())
                has_xlm = bool(parser.detect_xlm_macros())
                found = parser.analyze_macros() if has_vba or has_xlm else []
            finally:
                parser.close()
    except Exception:  # hostile bytes make oletools raise anything
        return UNPARSED
    autoexec = sorted({str(k) for kind, k, _ in found if kind == "AutoExec"})
    suspicious = sorted(
        {str(k) for kind, k, _ in found if kind == "Suspicious" and k.lower() not in _NOT_KEYWORDS}
    )
    return VbaReport(True, has_vba, has_xlm, tuple(autoexec), tuple(suspicious))


def macro_reports(msg: MailMessage) -> Iterator[tuple[Attachment, VbaReport]]:
    """Each Office attachment oletools could read, with its macro report."""
    for att in msg.attachments:
        if att.true_type in OFFICE_TYPES:
            report = vba_findings(att.data, att.name)
            if report.parsed:
                yield att, report


def dde_links(data: bytes) -> list[str] | None:
    """DDE/DDEAUTO field codes in doc, xls, docx, xlsx or rtf; ``None`` if unparsed."""
    try:
        with _quiet():
            text = _dde_text(data)
    except Exception:  # see vba_findings
        return None
    return [line.strip() for line in text.splitlines() if line.strip()]


def _dde_text(data: bytes) -> str:
    lib = _oletools()
    msodde, ooxml = lib.msodde, lib.ooxml
    if data.startswith(_OLE):
        if lib.xls.is_xls(data):
            return str(msodde.process_xls(data))
        with lib.olefile.OleFileIO(data, path_encoding=None) as ole:
            if ole.exists("PowerPoint Document"):
                return ""  # PowerPoint has no DDE fields
            text = str(msodde.process_doc(ole))
    elif data.startswith(_RTF):
        text = str(msodde.process_rtf(io.BytesIO(data[len(_RTF) :])))
    elif data.startswith(b"PK"):
        doctype = ooxml.get_type(io.BytesIO(data))
        if doctype == ooxml.DOCTYPE_EXCEL:
            return str(msodde.process_xlsx(io.BytesIO(data)))
        text = str(msodde.process_docx(io.BytesIO(data)))
    else:
        return ""
    # Word files hold every field (PAGE, HYPERLINK ...); keep the DDE ones.
    return "\n".join(line for line in text.splitlines() if _DDE.match(line))


def rtf_objects(data: bytes) -> list[RtfObject] | None:
    """The embedded objects of an RTF file; ``None`` if rtfobj fails on it."""
    try:
        with _quiet():
            parser = _oletools().rtfobj.RtfObjParser(data)
            parser.parse()
            return [_rtf_object(obj) for obj in parser.objects if obj.rawdata]  # skip empty
    except Exception:  # see vba_findings
        return None


def _rtf_object(obj: Any) -> RtfObject:  # an oletools.rtfobj.RtfObject
    class_name = _text(obj.class_name).rstrip("\0")
    clsid = _text(obj.clsid).upper()
    raw = obj.rawdata or b""
    equation = (
        class_name.lower().startswith("equation")
        or clsid == _EQUATION_CLSID
        or b"equation.3" in raw.lower()  # a header rtfobj could not parse still names it
    )
    return RtfObject(
        bool(obj.is_ole),
        class_name,
        clsid,
        bool(obj.is_package),
        _text(obj.filename),
        len(raw),
        equation,
    )


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)
