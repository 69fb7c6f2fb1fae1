"""Reply-To that sends answers to another organisation than From."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from floodwall.detect.mail.domains import SuffixList, domain_of, list_domains, registered_domain
from floodwall.detect.mail.findings import detector_finding
from floodwall.records import Finding, MailMessage, Observable, Severity


class ReplyToMismatchDetector:
    """Reply-To sends answers to another domain than From (BEC, RFC 5322 §3.6.2).

    RFC 5322 lets Reply-To name where replies go; a fraudster who spoofs or borrows a
    From address uses it to receive the answers. Domains are compared as registered
    domains (Public Suffix List), so ``mail.example.co.uk`` and ``example.co.uk`` agree.
    A Reply-To to the mailing list that carried the message (List-Id, List-Post) is fine,
    and so is an organisation's address that the message itself prints as its contact (a
    newsletter sent by a mailing service, replies to the editor named in it): a fraudster
    hides where the answers go. A free mailbox (``freemail``) is never excused that way.
    On a free mail provider every mailbox has its own owner, so there a Reply-To to
    another mailbox of the same provider counts too (the 419 sender who writes from one
    Gmail box and reads the answers in another); ``+tag`` subaddresses are the same box.
    """

    id: ClassVar[str] = "mail.reply_to_mismatch"
    title: ClassVar[str] = "Reply-To differs from From"
    severity: ClassVar[Severity] = Severity.MEDIUM
    attack: ClassVar[tuple[str, ...]] = ("T1566",)

    def __init__(self, psl: SuffixList, freemail: Iterable[str] = ()) -> None:
        """``psl``: the Public Suffix List (``reference.load_psl()``); ``freemail``: free
        mailbox domains (``reference.load_freemail()``)."""
        self.psl = psl
        self.freemail = frozenset(freemail)

    def detect(self, msg: MailMessage) -> list[Finding]:
        """One finding naming every Reply-To address outside the From domain."""
        sender = registered_domain(domain_of(msg.from_addr), self.psl)
        if not sender:
            return []
        allowed = {sender} | list_domains(msg, self.psl)
        free_sender = domain_of(msg.from_addr) in self.freemail
        others = [
            a
            for a in msg.reply_to
            if (d := registered_domain(domain_of(a), self.psl))
            and (
                d not in allowed
                or (free_sender and d == sender and _mailbox(a) != _mailbox(msg.from_addr))
            )
        ]
        if others and not all(domain_of(a) in self.freemail for a in others):
            text = msg.text.lower()
            others = [a for a in others if domain_of(a) in self.freemail or a.lower() not in text]
        if not others:
            return []
        domains = sorted({registered_domain(domain_of(a), self.psl) for a in others})
        return [
            detector_finding(
                self,
                {
                    "reason": f"Reply-To {', '.join(others)} is outside the From "
                    + (f"mailbox {msg.from_addr}" if free_sender else f"domain {sender}"),
                    "from": msg.from_addr,
                    "reply_to": list(others),
                    "from_domain": sender,
                    "reply_to_domains": domains,
                },
                tuple(Observable("email", a) for a in others)
                + tuple(Observable("domain", d) for d in domains),
            )
        ]


def _mailbox(address: str) -> str:
    """``address`` without its ``+tag`` subaddress (RFC 5233), lowered: one mailbox."""
    local, _, domain = address.lower().rpartition("@")
    return f"{local.partition('+')[0]}@{domain}"
