"""Links that name a bare IP address instead of a domain, plain or obfuscated."""

from __future__ import annotations

from typing import ClassVar

from floodwall.detect.mail.domains import host_of, parse_ip
from floodwall.detect.mail.findings import detector_finding
from floodwall.records import Finding, Link, MailMessage, Observable, Severity


class IpLiteralUrlDetector:
    """A link to ``http(s)://<IP literal>/``: no domain to check, the mark of a throwaway host.

    Obfuscated IPv4 forms (decimal, hex, octal) are named as such in the evidence.

    Plain IP links count only when they are at least a fifth of the message's distinct web
    links:
    a phishing message's IP link is its call to action, while one address among a digest's
    dozens of links (a weblog directory, a shop's link to a partner's server) is a
    reference. Obfuscated forms always count: nothing honest writes them.
    """

    id: ClassVar[str] = "mail.ip_literal_url"
    title: ClassVar[str] = "Link to a bare IP address"
    severity: ClassVar[Severity] = Severity.MEDIUM
    attack: ClassVar[tuple[str, ...]] = ("T1566.002",)

    def _hit(self, link: Link) -> tuple[str, str, bool] | None:
        """(host, address, obfuscated) for a web link whose host is an IP literal."""
        scheme = link.url.strip().lower().partition(":")[0]
        if scheme not in ("http", "https"):
            return None
        host = host_of(link.url)
        parsed = parse_ip(host) if host else None
        return (host, *parsed) if parsed else None

    def detect(self, msg: MailMessage) -> list[Finding]:
        """One finding per distinct IP-literal link."""
        seen: dict[str, Finding] = {}
        plain = 0
        for link in msg.links:
            hit = self._hit(link)
            if hit is None or link.url in seen:
                continue
            host, address, obfuscated = hit
            plain += not obfuscated
            how = f"obfuscated IPv4 {host} = {address}" if obfuscated else f"IP address {address}"
            seen[link.url] = detector_finding(
                self,
                {
                    "reason": f"link {link.url} points to the {how}",
                    "url": link.url,
                    "ip": address,
                    "obfuscated": obfuscated,
                },
                (Observable("url", link.url), Observable("ip", address)),
            )
        # Distinct URLs on both sides: a message that repeats its one IP link in every
        # button, or a newsletter that repeats its tracker, is still one link each.
        web = len({u for link in msg.links if (u := link.url.strip()).lower().startswith("http")})
        if len(seen) > plain or plain * 5 >= web:
            return list(seen.values())
        return []
