"""HTML links that show one address and go to another."""

from __future__ import annotations

import re
from typing import ClassVar

from floodwall.detect.mail.domains import SuffixList, domain_of, host_of, registered_domain
from floodwall.detect.mail.findings import detector_finding
from floodwall.records import Finding, Link, MailMessage, Observable, Severity

# Link text that is itself a URL or a host name (``https://bank.example/``, ``www.x.com``).
_URLISH = re.compile(r"(?:https?://)?(?:[a-z0-9-]+\.)+[a-z][a-z0-9-]+(?::\d+)?(?:[/?#]\S*)?", re.I)


class LinkTextMismatchDetector:
    """An HTML link whose visible text is a URL or domain of another registered domain.

    ``<a href="http://evil.tld/">https://www.mybank.com</a>``: the text promises one site
    and the href (RFC 3986 URI) goes elsewhere. Text that is not a URL ("click here") and
    text whose suffix is not in the Public Suffix List ("invoice.pdf") are ignored, and so
    are links to the From domain itself: newsletters show a shop's address over their own
    click-tracking redirect, and the reader already sees that domain as the sender's.
    """

    id: ClassVar[str] = "mail.link_text_mismatch"
    title: ClassVar[str] = "Link text shows another domain than the link"
    severity: ClassVar[Severity] = Severity.HIGH
    attack: ClassVar[tuple[str, ...]] = ("T1566.002", "T1036")

    def __init__(self, psl: SuffixList) -> None:
        """``psl``: the Public Suffix List (``reference.load_psl()``)."""
        self.psl = psl

    def _mismatch(self, link: Link) -> tuple[str, str] | None:
        """(shown domain, real domain) when the text names another site than the href."""
        text = link.text.strip().strip("<>[]()\"'").rstrip(".,;:")
        scheme = link.url.strip().lower().partition(":")[0]
        if not text or scheme not in ("http", "https") or not _URLISH.fullmatch(text):
            return None
        if "@" in text or not self.psl.publicsuffix(host_of(text), accept_unknown=False):
            return None
        shown = registered_domain(host_of(text), self.psl)
        real = registered_domain(host_of(link.url), self.psl)
        return (shown, real) if shown and real and shown != real else None

    def detect(self, msg: MailMessage) -> list[Finding]:
        """One finding per link whose text and target disagree."""
        findings = []
        sender = registered_domain(domain_of(msg.from_addr), self.psl)
        for link in msg.links:
            pair = self._mismatch(link)
            if pair is None or pair[1] == sender:
                continue
            shown, real = pair
            findings.append(
                detector_finding(
                    self,
                    {
                        "reason": f"link text {link.text.strip()!r} shows {shown} "
                        f"but the link goes to {real}",
                        "text": link.text,
                        "url": link.url,
                        "shown_domain": shown,
                        "real_domain": real,
                    },
                    (Observable("url", link.url), Observable("domain", real)),
                )
            )
        return findings
