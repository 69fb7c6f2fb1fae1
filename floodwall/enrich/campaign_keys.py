"""Infrastructure keys: what two alerts or messages must share to belong to one campaign.

A key is ``kind:value`` text:
- ``ip:203.0.113.7``: the sending or remote address;
- ``net:203.0.113.0/24`` (IPv6 ``/48``): the network around it, where one operator
  usually rents neighbouring addresses (RIPE-690 §2: /48 is the smallest IPv6 site);
- ``asn:64500``: the network's AS, except for hosting and cloud giants;
- ``dom:example.net``: a sender or link domain, as its registered domain (Public Suffix
  List, https://publicsuffix.org/), except the well-known sites of the top-sites list;
- ``hash:<sha256>``: an attachment or file hash;
- ``c2:<value>``: an address or domain that threat intel names, or that a host called out to.

Why some keys are never made: a Gmail or Microsoft 365 sender sits in AS15169 or
AS8075 and in the same /24s as millions of others, and most phishing mail links to
``microsoft.com`` as decoy; such keys would chain unrelated attacks into one
"campaign". The hosting ASN list (``data/reference/hosting_asns.txt``, editable) and
the top-sites list decide it; what slips through is caught by the per-key cap in
``enrich/campaigns.py``.

Pure functions: the lists come in through ``CampaignKeyer``'s constructor.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from floodwall.detect.mail.domains import (
    SuffixList,
    ascii_host,
    domain_of,
    host_of,
    registered_domain,
)
from floodwall.enrich.addresses import as_public_ip
from floodwall.records import MailMessage, Observable

if TYPE_CHECKING:
    from floodwall.settings import Settings

__all__ = [
    "FUZZY_MIN_SIZE",
    "CampaignKeyer",
    "FuzzyHash",
    "MessageKeys",
    "load_campaign_keyer",
    "merge_keys",
    "network_of",
]

#: TLSH needs some content to say anything (its authors ask for at least 50 bytes;
#: below a few hundred, unrelated small files come out close).
FUZZY_MIN_SIZE = 256
_ADDR = re.compile(r"[\w.+-]+@([a-z0-9-]+(?:\.[a-z0-9-]+)+)", re.IGNORECASE)
_HASH_KINDS = frozenset({"sha256", "sha1", "md5"})
_CACHE_SIZE = 200_000  # addresses remembered by address_keys
#: A fuzzy hash function: content in, a digest (or "" when it has none) out.
FuzzyHash = Callable[[bytes], str]


def network_of(ip: str) -> str:
    """``ip``'s /24 (IPv4) or /48 (IPv6) network, as text."""
    head, dot, last = ip.rpartition(".")
    if dot and ":" not in ip and last.isdigit() and head.count(".") == 2:
        return f"{head}.0/24"  # a dotted quad as as_public_ip writes it (10x ipaddress)
    addr = ipaddress.ip_address(ip)
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


@dataclass(frozen=True, slots=True)
class MessageKeys:
    """What a message's content ties it to: keys, attachment TLSH digests, recipients."""

    keys: tuple[str, ...]
    fuzzy: tuple[str, ...]
    recipients: tuple[str, ...]


