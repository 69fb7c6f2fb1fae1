"""PDF attachments whose link goes to a shortener, free hosting or a bare IP address."""

from __future__ import annotations

import dataclasses
import re
import zlib
from collections.abc import Iterable, Iterator
from typing import ClassVar

from floodwall.detect.mail.domains import SuffixList, host_of, parse_ip, registered_domain
from floodwall.detect.mail.findings import attachment_finding
from floodwall.detect.mail.free_hosting_link import FreeHostingLinkDetector
from floodwall.records import Attachment, Finding, MailMessage, Observable, Severity

# A URI action (ISO 32000-1 §12.6.4.7): /URI (literal string) or /URI <hex string>.
_URI = re.compile(rb"/URI\s*(?:\(((?:\\.|[^\\)]){1,2048})\)|<([0-9A-Fa-f\s]{2,4096})>)")
_STREAM = re.compile(rb"stream\r?\n")
MAX_PDF = 10 * 1024 * 1024  # larger files are left to the other checks
MAX_STREAMS = 400
MAX_INFLATED = 8 * 1024 * 1024  # per file, all streams together: no zip bomb in a PDF


def _streams(data: bytes) -> Iterator[bytes]:
    """The file itself, then its Flate streams inflated (links hide in object streams),
    within ``MAX_STREAMS`` and ``MAX_INFLATED``."""
    yield data
    budget = MAX_INFLATED
    for n, match in enumerate(_STREAM.finditer(data)):
        if n >= MAX_STREAMS or budget <= 0:
            return
        end = data.find(b"endstream", match.end())
        raw = data[match.end() : end if end > 0 else len(data)]
        try:
            out = zlib.decompressobj().decompress(raw, budget)
        except zlib.error:
            continue
        budget -= len(out)
        yield out


def pdf_uris(data: bytes) -> list[str]:
    """The distinct URIs of a PDF's link actions, in order."""
    found: dict[str, None] = {}
    for chunk in _streams(data[:MAX_PDF]):
        for literal, hexed in _URI.findall(chunk):
            if hexed:
                try:
                    raw = bytes.fromhex(hexed.decode("ascii"))
                except ValueError:
                    continue
            else:
                raw = re.sub(rb"\\(.)", rb"\1", literal)
            found.setdefault(raw.decode("latin-1").strip(), None)
    return list(found)


class PdfLinkLureDetector:
    """A PDF attachment links to a URL shortener, to free hosting (cloud storage, Apps
    Script, static sites) or to a bare IP address: ``Statement.pdf`` whose one button opens
    ``https://x.z13.web.core.windows.net/``.

    Putting the link in an attachment moves it out of reach of the mail body's URL checks;
    the PDF is only the envelope (ATT&CK T1566.001 with T1204.001). The same host tables
    as ``mail.url_shortener`` and ``mail.free_hosting_link`` decide.
    """

    id: ClassVar[str] = "mail.pdf_link_lure"
    title: ClassVar[str] = "PDF links to a shortener, free hosting or an IP address"
    severity: ClassVar[Severity] = Severity.MEDIUM
    attack: ClassVar[tuple[str, ...]] = ("T1566.001", "T1204.001")

    def __init__(
        self, psl: SuffixList, shorteners: Iterable[str], hosting: FreeHostingLinkDetector
    ) -> None:
        """``shorteners``: ``reference.load_shorteners()``; ``hosting``: the free hosting
        link detector, whose host table is shared."""
        self.psl = psl
        self.shorteners = frozenset(s.lower() for s in shorteners)
        self.hosting = hosting

    def kind_of(self, url: str) -> str:
        """Why ``url`` is a lure target (``shortener``, ``ip``, a hosting kind) or ``""``."""
        if not url.lower().startswith(("http://", "https://")):
            return ""
        host = host_of(url)
        if not host:
            return ""
        if host in self.shorteners or registered_domain(host, self.psl) in self.shorteners:
            return "shortener"
        if parse_ip(host):
            return "ip"
        return self.hosting.kind_of(url)

    def _finding(self, att: Attachment) -> Finding | None:
        lures = {u: k for u in pdf_uris(att.data) if (k := self.kind_of(u))}
        if not lures:
            return None
        first, kind = next(iter(lures.items()))
        finding = attachment_finding(
            self,
            att,
            f"{att.path!r} links to {kind} ({host_of(first)})",
            urls=list(lures)[:20],
            kinds=sorted(set(lures.values())),
        )
        urls = tuple(Observable("url", u) for u in list(lures)[:20])
        return dataclasses.replace(finding, observables=finding.observables + urls)

    def detect(self, msg: MailMessage) -> list[Finding]:
        """One finding per PDF attachment with a lure link."""
        found = (
            self._finding(a)
            for a in msg.attachments
            if a.true_type == "pdf" or a.data[:5] == b"%PDF-"
        )
        return [f for f in found if f is not None]
