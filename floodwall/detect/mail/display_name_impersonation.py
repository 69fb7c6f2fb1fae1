"""A From display name that claims someone the address does not belong to."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import ClassVar

from floodwall.detect.mail.domains import SuffixList, domain_of, label_of, registered_domain
from floodwall.detect.mail.findings import detector_finding
from floodwall.detect.mail.reference import Brands, brand_names
from floodwall.records import Finding, MailMessage, Observable, Severity

# An address written inside the display name (RFC 5322 §3.4 phrase).
_ADDRESS = re.compile(r"[\w.+-]+@([a-z0-9-]+(?:\.[a-z0-9-]+)+)", re.I)


class DisplayNameImpersonationDetector:
    """The From display name names an executive, a brand or another address than its own.

    ``"PayPal" <x@evil.tld>``, ``"ceo@company.com" <x@gmail.com>`` and ``"Jane Doe (CEO)"``
    from outside the organisation: most clients show only the display name (RFC 5322
    §3.4), so it is the cheapest way to impersonate a sender.
    """

    id: ClassVar[str] = "mail.display_name_impersonation"
    title: ClassVar[str] = "Display name impersonates another sender"
    severity: ClassVar[Severity] = Severity.MEDIUM
    attack: ClassVar[tuple[str, ...]] = ("T1566", "T1656")

    def __init__(
        self,
        psl: SuffixList,
        brands: Brands,
        executives: Iterable[str] = (),
        own_domains: Iterable[str] = (),
    ) -> None:
        """``executives``: names to protect; ``own_domains``: where they really write from."""
        self.psl = psl
        self.brands = brands
        self.own = frozenset(registered_domain(d, psl) for d in own_domains)
        words = [re.escape(w) for w in brand_names(brands)]
        self.brand_re = re.compile(r"\b(" + "|".join(words) + r")\b") if words else None
        names = [r"\s+".join(map(re.escape, n.lower().split())) for n in executives if n.strip()]
        self.exec_re = re.compile(r"\b(" + "|".join(names) + r")\b") if names else None

    def _claim(self, name: str, sender: str) -> tuple[str, str] | None:
        """What the display name claims that the From domain does not back: (kind, value)."""
        if self.exec_re and sender not in self.own and (m := self.exec_re.search(name)):
            return "executive", m.group(1)
        for m in _ADDRESS.finditer(name):
            claimed = registered_domain(m.group(1), self.psl)
            if self.psl.publicsuffix(claimed, accept_unknown=False) and claimed != sender:
                return "address", m.group(0)
        if self.brand_re:
            sender_label = label_of(sender, self.psl)
            for m in self.brand_re.finditer(name):
                brand = m.group(1)
                own = sender in self.brands.domains[brand] or sender_label == brand
                sibling = brand in sender_label and sender in self.brands.known
                if not own and not sibling:
                    return "brand", brand
        return None

    def detect(self, msg: MailMessage) -> list[Finding]:
        """At most one finding: the first claim the From address does not back."""
        sender = registered_domain(domain_of(msg.from_addr), self.psl)
        name = msg.from_name.strip().lower()
        claim = self._claim(name, sender) if sender and name else None
        if claim is None:
            return []
        kind, value = claim
        return [
            detector_finding(
                self,
                {
                    "reason": f"display name {msg.from_name!r} claims {kind} {value!r} "
                    f"but the address is {msg.from_addr}",
                    "kind": kind,
                    "claimed": value,
                    "from_name": msg.from_name,
                    "from": msg.from_addr,
                },
                (Observable("email", msg.from_addr), Observable("domain", sender)),
            )
        ]
