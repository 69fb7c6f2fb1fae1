"""HTML mail in which every link hides its destination behind a URL shortener."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from floodwall.detect.mail.domains import SuffixList, host_of, registered_domain
from floodwall.detect.mail.findings import detector_finding
from floodwall.records import Finding, MailMessage, Observable, Severity


class ShortenedOnlyDetector:
    """An HTML message whose every web link goes through a URL shortener.

    A shortened link among a newsletter's many is a convenience; a formatted message in
    which no button shows where it leads hides its destinations from the reader and from
    URL filters on purpose (RFC 9110 §15.4 redirects; ATT&CK T1566.002, T1027). It adds
    to ``mail.url_shortener``, which fires with it. Plain-text mail is left out: people
    paste short links into their own messages.
    """

    id: ClassVar[str] = "mail.shortened_only"
    title: ClassVar[str] = "Every link goes through a URL shortener"
    severity: ClassVar[Severity] = Severity.MEDIUM
    attack: ClassVar[tuple[str, ...]] = ("T1566.002", "T1027")

    def __init__(self, psl: SuffixList, shorteners: Iterable[str]) -> None:
        """``shorteners``: shortener domains (``reference.load_shorteners()``)."""
        self.psl = psl
        self.shorteners = frozenset(s.lower() for s in shorteners)

    def _is_short(self, url: str) -> bool:
        host = host_of(url)
        return bool(host) and (
            host in self.shorteners or registered_domain(host, self.psl) in self.shorteners
        )

    def detect(self, msg: MailMessage) -> list[Finding]:
        """At most one finding, listing the shortened links."""
        if not msg.html.strip():
            return []
        web = [
            link.url.strip()
            for link in msg.links
            if link.url.strip().lower().startswith(("http://", "https://"))
        ]
        if not web or not all(self._is_short(u) for u in web):
            return []
        urls = list(dict.fromkeys(web))
        return [
            detector_finding(
                self,
                {
                    "reason": f"all {len(web)} link(s) go through a shortener "
                    f"({', '.join(sorted({host_of(u) for u in urls})[:5])})",
                    "urls": urls[:20],
                },
                tuple(Observable("url", u) for u in urls[:20]),
            )
        ]
