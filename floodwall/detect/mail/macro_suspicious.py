"""Office macros that do something dangerous, or Excel 4 macros, without running on open."""

from __future__ import annotations

from typing import ClassVar

from floodwall.detect.mail import office
from floodwall.detect.mail.findings import attachment_finding
from floodwall.records import Finding, MailMessage, Severity


class MacroSuspiciousDetector:
    """VBA with olevba's suspicious keywords (``Shell``, ``CreateObject``, ``WScript`` ...),
    or Excel 4 (XLM) macro sheets, and no auto-exec trigger (T1204.002).

    A macro with a trigger is ``mail.macro_autoexec``'s; this one does not fire then,
    so the policy never counts the same macro twice.
    """

    id: ClassVar[str] = "mail.macro_suspicious"
    title: ClassVar[str] = "Office macro with suspicious keywords"
    severity: ClassVar[Severity] = Severity.MEDIUM
    attack: ClassVar[tuple[str, ...]] = ("T1204.002", "T1566.001")

    def detect(self, msg: MailMessage) -> list[Finding]:
        out = []
        for att, report in office.macro_reports(msg):
            if report.autoexec:
                continue
            if report.has_vba and report.suspicious:
                reason = f"{att.path!r} has VBA macros using {', '.join(report.suspicious)}"
            elif report.has_xlm:
                reason = f"{att.path!r} has Excel 4 (XLM) macros"
            else:
                continue
            out.append(
                attachment_finding(
                    self,
                    att,
                    reason,
                    keywords=list(report.suspicious),
                    vba=report.has_vba,
                    xlm=report.has_xlm,
                )
            )
        return out
