"""DDE fields: Word and Excel files that start a program when opened."""

from __future__ import annotations

from typing import ClassVar

from floodwall.detect.mail import office
from floodwall.detect.mail.findings import attachment_finding
from floodwall.records import Finding, MailMessage, Severity


class OfficeDdeDetector:
    """``DDE``/``DDEAUTO`` field codes (Word) or DDE links (Excel), read by oletools'
    msodde from doc, docx, xls, xlsx and rtf files (T1559.002).

    The evidence keeps the commands, cut to 200 characters each.
    """

    id: ClassVar[str] = "mail.office_dde"
    title: ClassVar[str] = "Office document with a DDE command"
    severity: ClassVar[Severity] = Severity.HIGH
    attack: ClassVar[tuple[str, ...]] = ("T1559.002", "T1566.001")

    def detect(self, msg: MailMessage) -> list[Finding]:
        out = []
        for att in msg.attachments:
            if att.true_type not in office.OFFICE_TYPES:
                continue
            links = office.dde_links(att.data)
            if not links:  # None (unparsed) or none found
                continue
            reason = f"{att.path!r} has {len(links)} DDE field(s)"
            out.append(attachment_finding(self, att, reason, links=[x[:200] for x in links[:10]]))
        return out
