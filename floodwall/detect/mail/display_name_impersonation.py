"""A From display name that claims someone the address does not belong to."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable
from typing import ClassVar

from floodwall.detect.mail.domains import (
    SuffixList,
    domain_of,
    host_of,
    label_of,
    registered_domain,
)
from floodwall.detect.mail.findings import detector_finding
from floodwall.detect.mail.reference import Brands, brand_names
from floodwall.records import Finding, MailMessage, Observable, Severity

# An address written inside the display name (RFC 5322 §3.4 phrase).
_ADDRESS = re.compile(r"[\w.+-]+@([a-z0-9-]+(?:\.[a-z0-9-]+)+)", re.I)
# A capital I between small letters passes for an l in most sans-serif fonts ("WaIIet",
# "PaypaI"): the oldest ASCII homoglyph (UTS #39 confusables list I and l as one skeleton).
_CAPITAL_I_AS_L = re.compile(r"(?<=[a-z])I+(?=[a-z])|(?<=[a-z])I\b")
# CamelCase joins ("CoinbaseWallet") and apostrophes ("Sam's Club") hide word boundaries.
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_NON_WORD = re.compile(r"[^a-z0-9]+")
# Names by which a display name speaks for a government (after name_terms: "Federal Court"
# is ``federalcourt``); "ministry", "treasury" and "government" are left out, as churches,
# companies' treasuries and trade newsletters use them honestly. And the labels under
# which governments register their domains (irs.gov, gov.uk, gouv.fr, gob.mx, go.jp).
_GOVERNMENT_TERMS = frozenset(
    {"irs", "hmrc", "federalcourt", "receitafederal", "socialsecurity", "ministerium", "ministere"}
)
_GOVERNMENT_LABELS = frozenset({"gov", "gouv", "gob", "go", "govt", "gv", "mil", "gub"})
# Images, frames and scripts a message loads (HTML src and background attributes).
_RESOURCE = re.compile(r"""\b(?:src|background)\s*=\s*["']?(https?://[^"'\s>]{1,2048})""", re.I)
MIN_BRAND_RESOURCES = 10
MAX_HTML = 1_000_000  # resources past the first megabyte of HTML are not counted
_SPACED = re.compile(r"(?<!\S)[a-z](?: [a-z]){2,}(?!\S)")
_APOSTROPHES = str.maketrans("", "", "'\u2019`\u00b4")


def name_words(name: str) -> list[str]:
    """The words of a display name as a reader sees them: lowercase, without accents, with
    CamelCase and underscores split and a capital I between small letters read as l."""
    if not name.isascii():  # "Serviço" -> "Servico" (NFKD, combining marks dropped)
        name = "".join(
            c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)
        )
    name = _CAMEL.sub(" ", _CAPITAL_I_AS_L.sub(lambda m: "l" * len(m.group(0)), name))
    return [w for w in _NON_WORD.split(name.translate(_APOSTROPHES).lower()) if w]


def name_terms(words: list[str]) -> set[str]:
    """Each word and each run of two or three adjacent words written together, so that
    "Bank of America" and "Liberty_Mutual" meet the brand labels ``bankofamerica`` and
    ``libertymutual``."""
    terms = {"".join(words[i : i + n]) for n in (1, 2, 3) for i in range(len(words) - n + 1)}
    # Letters spaced apart to slip past word filters ("T E M U", "D H L") read as a word.
    terms.update(run.replace(" ", "") for run in _SPACED.findall(" ".join(words)))
    return terms


class DisplayNameImpersonationDetector:
    """The From display name names an executive, a brand, a government or another address
    than its own.

    ``"PayPal" <x@evil.tld>``, ``"ceo@company.com" <x@gmail.com>`` and ``"Jane Doe (CEO)"``
    from outside the organisation, ``"IRS.GOVERNMENT"`` from outside a government domain:
    most clients show only the display name (RFC 5322 §3.4), so it is the cheapest way to
    impersonate a sender.
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
        self.brand_set = frozenset(brand_names(brands))
        names = [r"\s+".join(map(re.escape, n.lower().split())) for n in executives if n.strip()]
        self.exec_re = re.compile(r"\b(" + "|".join(names) + r")\b") if names else None

    def _claim(self, msg: MailMessage, sender: str) -> tuple[str, str] | None:
        """What the display name claims that the From domain does not back: (kind, value)."""
        name = msg.from_name.strip().lower()
        if self.exec_re and sender not in self.own and (m := self.exec_re.search(name)):
            return "executive", m.group(1)
        for m in _ADDRESS.finditer(name):
            claimed = registered_domain(m.group(1), self.psl)
            if (
                self.psl.publicsuffix(claimed, accept_unknown=False)
                and claimed != sender
                and not self._sends_to(msg, frozenset((claimed,)))
            ):
                return "address", m.group(0)
        terms = name_terms(name_words(msg.from_name))
        host_labels = set(domain_of(msg.from_addr).split("."))
        if (gov := sorted(terms & _GOVERNMENT_TERMS)) and not host_labels & _GOVERNMENT_LABELS:
            return "government", gov[0]
        sender_label = label_of(sender, self.psl)
        # A sender that names itself ("Lockergnome Apple Core" from lockergnome.com) only
        # uses the brand as a topic; a label shorter than 4 letters is too common a word.
        if len(sender_label) >= 4 and sender_label in terms:
            return None
        for brand in sorted(terms & self.brand_set):
            own = sender in self.brands.domains[brand] or sender_label == brand
            sibling = brand in sender_label and sender in self.brands.known
            if own or sibling or self._sends_to(msg, self.brands.domains[brand]):
                continue
            if not self._built_by_brand(msg, brand):
                return "brand", brand
        return None

    def _sends_to(self, msg: MailMessage, own: Collection[str]) -> bool:
        """Whether half or more of the message's web links lead to the claimed sender's
        own domains: a brand's newsletter sent through a mailing service, or a sender's
        mail passed on by a forwarding service that names it ("x@shop.com" <fwd@relay>),
        sends its readers to that sender, while an impersonation has to send them
        somewhere else to harvest anything."""
        web = [link.url for link in msg.links if link.url.lower().startswith(("http:", "https:"))]
        to_own = sum(1 for u in web if registered_domain(host_of(u), self.psl) in own)
        return bool(web) and to_own * 2 >= len(web)

    def _built_by_brand(self, msg: MailMessage, brand: str) -> bool:
        """Whether the message is built from the brand's own servers: at least
        ``MIN_BRAND_RESOURCES`` of its images and frames, and half or more of them, load
        from the brand's domains. A brand's newsletter sent from its publisher's domain is
        made that way; a phishing copy hotlinks a logo or two and hosts the rest itself."""
        sources = _RESOURCE.findall(msg.html[:MAX_HTML])
        own = self.brands.domains[brand]
        from_brand = sum(1 for u in sources if registered_domain(host_of(u), self.psl) in own)
        return from_brand >= MIN_BRAND_RESOURCES and from_brand * 2 >= len(sources)

    def detect(self, msg: MailMessage) -> list[Finding]:
        """At most one finding: the first claim the From address does not back."""
        sender = registered_domain(domain_of(msg.from_addr), self.psl)
        claim = self._claim(msg, sender) if sender and msg.from_name.strip() else None
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
