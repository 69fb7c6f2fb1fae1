"""Link domains that imitate a protected domain or a well-known brand."""

from __future__ import annotations

from typing import ClassVar

from floodwall.detect.mail.domains import host_of
from floodwall.detect.mail.lookalike_domain import LookalikeDomainDetector
from floodwall.records import Finding, MailMessage, Severity


class LookalikeLinkDetector:
    """A link whose domain imitates a protected domain or a brand (``paypa1.com``,
    ``paypal-secure-login.com``, ``paypal.com.evil.tld``), by the same homoglyph, Punycode,
    typo and brand-word tests as the sender check.

    Kept apart from ``mail.lookalike_domain`` because it is the weaker claim: a message
    names a link, a sender address claims to be someone (T1566.002, T1583.001). Typos are
    left to the sender check: typosquatting waits for a user who types the name, and among
    the many hosts mail links to, honest near-misses (``carnell.com``, ``sitehouse.net``)
    outnumber the impostors.
    """

    id: ClassVar[str] = "mail.lookalike_link"
    title: ClassVar[str] = "Link to a lookalike of a protected or well-known domain"
    severity: ClassVar[Severity] = Severity.MEDIUM
    attack: ClassVar[tuple[str, ...]] = ("T1566.002", "T1583.001")

    def __init__(self, lookalike: LookalikeDomainDetector) -> None:
        """``lookalike``: the sender detector, whose brand index is shared (built once)."""
        self.lookalike = lookalike

    def detect(self, msg: MailMessage) -> list[Finding]:
        """One finding per lookalike link domain."""
        findings = []
        for host in dict.fromkeys(host_of(link.url) for link in msg.links):
            f = self.lookalike.finding(host, "link", self)
            if f is not None and f.evidence["kind"] != "typo":
                findings.append(f)
        return findings
