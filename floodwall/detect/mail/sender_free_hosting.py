"""A From address on a free hosting or app platform's customer subdomain."""

from __future__ import annotations

from typing import ClassVar

from floodwall.detect.mail.domains import domain_of
from floodwall.detect.mail.findings import detector_finding
from floodwall.detect.mail.free_hosting_link import FreeHostingLinkDetector
from floodwall.records import Finding, MailMessage, Observable, Severity


class SenderFreeHostingDetector:
    """The From address is on a free hosting platform's customer host
    (``no-reply@project-1a2b3.firebaseapp.com``, ``x@site.web.app``).

    Such platforms let anyone send mail under their trusted name from a throwaway project
    (Firebase's password-reset templates, for instance), with the platform's own DKIM
    signature: phishers use them to pass sender reputation (ATT&CK T1583.006, T1566).
    An organisation writes from its own domain. The hosts are those of
    ``free_hosting.txt``, shared with ``mail.free_hosting_link``; the platform's own
    address (``x@firebaseapp.com``) and form services, which send their users' form
    notifications from their own hosts, are not flagged.
    """

    id: ClassVar[str] = "mail.sender_free_hosting"
    title: ClassVar[str] = "Sender address on free hosting"
    severity: ClassVar[Severity] = Severity.MEDIUM
    attack: ClassVar[tuple[str, ...]] = ("T1566", "T1583.006")

    def __init__(self, hosting: FreeHostingLinkDetector) -> None:
        """``hosting``: the link detector, whose host table is shared (built once)."""
        self.hosting = hosting

    def detect(self, msg: MailMessage) -> list[Finding]:
        """At most one finding, for the From address."""
        host = domain_of(msg.from_addr)
        if not host or host in self.hosting.hosts:
            return []
        kind = self.hosting.kind_of("https://" + host + "/")
        if not kind or kind == "forms":
            return []
        return [
            detector_finding(
                self,
                {
                    "reason": f"the sender {msg.from_addr} is on free hosting ({kind})",
                    "from": msg.from_addr,
                    "kind": kind,
                },
                (Observable("email", msg.from_addr), Observable("domain", host)),
            )
        ]
