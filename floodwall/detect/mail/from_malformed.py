"""A From header no honest mail system writes: several authors without a Sender, a
mailbox without a domain, or a domain that is not a domain (RFC 5322 §3.6.2, §3.4.1).

Phishers use such headers because mail clients show the first display name, while
filters and people read another part: ``From: PayPal, x <service@evil.example>``.
"""

from __future__ import annotations

import re
from email.utils import getaddresses
from typing import ClassVar

from floodwall.detect.mail.domains import SuffixList, ascii_host
from floodwall.detect.mail.findings import detector_finding
from floodwall.records import Finding, MailMessage, Severity

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_LDH_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")


def mailbox_problem(address: str, psl: SuffixList) -> str:
    """What makes ``address`` no mailbox an honest mail system writes, or ``""``."""
    if "@" not in address:
        return f"mailbox {address!r} has no domain"
    written = address.rpartition("@")[2].strip().rstrip(".")
    domain = ascii_host(written)
    # RFC 5321 §4.1.2: a mail domain is letters, digits and hyphens between dots;
    # "%atendimento.com", "bank.com'" or "x_y.com" is no host name, and an
    # internationalized name must encode to one (RFC 5890 A-labels). An address
    # literal ([192.0.2.1]) is valid SMTP but names no sender domain at all.
    host = written.lower() if written.isascii() else domain
    if not _LDH_DOMAIN.fullmatch(host):
        return f"{written[:60]!r} has characters no host name may have"
    shown = domain if len(domain) <= 80 else domain[:77] + "..."  # hostile lengths
    if "." not in domain:
        return f"{shown!r} is not a domain name"
    # Only an unknown top-level domain: a domain that is itself a (private) suffix,
    # such as iki.fi, legitimately receives and sends mail.
    if psl.publicsuffix(domain, accept_unknown=False) is None:
        return f"{shown!r} is not under a public suffix"
    return ""


class FromMalformedDetector:
    """From header with several or broken mailboxes (T1656 impersonation, T1566)."""

    id: ClassVar[str] = "mail.from_malformed"
    title: ClassVar[str] = "Malformed From header"
    severity: ClassVar[Severity] = Severity.MEDIUM
    attack: ClassVar[tuple[str, ...]] = ("T1566", "T1656")

    def __init__(self, psl: SuffixList) -> None:
        self.psl = psl

    def detect(self, msg: MailMessage) -> list[Finding]:
        values = msg.header("from")
        if not values:
            return [self._finding("no From header", values)]
        mailboxes = [a for _, a in getaddresses(list(values)) if a]
        problems = []
        if len(values) > 1:
            problems.append(f"{len(values)} From headers")
        if len(mailboxes) > 1 and not msg.header("sender"):
            problems.append(f"{len(mailboxes)} mailboxes in From and no Sender header")
        if not mailboxes:
            problems.append("no address in From")
        problems.extend(p for p in (mailbox_problem(a, self.psl) for a in mailboxes) if p)
        return [self._finding("; ".join(problems), values)] if problems else []

    def _finding(self, reason: str, values: tuple[str, ...]) -> Finding:
        return detector_finding(self, {"reason": reason, "from": list(values)})
