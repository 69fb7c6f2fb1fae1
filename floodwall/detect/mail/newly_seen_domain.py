"""Links to domains this organisation's mail never named before, or only days ago."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import ClassVar

from floodwall.detect.mail.domains import SuffixList, domain_of, registered_domain, web_link_domains
from floodwall.detect.mail.findings import detector_finding
from floodwall.enrich.domain_history import DomainHistory
from floodwall.records import Finding, MailMessage, Observable, Severity

DAY = 86_400.0
#: Domains named in one finding at most.
MAX_NAMED = 5


def _age(seconds: float) -> str:
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < DAY:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // DAY)} d ago"


class NewlySeenDomainDetector:
    """A web link leads to a domain this organisation's mail had never named, or first
    named less than ``window_days`` ago.

    Phishing sites live on domains registered for the campaign and thrown away after it
    (T1583.001); the sites honest correspondents link to recur in the organisation's
    mail. Well-known sites (the bundled top sites) and the organisation's own domains
    are never new. The history (``DomainHistory``) must first cover ``baseline_days``:
    before that every domain is new to it, and the detector stays silent.
    """

    id: ClassVar[str] = "mail.newly_seen_domain"
    title: ClassVar[str] = "Link to a newly seen domain"
    severity: ClassVar[Severity] = Severity.LOW
    attack: ClassVar[tuple[str, ...]] = ("T1566.002", "T1583.001")

    def __init__(
        self,
        psl: SuffixList,
        history: DomainHistory,
        popular: frozenset[str],
        own_domains: Iterable[str] = (),
        window_days: float = 7.0,
        baseline_days: float = 14.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``popular``: registered domains never counted as new; ``clock``: now, in Unix
        seconds (the scanner's; tests pass their own)."""
        self.psl = psl
        self.history = history
        self.popular = popular
        self.own = frozenset(registered_domain(d, psl) for d in own_domains)
        self.window = window_days * DAY
        self.baseline = baseline_days * DAY
        self.clock = clock

    def detect(self, msg: MailMessage) -> list[Finding]:
        """At most one finding, naming the new domains (the first ``MAX_NAMED``)."""
        now = self.clock()
        if not self.history.has_baseline(self.baseline, now):
            return []
        sender = registered_domain(domain_of(msg.from_addr), self.psl)
        new: list[tuple[str, float | None]] = []
        for domain in web_link_domains(msg, self.psl):
            if domain in self.popular or domain in self.own:
                continue
            first = self.history.first_seen(domain)
            if first is None or now - first < self.window:
                new.append((domain, first))
        if not new:
            return []
        named = ", ".join(
            f"{d} ({'never seen' if t is None else 'first seen ' + _age(now - t)})"
            for d, t in new[:MAX_NAMED]
        )
        more = f" and {len(new) - MAX_NAMED} more" if len(new) > MAX_NAMED else ""
        return [
            detector_finding(
                self,
                {
                    "reason": f"links to domains new to this organisation's mail: {named}{more}",
                    "domains": [d for d, _ in new],
                    "sender_domain": sender,
                },
                tuple(Observable("domain", d) for d, _ in new[:MAX_NAMED]),
            )
        ]
