"""When this organisation's mail first named each registered domain: the history behind
``mail.newly_seen_domain``.

A phishing campaign's landing pages sit on domains registered days before it is sent,
and nothing the organisation ever received linked to them; the sites its correspondents
and suppliers link to come back again and again. Like a "newly observed domain" feed,
but built from the organisation's own mail, offline: the history is the ``mail_domains``
table (``floodwall/store/mail_domains.py``), loaded at the edge and handed to the
detector. The scanner adds each message's domains (``message_domains`` in
``detect/mail/domains.py``) as it goes, so the second message of a campaign finds the
first one's domains already "seen minutes ago" (``floodwall/mail/domain_feed.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

#: Domains kept in memory at most (the most recently seen when the store holds more).
MAX_DOMAINS = 2_000_000


class DomainHistory:
    """First sightings by registered domain, in Unix seconds, and since when the history
    runs. Mutable per-run state: the scanner adds what it sees (``observe``) and merges
    what other scanners stored (``merge``)."""

    def __init__(self, first_seen: Mapping[str, float] | None = None, since: float | None = None):
        self._first: dict[str, float] = dict(first_seen or {})
        self.since = since if since is not None else min(self._first.values(), default=None)

    def __len__(self) -> int:
        return len(self._first)

    def first_seen(self, domain: str) -> float | None:
        """When ``domain`` was first seen, None if never."""
        return self._first.get(domain)

    def observe(self, domains: Iterable[str], when: float) -> None:
        """Record domains seen at ``when``: a first sighting is kept, never moved later."""
        first = self._first
        for d in domains:
            if d not in first and len(first) < MAX_DOMAINS:
                first[d] = when
        if self.since is None or when < self.since:
            self.since = when

    def merge(self, first_seen: Mapping[str, float]) -> None:
        """Take other scanners' sightings: the earlier of two first sightings wins."""
        for d, t in first_seen.items():
            mine = self._first.get(d)
            is_new = mine is None and len(self._first) < MAX_DOMAINS
            if is_new or (mine is not None and t < mine):
                self._first[d] = t
            if self.since is None or t < self.since:
                self.since = t

    def learned_for(self, now: float) -> float:
        """Seconds of history before ``now`` (0 when there is none)."""
        return 0.0 if self.since is None else max(0.0, now - self.since)

    def has_baseline(self, seconds: float, now: float) -> bool:
        """Whether the history covers ``seconds`` before ``now``: until it does, every
        domain is new to it, and nothing can be called newly seen."""
        return self.learned_for(now) >= seconds
