"""An envelope sender (Return-Path) whose domain cannot exist, so no bounce can reach it."""

from __future__ import annotations

from typing import ClassVar

from floodwall.detect.mail.domains import SuffixList
from floodwall.detect.mail.findings import detector_finding
from floodwall.detect.mail.from_malformed import mailbox_problem
from floodwall.records import Finding, MailMessage, Severity


class ReturnPathMalformedDetector:
    """Return-Path (RFC 5321 §4.4) on a domain no mail could be returned to: characters no
    host name has, no dot, or no public suffix (``x@5wc0f8nz.cuk``).

    Bounces go to the envelope sender, so every mailer that wants its mail delivered
    writes one that exists; receiving MTAs refuse unknown sender domains at MAIL FROM
    (Postfix's reject_unknown_sender_domain). A bulk phishing tool fills it with random
    text. The null reverse-path ``<>`` and a local mailbox without a domain (mail handed
    over inside one host) are not read.
    """

    id: ClassVar[str] = "mail.return_path_malformed"
    title: ClassVar[str] = "Return-Path on a domain that cannot exist"
    severity: ClassVar[Severity] = Severity.MEDIUM
    attack: ClassVar[tuple[str, ...]] = ("T1566", "T1656")

    def __init__(self, psl: SuffixList) -> None:
        """``psl``: the Public Suffix List (``reference.load_psl()``)."""
        self.psl = psl

    def detect(self, msg: MailMessage) -> list[Finding]:
        address = msg.return_path
        if "@" not in address:
            return []
        problem = mailbox_problem(address, self.psl)
        if not problem:
            return []
        reason = f"Return-Path {address[:120]}: {problem}"
        return [detector_finding(self, {"reason": reason, "return_path": address[:300]})]