class CampaignKeyer:
    """Turns addresses, domains, hashes and observables into campaign keys."""

    def __init__(
        self,
        psl: SuffixList,
        *,
        common_domains: Iterable[str] = (),
        hosting_asns: Iterable[int] = (),
    ) -> None:
        """``common_domains``: registered domains too widely used to tie anything
        (top sites, freemail); ``hosting_asns``: networks anyone can rent in."""
        self._psl = psl
        self._common = frozenset(common_domains)
        self._hosting = frozenset(hosting_asns)
        self._seen: dict[tuple[str | None, int | None, bool], tuple[str, ...]] = {}

    def address_keys(
        self, ip: str | None, asn: int | None, *, is_checked: bool = False
    ) -> list[str]:
        """``ip:``, ``net:`` and ``asn:`` keys of a remote address (public ones only).

        ``is_checked``: ``ip`` was already chosen by ``as_public_ip`` (the store's
        ``source_ip`` columns, see enrich/context.py), so it is not parsed again.
        """
        # Attack sources repeat (that is the point): work out each address once.
        cached = self._seen.get((ip, asn, is_checked))
        if cached is None:
            if len(self._seen) >= _CACHE_SIZE:
                self._seen.clear()
            keys = self._address_keys(ip, asn, is_checked)
            cached = self._seen[(ip, asn, is_checked)] = tuple(keys)
        return list(cached)

    def _address_keys(self, ip: str | None, asn: int | None, is_checked: bool) -> list[str]:
        public = (ip if is_checked else as_public_ip(ip)) if ip else None
        out: list[str] = []
        if public:
            out.append(f"ip:{public}")
        hosted = asn is not None and asn in self._hosting
        if public and not hosted:
            out.append(f"net:{network_of(public)}")
        if asn and not hosted:
            out.append(f"asn:{asn}")
        return out

    def domain_key(self, host: str) -> str | None:
        """``dom:<registered domain>``, or None for IPs, bare suffixes and common sites."""
        host = ascii_host(host)
        if not host or as_public_ip(host) or "." not in host:
            return None
        # None for a bare public suffix, and for a name under no known suffix (a local
        # name or a typo, not infrastructure anyone registered).
        domain = self._psl.privatesuffix(host, accept_unknown=False)
        if not domain or domain in self._common:
            return None
        return f"dom:{domain}"

    def observable_keys(self, observables: Iterable[Observable], *, is_intel: bool) -> list[str]:
        """Keys of a finding's observables; an intel hit's values are C2 keys too."""
        out: list[str] = []
        for obs in observables:
            kind, value = obs.kind, obs.value
            if kind in _HASH_KINDS and value:
                out.append(f"hash:{value.lower()}")
                continue
            if kind == "ip":
                public = as_public_ip(value)
                if public:
                    out.append(f"ip:{public}")
                    if is_intel:
                        out.append(f"c2:{public}")
                continue
            host = (
                host_of(value) if kind == "url" else domain_of(value) if kind == "email" else value
            )
            key = self.domain_key(host) if kind in ("url", "domain", "email") else None
            if key:
                out.append(key)
                if is_intel:
                    out.append(f"c2:{key[4:]}")
        return out

    def message_keys(self, msg: MailMessage, fuzzy_hash: FuzzyHash | None = None) -> MessageKeys:
        """Keys of a message's content: sender and link domains, attachment hashes, and
        the TLSH digest of each attachment of at least ``FUZZY_MIN_SIZE`` bytes."""
        keys: list[str] = []
        # A From that does not parse (RFC 5322 3.4) still names its domain to a reader;
        # attackers malform it on purpose, so the raw header is read too.
        raw_from = [m.group(1) for v in msg.header("from")[:4] for m in _ADDR.finditer(v[:2000])]
        for domain in (domain_of(msg.from_addr), domain_of(msg.return_path), *raw_from):
            key = self.domain_key(domain)
            if key:
                keys.append(key)
        for link in msg.links:
            key = self.domain_key(host_of(link.url))
            if key:
                keys.append(key)
            else:
                public = as_public_ip(host_of(link.url))
                if public:
                    keys.append(f"ip:{public}")
        digests: list[str] = []
        for att in msg.attachments:
            if att.sha256:
                keys.append(f"hash:{att.sha256.lower()}")
            if fuzzy_hash is not None and len(att.data) >= FUZZY_MIN_SIZE:
                digest = fuzzy_hash(att.data)
                if digest:
                    digests.append(digest)
        return MessageKeys(_unique(keys), _unique(digests), _unique(a.lower() for a in msg.to))


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def merge_keys(*groups: Sequence[str]) -> tuple[str, ...]:
    """All keys of ``groups``, each once, in first-seen order."""
    return _unique(k for g in groups for k in g)


def load_campaign_keyer(settings: Settings | None = None) -> CampaignKeyer:
    """The keyer with the bundled Public Suffix List, the Tranco top 10k and Moz top
    500 as common domains, and the hosting ASN list (the user's copy if they wrote one)."""
    import csv

    from floodwall.detect.mail.reference import REFERENCE, load_psl
    from floodwall.enrich.origin import default_hosting_asns_path, read_hosting_asns

    psl = load_psl()
    folder = REFERENCE / "top_sites"
    names = [
        s
        for line in (folder / "tranco_top10k_unranked.txt").read_text("utf-8").splitlines()
        if (s := line.partition("#")[0].strip())
    ]
    with (folder / "moz_top500_ranked.csv").open(encoding="utf-8", newline="") as fh:
        names += [row["domain"] for row in csv.DictReader(fh)]
    common = {registered_domain(n, psl) for n in names}
    hosting = read_hosting_asns(default_hosting_asns_path(settings))
    return CampaignKeyer(psl, common_domains=common, hosting_asns=hosting)
