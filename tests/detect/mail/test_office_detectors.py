"""Office and document detectors, one table each: real oletools samples and built ones."""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path
from typing import Any

import pytest

from floodwall.detect.mail.macro_autoexec import MacroAutoexecDetector
from floodwall.detect.mail.macro_suspicious import MacroSuspiciousDetector
from floodwall.detect.mail.office_dde import OfficeDdeDetector
from floodwall.detect.mail.onenote_embedded import OnenoteEmbeddedDetector
from floodwall.detect.mail.pdf_active import PdfActiveDetector
from floodwall.detect.mail.remote_template import RemoteTemplateDetector
from floodwall.detect.mail.rtf_object import RtfObjectDetector
from floodwall.normalize.filetype import true_type

HERE = Path(__file__).resolve()


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cases = _load("cases", HERE.with_name("attachment_cases.py"))
build = _load("office_samples", HERE.parents[2] / "samples/detect/mail/make_office_samples.py")
att, fired = cases.att, cases.fired

GARBAGE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)) * 8  # OLE magic, then noise
DDE_RTF = b'{\\rtf1{\\field{\\*\\fldinst DDEAUTO c:\\\\windows\\\\cmd.exe "/k calc.exe"}}}'
JS = b"/OpenAction<</S/JavaScript/JS(app.alert(1))>>"
EXTERNAL = "oleobj/external_link/sample_with_external_link_to_doc.docx"


def remote(target: str, kind: str = build.TEMPLATE, **kw: str) -> bytes:
    return build.docx(build.rels(kind, target, **kw))


def oletools(shared: Path, name: str) -> bytes:
    """A file of oletools' test data; ``x.doc.zip`` files are zipped with "infected-test"."""
    path = shared / "mail" / "oletools_test_data" / name
    if name.endswith(".zip"):
        with zipfile.ZipFile(path) as z:
            return z.read(z.namelist()[0], pwd=b"infected-test")
    return path.read_bytes()


A, S, D = MacroAutoexecDetector(), MacroSuspiciousDetector(), OfficeDdeDetector()
R, T, P, N = (
    RemoteTemplateDetector(),
    RtfObjectDetector(),
    PdfActiveDetector(),
    OnenoteEmbeddedDetector(),
)
XLM = "excel4-macros/excel4_sample_macro.xls"

