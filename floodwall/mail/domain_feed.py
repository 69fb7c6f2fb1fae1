"""A scanner's domain history (``DomainHistory``) kept current: what it scans is added
at once and written to the store in batches, and what other scanners stored is merged
in now and then. I/O stays here, at the edge; the detector only reads the history."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field

from floodwall.detect.mail.domains import SuffixList, message_domains
from floodwall.enrich.domain_history import DomainHistory
from floodwall.records import MailMessage
from floodwall.store.db import Store
from floodwall.store.mail_domains import MailDomainStore

log = logging.getLogger(__name__)

#: Seconds between two writes of this scanner's sightings (a gateway worker's).
FLUSH_SECONDS = 10.0
#: Seconds between two looks at the store for other scanners' sightings.
REFRESH_SECONDS = 60.0
#: A refresh also re-reads this much before the last one: sightings written late (a
#: slow transaction, a worker's unflushed batch) are not missed.
OVERLAP_SECONDS = 300.0
#: Sightings kept for a write that failed (the store busy): the oldest go past this.
MAX_PENDING = 100_000


@dataclass
class DomainFeed:
    """The history of one scanner, the store it is kept in, and what is not yet written."""

    history: DomainHistory
    store: MailDomainStore
    psl: SuffixList
    refreshed: float
    flushed: float
    pending: list[tuple[list[str], float]] = field(default_factory=list)

    @classmethod
    def open(cls, store: Store, psl: SuffixList, now: float) -> DomainFeed:
        """The history as stored now."""
        domains = MailDomainStore(store)
        return cls(domains.load(), domains, psl, now, now)

    def saw(self, msg: MailMessage, now: float) -> None:
        """Add a scanned message's domains to the history at once (the next message of
        a campaign finds them seen), and to the sightings to write."""
        domains = message_domains(msg, self.psl)
        self.history.observe(domains, now)
        if domains:
            self.pending.append((domains, now))
            del self.pending[:-MAX_PENDING]

    def flush(self) -> None:
        """Write the pending sightings. A busy or failing store keeps them for the next
        time: the history is a help to detection, never a reason to fail a scan."""
        if not self.pending:
            return
        try:
            self.store.observe(self.pending)
        except sqlite3.Error as exc:
            log.warning("domain history: %d sightings not written yet (%s)", len(self.pending), exc)
            return
        self.pending.clear()

    def tick(self, now: float) -> None:
        """A long-running scanner's upkeep between messages: write every
        ``FLUSH_SECONDS``, merge others' sightings every ``REFRESH_SECONDS``."""
        if now - self.flushed >= FLUSH_SECONDS:
            self.flush()
            self.flushed = now
        if now - self.refreshed >= REFRESH_SECONDS:
            self.history.merge(self.store.first_seen_since(self.refreshed - OVERLAP_SECONDS))
            self.refreshed = now
