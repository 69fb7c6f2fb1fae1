"""Links that hide their destination behind a URL shortener."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from floodwall.detect.mail.domains import SuffixList, host_of, registered_domain
from floodwall.detect.mail.findings import detector_finding
from floodwall.records import Finding, MailMessage, Observable, Severity


class UrlShortenerDetector:
    """A link through a known URL shortener (``bit.ly``, ``t.co`` ...): the real target is
    one redirect (RFC 9110 §15.4) away, out of sight of the reader and of URL filters."""

    id: ClassVar[str] = "mail.url_shortener"
    title: ClassVar[str] = "Link through a URL shortener"
    severity: ClassVar[Severity] = Severity.LOW
    attack: ClassVar[tuple[str, ...]] = ("T1566.002", "T1027")

    def __init__(self, psl: SuffixList, shorteners: Iterable[str]) -> None:
        """``shorteners``: shortener domains (``reference.load_shorteners()``)."""
        self.psl = psl
        self.shorteners = frozenset(s.lower() for s in shorteners)

    def detect(self, msg: MailMessage) -> list[Finding]:
        """One finding listing every shortened link."""
        urls: dict[str, str] = {}
        for link in msg.links:
            host = host_of(link.url)
            if host and (
                host in self.shorteners or registered_domain(host, self.psl) in self.shorteners
            ):
                urls.setdefault(link.url, host)
        if not urls:
            return []
        hosts = sorted(set(urls.values()))
        return [
            detector_finding(
                self,
                {
                    "reason": f"{len(urls)} link(s) go through the shortener(s) {', '.join(hosts)}",
                    "urls": list(urls),
                    "shorteners": hosts,
                },
                tuple(Observable("url", u) for u in urls),
            )
        ]
