"""Sender and link domains that imitate a protected domain or a well-known brand."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import ClassVar

from floodwall.detect.mail.confusables import skeleton
from floodwall.detect.mail.domains import (
    SuffixList,
    domain_of,
    label_of,
    registered_domain,
    unicode_host,
)
from floodwall.detect.mail.findings import DetectorMeta, detector_finding
from floodwall.detect.mail.reference import Brands
from floodwall.records import Finding, MailMessage, Observable, Severity

_TOKENS = re.compile(r"[^a-z]+")
_SEPARATORS = re.compile(r"[.-]")


def _deletes(word: str, depth: int) -> set[str]:
    """``word`` and every string made by deleting up to ``depth`` characters (SymSpell)."""
    out, edge = {word}, {word}
    for _ in range(depth):
        edge = {w[:i] + w[i + 1 :] for w in edge for i in range(len(w))}
        out |= edge
    return out


def _distance(a: str, b: str) -> int:
    """Optimal string alignment distance: edits, with adjacent swaps counting one."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cost = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, prev2[j - 2] + 1)
            cur.append(cost)
        prev2, prev = prev, cur
    return prev[-1]


class LookalikeDomainDetector:
    """A sender (From, Reply-To) domain that imitates a protected domain or a brand:
    homoglyphs (UTS #39 skeleton), Punycode (RFC 3492) that decodes to one, typos (edit
    distance 1-2), or the brand as a word of a longer name (``paypal-secure-login.com``,
    ``paypal.com.evil.tld``).

    The brand's own registered domains and every well-known site are never flagged.
    Brands need ``min_length`` letters for typos and words; protected domains need four.
    """

    id: ClassVar[str] = "mail.lookalike_domain"
    title: ClassVar[str] = "Lookalike of a protected or well-known domain"
    severity: ClassVar[Severity] = Severity.HIGH
    attack: ClassVar[tuple[str, ...]] = ("T1566", "T1583.001")

    def __init__(
        self, psl: SuffixList, brands: Brands, protected: Iterable[str] = (), min_length: int = 5
    ) -> None:
        """Index every brand label once: by skeleton, by deletion neighbourhood, as a word."""
        self.psl = psl
        own = {d for d in (registered_domain(p, psl) for p in protected) if "." in d}
        own_labels = {label_of(d, psl): d for d in own}
        targets = {k: frozenset({d}) for k, d in own_labels.items()}
        targets |= {k: v for k, v in brands.domains.items() if k not in targets}
        self.targets = targets
        self.safe = brands.known | own | {d for v in targets.values() for d in v}
        self.min_length = min_length
        self.own_labels = frozenset(own_labels)
        self.suffixes = {b: {d[len(b) + 1 :] + "." for d in v} for b, v in targets.items()}
        self.skeletons: dict[str, str] = {}
        self.near: dict[str, set[str]] = {}
        self.words: set[str] = set()
        for brand in targets:
            if len(brand) >= (3 if brand in own_labels else 4):
                self.skeletons[skeleton(brand)] = brand
            if len(brand) >= (4 if brand in own_labels else min_length):
                self.words.add(brand)
            if len(brand) >= (4 if brand in own_labels else min_length) and (
                "-" not in brand or brand in own_labels
            ):
                for d in _deletes(brand.replace("-", ""), 1 if len(brand) < 9 else 2):
                    self.near.setdefault(d, set()).add(brand)
        # Mail names the same hosts again and again (a campaign, a newsletter's tracker);
        # the answer depends on the host alone. Bounded: a hostile message may name many.
        self.check = functools.lru_cache(maxsize=8192)(self._check)  # type: ignore[method-assign]

    def check(self, host: str) -> tuple[str, str] | None:
        """(kind, brand) when ``host`` imitates a brand, else None (remembered per host)."""
        return self._check(host)

    def _check(self, host: str) -> tuple[str, str] | None:
        domain = registered_domain(host, self.psl)
        if not domain or domain in self.safe or "." not in domain:
            return None
        label = label_of(domain, self.psl)
        shown = unicode_host(label)
        brand = self.skeletons.get(skeleton(shown))
        if brand == shown:  # the brand's own label under another suffix (google.com.au)
            return None
        if brand is not None:
            return ("punycode" if label.startswith("xn--") else "homoglyph"), brand
        flat = shown.replace("-", "")
        candidates = {c for d in _deletes(flat, 2) for c in self.near.get(d, ())}
        for cand in sorted(candidates):
            if len(flat) < self.min_length and cand not in self.own_labels:
                continue
            if 0 < _distance(flat, cand.replace("-", "")) <= (1 if len(cand) < 9 else 2):
                return "typo", cand
        for word in _TOKENS.split(shown):
            if word in self.words and word != shown:
                return "brand_word", word
        # "paypal.com.evil.tld", "paypal-com.evil.tld": the brand's whole domain up front.
        tokens = _SEPARATORS.split(unicode_host(host[: -len(domain)]))
        for i, word in enumerate(tokens):
            rest = ".".join(tokens[i + 1 :])
            if word in self.words and any(rest.startswith(x) for x in self.suffixes[word]):
                return "brand_in_subdomain", word
        return None

    def finding(
        self, host: str, where: str, detector: DetectorMeta | None = None
    ) -> Finding | None:
        """The finding for ``host`` seen as ``where`` when it is a lookalike, else None."""
        hit = self.check(host) if host else None
        if hit is None:
            return None
        kind, brand = hit
        real = sorted(self.targets[brand])[:3]
        return detector_finding(
            detector or self,
            {
                "reason": f"{where} domain {unicode_host(host)} imitates "
                f"{', '.join(real)} ({kind})",
                "domain": host,
                "where": where,
                "kind": kind,
                "imitates": real,
            },
            (Observable("domain", host),),
        )

    def detect(self, msg: MailMessage) -> list[Finding]:
        """One finding per lookalike domain among the From and Reply-To addresses (link
        domains are ``LookalikeLinkDetector``'s: a sender address is the stronger claim)."""
        hosts = {domain_of(msg.from_addr): "from"}
        hosts |= {domain_of(a): "reply_to" for a in msg.reply_to if domain_of(a) not in hosts}
        found = (self.finding(host, where) for host, where in hosts.items())
        return [f for f in found if f is not None]