# (detector, attachment name, bytes, or a path under oletools_test_data, fires)
TABLE: list[tuple[Any, str, bytes | str, bool]] = [
    (A, "a.xls", "encrypted/autostart-encrypt-standardpassword.xls", True),  # Auto_Open VBA
    (A, "a.xls", XLM, True),  # XLM macro sheet with Auto_Open
    (A, "a.ppt", "olevba/sample_with_vba.ppt", True),  # Action_Click
    (A, "a.docm", "oleform/oleform-PR314.docm", True),  # ActiveX Frame1_Click
    (A, "a.doc", "msodde/harmless-clean.doc", False),
    (A, "a.docm", "msodde/harmless-clean.docm", False),
    (A, "a.vbs", "basic/text", False),  # olevba would read any text as VBA source
    (A, "a.doc", GARBAGE, False),
    (S, "a.xls", "NEUTERED", True),  # XLM without its Auto_Open name
    (S, "a.xls", XLM, False),  # has a trigger: macro_autoexec's
    (S, "a.docm", "msodde/harmless-clean.docm", False),
    (S, "a.doc", GARBAGE, False),
    (D, "a.docx", "msodde/dde-test.docx", True),
    (D, "a.xlsx", "msodde/dde-test.xlsx", True),
    (D, "a.xlsb", "msodde/dde-test.xlsb", True),
    (D, "a.doc", "msodde/dde-test-from-office2016.doc.zip", True),
    (D, "a.rtf", DDE_RTF, True),
    (D, "a.docx", "msodde/harmless-clean.docx", False),
    (D, "a.doc", "msodde/harmless-clean.doc", False),
    (D, "a.rtf", "msodde/RTF-Spec-1.7.rtf", False),
    (D, "a.doc", GARBAGE, False),
    (D, "a.docx", b"PK\x03\x04" + b"\0" * 100, False),
    (R, "a.docx", remote("https://template.example.net/t.dotm"), True),
    (R, "a.docx", remote("\\\\198.51.100.7\\share\\t.dotm"), True),  # UNC: NTLM leak
    (R, "a.docx", remote("file:///\\\\host.example.net\\t.dotm"), True),
    (R, "a.docx", EXTERNAL, True),  # oleObject over https
    (R, "a.docx", remote("https://example.net/", build.HYPERLINK), False),  # a plain link
    (R, "a.docx", remote("template.dotm", mode="Internal"), False),
    (R, "a.docx", remote("https://x.example/", extra='<!DOCTYPE r [<!ENTITY a "b">]>'), False),
    (R, "a.docx", build.docx(), False),
    (R, "a.docx", "msodde/harmless-clean.docx", False),
    (T, "a.rtf", build.rtf_package("run.bat", b"echo hi"), True),
    (T, "a.rtf", "rtfobj/issue_251.rtf", True),  # obfuscated Equation.3 object
    (T, "a.rtf", b"{\\rtf1\\ansi Hello \\par}", False),
    (T, "a.rtf", "msodde/RTF-Spec-1.7.rtf", False),
    (
        T,
        "a.rtf",
        b"{\\rtf1{\\object{\\*\\objdata zz\\bin999999}}" + b"{" * 5000,
        True,
    ),  # \\bin data
    (T, "a.rtf", b"{\\rtf1{\\*\\objclass x}" + b"{" * 5000 + b"\\'", False),  # no objdata
    (P, "a.pdf", build.pdf(JS), True),
    (P, "a.pdf", build.pdf(b"/OpenAction<</S/#4A#61vaScript/JS(app.alert(1))>>"), True),
    (P, "a.pdf", build.pdf(b"/OpenAction<</S/Launch/F(cmd.exe)>>"), True),
    (
        P,
        "a.pdf",
        build.pdf(b"/Names<</EmbeddedFiles<</Names[(a)<</EmbeddedFile 4 0 R>>]>>>>"),
        True,
    ),
    (P, "a.pdf", build.pdf(b""), False),
    (P, "a.pdf", build.pdf(b"/OpenAction[3 0 R/Fit]/URI(https://example.com)"), False),
    (P, "a.txt", JS, False),  # not a PDF
    (N, "a.one", build.onenote(build.PE), True),
    (N, "a.one", build.onenote(b"' hi\r\nWScript.Echo 1\r\n"), True),
    (N, "a.one", build.onenote(b"\x89PNG\r\n\x1a\n" + b"\0" * 64), False),  # a pasted picture
    (N, "a.one", build.ONE_HEADER + b"\0" * 200, False),
    (N, "a.one", build.ONE_HEADER + build.FILE_DATA, False),  # cut right after the GUID
]


@pytest.mark.parametrize(("detector", "name", "source", "fires"), TABLE)
def test_detector(
    request: pytest.FixtureRequest, detector: Any, name: str, source: bytes | str, fires: bool
) -> None:
    if isinstance(source, str):
        shared = request.getfixturevalue("shared_data")
        data = build.neutered_xlm(oletools(shared, XLM)) if source == "NEUTERED" else None
        data = data or oletools(shared, source)
    else:
        data = source
    attachment = att(name, true_type(data), data)
    assert fired(detector, attachment) == ([attachment.path] if fires else [])


def test_evidence_names_what_was_found(shared_data: Path) -> None:
    (f,) = A.detect(cases.message(att("a.xls", "ole", oletools(shared_data, XLM))))
    assert f.evidence["triggers"] == ["Auto_Open"] and f.evidence["xlm"] is True
    (f,) = T.detect(cases.message(att("a.rtf", "rtf", build.rtf_package("run.bat", b"x"))))
    assert f.evidence["packages"] == ["run.bat"] and f.evidence["classes"] == ["Package"]
    (f,) = T.detect(
        cases.message(att("a.rtf", "rtf", oletools(shared_data, "rtfobj/issue_251.rtf")))
    )
    assert f.evidence["equation_editor"] is True
    (f,) = N.detect(cases.message(att("a.one", "one", build.onenote(build.PE, build.PE))))
    assert f.evidence["count"] == 2 and f.evidence["types"] == ["pe", "pe"]
    (f,) = P.detect(cases.message(att("a.pdf", "pdf", build.pdf(JS))))
    assert f.evidence["names"] == {"OpenAction": 1, "JavaScript": 1, "JS": 1}
    assert f.severity.label == "high"


def test_office_adapter_prints_nothing(
    capsys: pytest.CaptureFixture[str], shared_data: Path
) -> None:
    A.detect(cases.message(att("a.xls", "ole", oletools(shared_data, XLM))))
    assert capsys.readouterr() == ("", "")
