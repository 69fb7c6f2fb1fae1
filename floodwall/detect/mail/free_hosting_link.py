"""Links to a page, file or form on free hosting, outside the sender's own domain."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import ClassVar
from urllib.parse import urlsplit

from floodwall.detect.mail.domains import SuffixList, domain_of, host_of, registered_domain
from floodwall.detect.mail.findings import detector_finding
from floodwall.records import Finding, MailMessage, Observable, Severity

# IPFS content paths work on any gateway host (https://docs.ipfs.tech/concepts/ipfs-gateway/).
_IPFS_PATH = re.compile(r"^/ip[fn]s/[a-z0-9]{20,}", re.I)


class FreeHostingLinkDetector:
    """A link to cloud storage, serverless functions, a free site builder, a form service
    or an IPFS gateway (``storage.googleapis.com/bucket/login.html``, ``x.r2.dev``,
    ``forms.gle/...``) in mail whose sender is not that provider.

    Credential phishing kits are hosted there: no domain to register, nothing to take
    down quickly, and the provider's name passes reputation filters (ATT&CK T1583.006,
    T1566.002). Blog platforms and CDNs are not listed: ordinary mail links to them.
    """

    id: ClassVar[str] = "mail.free_hosting_link"
    title: ClassVar[str] = "Link to a page on free hosting"
    severity: ClassVar[Severity] = Severity.MEDIUM
    attack: ClassVar[tuple[str, ...]] = ("T1566.002", "T1583.006")

    def __init__(self, psl: SuffixList, hosting: Mapping[str, str]) -> None:
        """``hosting``: host suffix (or ``host/path`` prefix) -> kind
        (``reference.load_free_hosting()``)."""
        self.psl = psl
        self.hosts = {k: v for k, v in hosting.items() if "/" not in k and "*" not in k}
        self.prefixes = {k: v for k, v in hosting.items() if "/" in k}
        # ``s3.*.amazonaws.com``: a ``*`` stands for one label or the rest of one (a region
        # name: ``s3.eu-west-1``, ``s3-us-west-2``), where a provider has many endpoints.
        self.wild = [
            (re.compile(r"(?:^|\.)" + re.escape(k).replace(r"\*", "[a-z0-9-]+") + "$"), v)
            for k, v in hosting.items()
            if "*" in k and "/" not in k
        ]
        # Only a host's last few labels can match an entry: a hostile 50,000-label host
        # must not cost 50,000 joins of itself.
        self.depth = max((k.count(".") + 1 for k in self.hosts), default=0)

    def kind_of(self, url: str) -> str:
        """The kind of free hosting ``url`` points at, or ``""``."""
        host = host_of(url)
        if not host:
            return ""
        labels = host.split(".")
        for i in range(max(0, len(labels) - self.depth), len(labels) - 1):
            kind = self.hosts.get(".".join(labels[i:]))
            if kind:
                return kind
        for pattern, kind in self.wild:
            if pattern.search(host):
                return kind
        try:
            path = urlsplit(url.strip()).path
        except ValueError:
            return ""
        for prefix, kind in self.prefixes.items():
            if (host + path).startswith(prefix):
                return kind
        return "ipfs" if _IPFS_PATH.match(path) else ""

    def detect(self, msg: MailMessage) -> list[Finding]:
        """One finding listing the free-hosting links that are not the sender's own."""
        sender = registered_domain(domain_of(msg.from_addr), self.psl)
        found: dict[str, str] = {}
        for link in msg.links:
            url = link.url.strip()
            if not url.lower().startswith(("http://", "https://")) or url in found:
                continue
            kind = self.kind_of(url)
            if kind and registered_domain(host_of(url), self.psl) != sender:
                found[url] = kind
        if not found:
            return []
        kinds = sorted(set(found.values()))
        first = next(iter(found))
        return [
            detector_finding(
                self,
                {
                    "reason": f"{len(found)} link(s) to free hosting ({', '.join(kinds)}), "
                    f"e.g. {host_of(first)}",
                    "urls": list(found)[:20],
                    "kinds": kinds,
                },
                tuple(Observable("url", u) for u in list(found)[:20]),
            )
        ]
