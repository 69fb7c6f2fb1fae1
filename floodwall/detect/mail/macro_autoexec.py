"""Office macros that run by themselves when the document is opened or closed."""

from __future__ import annotations

from typing import ClassVar

from floodwall.detect.mail import office
from floodwall.detect.mail.findings import attachment_finding
from floodwall.records import Finding, MailMessage, Severity


class MacroAutoexecDetector:
    """VBA or Excel 4 macros with an auto-exec trigger (``AutoOpen``, ``Document_Open``,
    ``Workbook_Open``, ``Auto_Open`` ...), as olevba classifies them (T1204.002).

    The evidence lists the triggers and olevba's suspicious keywords (``Shell``,
    ``CreateObject``, ``URLDownloadToFile`` ...) so an analyst sees what would run.
    """

    id: ClassVar[str] = "mail.macro_autoexec"
    title: ClassVar[str] = "Office macro that runs on open"
    severity: ClassVar[Severity] = Severity.HIGH
    attack: ClassVar[tuple[str, ...]] = ("T1204.002", "T1137", "T1566.001")

    def detect(self, msg: MailMessage) -> list[Finding]:
        out = []
        for att, report in office.macro_reports(msg):
            if not report.autoexec:
                continue
            kind = "VBA and XLM" if report.has_vba and report.has_xlm else (
                "XLM" if report.has_xlm else "VBA")  # fmt: skip
            reason = f"{att.path!r} has {kind} macros run by {', '.join(report.autoexec)}"
            out.append(
                attachment_finding(
                    self,
                    att,
                    reason,
                    triggers=list(report.autoexec),
                    keywords=list(report.suspicious),
                    vba=report.has_vba,
                    xlm=report.has_xlm,
                )
            )
        return out
