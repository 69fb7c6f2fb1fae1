"""Reply-To that sends an organisation's answers to a free mailbox."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from floodwall.detect.mail.domains import SuffixList, domain_of, registered_domain
from floodwall.detect.mail.findings import detector_finding
from floodwall.records import Finding, MailMessage, Observable, Severity


class ReplyToFreemailDetector:
    """Reply-To names a free mailbox (gmail.com, outlook.com ...) of another domain than
    From: ``From: ceo@acme.com``, ``Reply-To: ceo.acme@gmail.com``.

    The classic business-email-compromise and advance-fee pattern: the From address is
    spoofed, borrowed or compromised, and the answers go to a mailbox the fraudster
    opened in a minute (RFC 5322 §3.6.2; ATT&CK T1585.002, T1566). It adds weight to
    ``mail.reply_to_mismatch``, which fires too.
    """

    id: ClassVar[str] = "mail.reply_to_freemail"
    title: ClassVar[str] = "Reply-To goes to a free mailbox"
    severity: ClassVar[Severity] = Severity.MEDIUM
    attack: ClassVar[tuple[str, ...]] = ("T1566", "T1585.002")

    def __init__(self, psl: SuffixList, freemail: Iterable[str]) -> None:
        """``freemail``: registered domains of free mailbox providers
        (``reference.load_freemail()``)."""
        self.psl = psl
        self.freemail = frozenset(freemail)

    def detect(self, msg: MailMessage) -> list[Finding]:
        """One finding naming the free-mailbox Reply-To addresses."""
        sender = registered_domain(domain_of(msg.from_addr), self.psl)
        if not sender:
            return []
        found = [
            a
            for a in msg.reply_to
            if (d := registered_domain(domain_of(a), self.psl)) in self.freemail and d != sender
        ]
        if not found:
            return []
        return [
            detector_finding(
                self,
                {
                    "reason": f"Reply-To {', '.join(found)} is a free mailbox, "
                    f"while From is {msg.from_addr}",
                    "from": msg.from_addr,
                    "reply_to": found,
                },
                tuple(Observable("email", a) for a in found),
            )
        ]
