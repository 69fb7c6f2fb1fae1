"""Links that name a bare IP address instead of a domain, plain or obfuscated."""

from __future__ import annotations

import ipaddress
import re
from typing import ClassVar

from floodwall.detect.mail.domains import host_of
from floodwall.detect.mail.findings import detector_finding
from floodwall.records import Finding, Link, MailMessage, Observable, Severity

# One part of an IPv4 address as inet_aton(3) reads it: decimal, 0x-hex or 0-led octal.
_PART = re.compile(r"0x[0-9a-f]*|0[0-7]*|[1-9][0-9]*")


def _number(part: str) -> int:
    """One inet_aton(3) part: ``0x``-hex, ``0``-led octal or decimal."""
    if part.startswith("0x"):
        return int(part[2:] or "0", 16)
    return int(part, 8) if part.startswith("0") else int(part)


def parse_ip(host: str) -> tuple[str, bool] | None:
    """(address, obfuscated) when ``host`` is an IP literal, else None.

    Dotted-quad IPv4 and IPv6 (RFC 3986 §3.2.2) are plain; the forms browsers still accept
    after inet_aton(3) (``3232235777``, ``0xC0A80101``, ``0300.0250.1.1``, ``192.168.257``)
    are obfuscated (WHATWG URL standard, "IPv4 parser").
    """
    try:
        return str(ipaddress.ip_address(host)), False
    except ValueError:
        pass
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(_PART.fullmatch(p) for p in parts):
        return None
    values = [_number(p) for p in parts]
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (5 - len(values)):
        return None
    number = sum(v << (8 * (3 - i)) for i, v in enumerate(head)) + last
    return str(ipaddress.IPv4Address(number)), True


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
