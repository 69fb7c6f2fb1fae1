"""A scanner's domain history (``DomainHistory``) kept current: what it scans is added
at once, and what other scanners stored is merged in now and then. I/O stays here, at
the edge; the detector only reads the history."""

from __future__ import annotations

import time
from dataclasses import dataclass

from floodwall.detect.mail.domains import SuffixList
from floodwall.enrich.domain_history import DomainHistory, message_domains
from floodwall.records import MailMessage
from floodwall.store.db import Store
from floodwall.store.mail_domains import MailDomainStore

#: Seconds between two looks at the store for other scanners' sightings.
REFRESH_SECONDS = 60.0
#: A refresh also re-reads this much before the last one: sightings written late (a
#: slow transaction) are not missed.
OVERLAP_SECONDS = 300.0


@dataclass
class DomainFeed:
    """The history of one scanner, and the store it is refreshed from."""

    history: DomainHistory
    store: MailDomainStore
    psl: SuffixList
    refreshed: float

    @classmethod
    def open(cls, store: Store, psl: SuffixList) -> DomainFeed:
        """The history as stored now."""
        domains = MailDomainStore(store)
        return cls(domains.load(), domains, psl, time.time())

    def refresh(self, now: float) -> None:
        """Merge other scanners' sightings, at most every ``REFRESH_SECONDS``."""
        if now - self.refreshed >= REFRESH_SECONDS:
            self.history.merge(self.store.first_seen_since(self.refreshed - OVERLAP_SECONDS))
            self.refreshed = now

    def saw(self, msg: MailMessage, now: float) -> list[str]:
        """Add a scanned message's domains to the history; returns them (for the store)."""
        domains = message_domains(msg, self.psl)
        self.history.observe(domains, now)
        return domains
