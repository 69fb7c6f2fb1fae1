"""Links through a well-known open redirector (CWE-601) to someone else's site: the reader
and URL reputation see ``www.google.com`` or ``bing.com``, the browser lands elsewhere."""

from __future__ import annotations

import base64
import re
from typing import ClassVar
from urllib.parse import unquote, urlsplit

from floodwall.detect.mail.domains import SuffixList, domain_of, host_of, registered_domain
from floodwall.detect.mail.findings import detector_finding
from floodwall.detect.mail.reference import Redirector
from floodwall.records import Finding, MailMessage, Observable, Severity

MAX_URL = 8192  # characters of a link read: the host, and a redirector's target, come first
MAX_HOPS = 4  # redirectors followed inside one another; honest mail nests at most one
MAX_LINKS = 200  # links through redirectors resolved per message (each costs a few parses)
MAX_UNQUOTE = 3  # rounds of percent-decoding (RFC 3986 §2.1) of one value: %2525 is two
TOO_DEEP = "(nested too deep)"
# A country domain of a redirector's operator: google.de, google.co.uk, google.com.br.
_FAMILY = re.compile(r"([a-z0-9-]+)\.(?:com|(?:com?\.)?[a-z]{2})")
# WHATWG URL Standard: browsers read "https:\\x" and "https:/x" as "https://x".
_SCHEME = re.compile(r"\A(https?):[/\\]*", re.I)
_BARE_HOST = re.compile(r"[a-z0-9-]+(?:\.[a-z0-9-]+)+(?:[/:?#]|$)", re.I)  # "evil.com/x"
_HOST = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)+|[0-9a-f:.]*:[0-9a-f:.]*")


def _unquote(value: str) -> str:
    """Percent-decoded once, then again (at most ``MAX_UNQUOTE`` rounds in all) while it
    reads as no URL yet (``https%253A``); bad escapes stay."""
    for _ in range(MAX_UNQUOTE):
        if "%" not in value or (plain := unquote(value, errors="replace")) == value:
            break
        value = plain
        if _SCHEME.match(value) or value.startswith("//") or _BARE_HOST.match(value):
            break
    return value


def _param(url: str, names: tuple[str, ...]) -> str:
    """The first parameter in ``names``, in the query or the path's ``;`` parameters (RFC
    3986 §3.3-3.4), else in the decoded URL (a query encoded whole: ``click%3Fadurl%3D``)."""
    text = url
    for _ in range(2):
        path, _, query = text.partition("#")[0].partition("?")  # "?" may recur in a query
        for chunk in [*path.split(";")[1:], *re.split(r"[&;]", query)]:
            key, eq, value = chunk.partition("=")
            if eq and key in names:
                return value
        if "%" not in text:
            break
        text = unquote(text, errors="replace")
    return ""


def _target(value: str) -> str:
    """``value`` as an http(s) URL when it names a host (``//x.com``, ``x.com/p``), or ``""``."""
    value = _SCHEME.sub(lambda m: m.group(1) + "://", _unquote(value.strip()), count=1)
    if value.startswith("//"):
        value = "https:" + value
    elif not value[:8].lower().startswith(("http://", "https://")):
        value = "https://" + value if _BARE_HOST.match(value) else ""
    scheme, _, rest = value.partition("://")
    if "%" in (authority := re.split(r"[/?#]", rest, maxsplit=1)[0]):  # WHATWG: decoded once
        value = f"{scheme}://{unquote(authority, errors='replace')}{rest[len(authority) :]}"
    return value if _HOST.fullmatch(host_of(value)) else ""


def _bing(value: str) -> str:
    """Bing's ``u=a1<base64url>`` (RFC 4648 §5, unpadded) as text; ``""`` if invalid."""
    if not (value := _unquote(value)).startswith("a1"):
        return value
    try:
        raw = base64.urlsafe_b64decode(value[2:] + "=" * (-len(value[2:]) % 4))
    except ValueError:  # binascii.Error, or a non-ASCII character
        return ""
    return raw.decode("utf-8", "replace")


