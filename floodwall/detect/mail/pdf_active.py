"""PDF files with active content: JavaScript, launch actions, embedded files."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from typing import ClassVar

from floodwall.detect.mail.findings import attachment_finding
from floodwall.records import Finding, MailMessage, Severity

_NAME = re.compile(rb"/([^\s/()<>\[\]{}%]+)")
_HEX = re.compile(rb"#([0-9A-Fa-f]{2})")
KEYS = ("JavaScript", "JS", "OpenAction", "AA", "Launch", "EmbeddedFile", "URI")


def pdf_names(data: bytes) -> Counter[str]:
    """How often each of ``KEYS`` appears as a name, ``#xx`` escapes undone (as pdfid does).

    Names inside compressed object streams are not seen; pdfid has the same blind spot.
    """
    counts: Counter[str] = Counter()
    for match in _NAME.finditer(data):
        name = _HEX.sub(lambda m: bytes([int(m.group(1), 16)]), match.group(1))
        text = name.decode("latin-1")
        if text in KEYS:
            counts[text] += 1
    return counts


class PdfActiveDetector:
    """A PDF with ``/JavaScript``, ``/Launch`` or ``/EmbeddedFile``, or an ``/OpenAction``
    or ``/AA`` running ``/JS`` (T1204.002). Names are counted after undoing ``#xx``
    escapes (``/J#61vaScript``). An automatic action or a launch makes it HIGH.
    """

    id: ClassVar[str] = "mail.pdf_active"
    title: ClassVar[str] = "PDF with active content"
    severity: ClassVar[Severity] = Severity.MEDIUM
    attack: ClassVar[tuple[str, ...]] = ("T1204.002", "T1566.001")

    def detect(self, msg: MailMessage) -> list[Finding]:
        out = []
        for att in msg.attachments:
            if att.true_type != "pdf":
                continue
            n = pdf_names(att.data)
            auto_js = bool((n["OpenAction"] or n["AA"]) and (n["JS"] or n["JavaScript"]))
            if not (n["JavaScript"] or n["Launch"] or n["EmbeddedFile"] or auto_js):
                continue
            found = ", ".join(f"/{k} x{n[k]}" for k in KEYS if n[k])
            finding = attachment_finding(self, att, f"{att.path!r} has {found}", names=dict(n))
            if auto_js or n["Launch"]:
                finding = dataclasses.replace(finding, severity=Severity.HIGH)
            out.append(finding)
        return out
