"""RTF documents carrying embedded objects: the Equation Editor exploits and dropped files."""

from __future__ import annotations

from typing import ClassVar

from floodwall.detect.mail import office
from floodwall.detect.mail.findings import attachment_finding
from floodwall.records import Finding, MailMessage, Severity


class RtfObjectDetector:
    """An RTF file with ``\\objdata`` objects, read by oletools' rtfobj (T1203).

    Letters and invoices do not need embedded objects; exploit documents do. The evidence
    names each object's class, flags the Equation Editor (CVE-2017-11882, CLSID
    0002CE02-...) and lists OLE Package objects by the file name they would drop.
    """

    id: ClassVar[str] = "mail.rtf_object"
    title: ClassVar[str] = "RTF document with an embedded object"
    severity: ClassVar[Severity] = Severity.HIGH
    attack: ClassVar[tuple[str, ...]] = ("T1203", "T1566.001")

    def detect(self, msg: MailMessage) -> list[Finding]:
        out = []
        for att in msg.attachments:
            if att.true_type != "rtf":
                continue
            objects = office.rtf_objects(att.data)
            if not objects:  # None (unparsed) or none found
                continue
            equation = any(o.equation for o in objects)
            packages = [o.filename for o in objects if o.is_package]
            reason = f"{att.path!r} embeds {len(objects)} object(s)"
            if equation:
                reason += ", one for the Equation Editor"
            if packages:
                reason += f", dropping {', '.join(packages[:5])}"
            out.append(
                attachment_finding(
                    self,
                    att,
                    reason,
                    classes=sorted({o.class_name or o.clsid or "?" for o in objects}),
                    equation_editor=equation,
                    packages=packages,
                )
            )
        return out