class OpenRedirectDetector:
    """A link through an open redirector (Google ``/url?q=`` and AMP, Bing ``/ck/a``,
    ``*.translate.goog``, DuckDuckGo, DoubleClick ...) to a site neither the redirector's
    nor the sender's: the trusted host passes the reader's eye and URL reputation (ATT&CK
    T1566.002, T1204.001, T1036). Gateway rewriters (Safe Links) are unwrapped and nested
    redirectors followed. The operator's own mail (Google Alerts) is not reported."""

    id: ClassVar[str] = "mail.open_redirect"
    title: ClassVar[str] = "Link through an open redirector"
    severity: ClassVar[Severity] = Severity.MEDIUM
    attack: ClassVar[tuple[str, ...]] = ("T1566.002", "T1204.001", "T1036")

    def __init__(self, psl: SuffixList, redirectors: tuple[Redirector, ...]) -> None:
        self.psl = psl
        self.by_host: dict[str, list[Redirector]] = {}
        for r in sorted(redirectors, key=lambda r: -len(r.path)):  # longest prefix first
            self.by_host.setdefault(r.host, []).append(r)
        # Only a host's last few labels can match: a 50,000-label host costs a few lookups.
        self.depth = max((k.count(".") + 1 for k in self.by_host), default=0)

    def owner(self, host: str) -> str:
        """Who runs ``host``: ``google.*`` for any Google country domain, else its domain."""
        domain = registered_domain(host, self.psl)
        family = m.group(1) + ".*" if (m := _FAMILY.fullmatch(domain)) else ""
        return family if family in self.by_host else domain

    def step(self, url: str) -> tuple[Redirector, str, str] | None:
        """The redirector ``url`` goes through, its host and its target (``""`` when
        unreadable); None when ``url`` is no redirector's."""
        host = host_of(url)
        try:
            parts = urlsplit(url)
        except ValueError:
            return None
        labels, path = host.split("."), parts.path.lower()
        keys = [".".join(labels[i:]) for i in range(max(0, len(labels) - self.depth), len(labels))]
        for r in (r for k in [*keys, self.owner(host)] for r in self.by_host.get(k, ())):
            if not path.startswith(r.path):
                continue
            if r.decoder == "path":
                value = parts.path[len(r.path) :] + ("?" + parts.query if parts.query else "")
            elif r.decoder == "goog":  # in a proxied host name "-" is "." and "--" is "-"
                label = host.removesuffix("." + r.host).rpartition(".")[2]
                value = label.replace("--", "\0").replace("-", ".").replace("\0", "-")
            elif r.decoder == "bing":
                value = _bing(_param(url, r.names))
            else:  # param; proofpoint writes "%XX" as "-XX" and "/" as "_"
                value = _param(url, r.names)
                if r.decoder == "proofpoint":
                    value = re.sub(r"-([0-9A-Fa-f]{2})", r"%\1", value).replace("_", "/")
            return r, host, _target(value)
        return None

    def resolve(self, url: str) -> tuple[list[tuple[Redirector, str]], str]:
        """The redirectors ``url`` goes through (with their hosts), outermost first, and
        where it lands: ``""`` when unreadable, ``TOO_DEEP`` past ``MAX_HOPS``."""
        hops: list[tuple[Redirector, str]] = []
        while url and (found := self.step(url)) is not None:
            if len(hops) == MAX_HOPS:
                return hops, TOO_DEEP
            redirector, host, url = found
            hops.append((redirector, host))
        return hops, url

    def detect(self, msg: MailMessage) -> list[Finding]:
        """One finding listing the links through open redirectors to a third party."""
        sender = self.owner(domain_of(msg.from_addr)) if msg.from_addr else ""
        found: dict[str, tuple[str, str]] = {}  # link -> (redirector host, target)
        resolved = 0
        for url in dict.fromkeys(link.url.strip()[:MAX_URL] for link in msg.links):
            if resolved == MAX_LINKS:
                break
            if not url[:8].lower().startswith(("http://", "https://")):
                continue
            hops, target = self.resolve(url)
            resolved += bool(hops)
            # Wrappers are the recipient's gateway, not the sender's redirector.
            shown = [host for r, host in hops if not r.wrapper]
            owners = {self.owner(host) for host in shown}
            if not target or not shown or sender in owners:
                continue
            if target == TOO_DEEP or self.owner(host_of(target)) not in {*owners, sender}:
                found[url] = (shown[0], target)
        if not found:
            return []
        host, target = next(iter(found.values()))
        targets = list(dict.fromkeys(t for _, t in found.values() if t != TOO_DEEP))[:20]
        evidence = {
            "reason": f"{len(found)} link(s) through open redirector(s), e.g. {host} -> "
            + (target if target == TOO_DEEP else host_of(target)),
            "urls": list(found)[:20],
            "redirectors": sorted({h for h, _ in found.values()}),
            "targets": targets,
        }
        return [detector_finding(self, evidence, tuple(Observable("url", t) for t in targets))]
