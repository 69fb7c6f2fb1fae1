"""Attachments that match a bundled YARA rule (signature-base, InQuest, bartblaze)."""

from __future__ import annotations

from typing import ClassVar

from floodwall.detect.mail.findings import attachment_finding
from floodwall.detect.mail.yara_rules import YaraRules
from floodwall.records import Finding, MailMessage, Severity


class YaraDetector:
    """An attachment matches a YARA rule written for malicious documents and scripts.

    The rules are compiled once and passed in. The author, reference and license stay
    in the evidence because the Detection Rule License (signature-base) asks every
    match output to keep them. A scan that times out raises, so the message is held as
    unscannable instead of passing unexamined.
    """

    id: ClassVar[str] = "mail.yara"
    title: ClassVar[str] = "YARA rule matched"
    severity: ClassVar[Severity] = Severity.HIGH
    attack: ClassVar[tuple[str, ...]] = ("T1566.001",)

    def __init__(self, rules: YaraRules) -> None:
        self.rules = rules

    def detect(self, msg: MailMessage) -> list[Finding]:
        out = []
        for att in msg.attachments:
            if not att.data:
                continue
            for m in self.rules.scan(att.data, filename=att.path):
                credit = ", ".join(x for x in (m.author, m.reference) if x) or "no author given"
                reason = f"{att.path!r} matches {m.namespace}:{m.rule} ({credit})"
                out.append(
                    attachment_finding(
                        self,
                        att,
                        reason,
                        rule=m.rule,
                        namespace=m.namespace,
                        tags=list(m.tags),
                        author=m.author,
                        description=m.description,
                        reference=m.reference,
                        license=m.license,
                    )
                )
        return out
