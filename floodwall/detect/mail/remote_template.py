"""OOXML documents that fetch a template, object or frame from elsewhere when opened."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile
from typing import ClassVar

from floodwall.detect.mail.findings import attachment_finding
from floodwall.records import Finding, MailMessage, Severity

OOXML_TYPES = frozenset({"ooxml", "docx", "xlsx", "pptx"})
_TYPES = ("/attachedTemplate", "/oleObject", "/frame", "/subDocument")
_REMOTE = re.compile(r"^(https?://|ftp://|\\\\|//|file:/*\\\\|file://[^/])", re.IGNORECASE)
_MAX_RELS, _MAX_SIZE = 200, 1 << 20  # a hostile zip may hold many, or huge, .rels files


def external_targets(data: bytes) -> list[tuple[str, str]] | None:
    """(relationship type, target) of remote external relationships; None if unreadable."""
    found = []
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            rels = [i for i in archive.infolist() if i.filename.lower().endswith(".rels")]
            for info in rels[:_MAX_RELS]:
                if info.file_size > _MAX_SIZE:
                    continue
                text = archive.read(info)[:_MAX_SIZE]
                if b"<!DOCTYPE" in text or b"<!ENTITY" in text:
                    continue  # relationships never need a DTD; refuse entity games
                for rel in ET.fromstring(text):
                    kind = rel.get("Type", "")
                    target = rel.get("Target", "").strip()
                    if (rel.get("TargetMode", "").lower() == "external"
                            and kind.endswith(_TYPES) and _REMOTE.match(target)):  # fmt: skip
                        found.append((kind.rsplit("/", 1)[-1], target))
    except (zipfile.BadZipFile, ET.ParseError, OSError, ValueError, EOFError, RuntimeError):
        return None
    return found


class RemoteTemplateDetector:
    """An OOXML relationship (``*.rels``) of type attachedTemplate, oleObject, frame or
    subDocument with ``TargetMode="External"`` pointing at http(s), FTP or a UNC path
    (T1221): Word fetches it on open, and a UNC path leaks the user's NTLM hash.
    """

    id: ClassVar[str] = "mail.remote_template"
    title: ClassVar[str] = "Office document loading a remote template or object"
    severity: ClassVar[Severity] = Severity.HIGH
    attack: ClassVar[tuple[str, ...]] = ("T1221", "T1566.001")

    def detect(self, msg: MailMessage) -> list[Finding]:
        out = []
        for att in msg.attachments:
            if att.true_type not in OOXML_TYPES:
                continue
            targets = external_targets(att.data)
            if not targets:
                continue
            kinds = sorted({kind for kind, _ in targets})
            reason = f"{att.path!r} loads {', '.join(kinds)} from {targets[0][1]!r}"
            out.append(attachment_finding(self, att, reason, targets=[t for _, t in targets]))
        return out
