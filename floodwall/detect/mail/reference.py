"""Loaders for the bundled reference data of the phishing detectors (called once, at the edge).

Detectors do no I/O: the caller loads these once and passes them to the constructors.
The files live in ``floodwall/data/reference/`` with their license notes (README.md).
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from publicsuffixlist import PublicSuffixList

from floodwall.detect.mail.domains import SuffixList, label_of, registered_domain

REFERENCE = Path(__file__).resolve().parents[2] / "data" / "reference"

#: Labels of top sites that are plain words, not brands: a display name or domain
#: containing "news" or "office" says nothing about who sent it.
GENERIC_LABELS = frozenset(
    {
        "about",
        "answers",
        "archive",
        "change",
        "example",
        "express",
        "focus",
        "forms",
        "home",
        "house",
        "insider",
        "list-manage",
        "mail",
        "metro",
        "news",
        "office",
        "offset",
        "safety",
        "standard",
        "storage",
        "stuff",
        "target",
        "time",
        "windows",
        "wired",
        "enable-javascript",
        "over-blog",
        "variety",
        "nature",
        "medium",
        "mirror",
        "impress",
        "scoop",
        "live",
        "line",
        "goal",
        "opera",
        "terra",
        "independent",
        "guardian",
        "fortune",
    }
)

#: Brands phished often but absent from the Moz top 500; used only when their domain is
#: in the bundled Tranco top 10k (so the brand's own domains are known).
PHISHED_BRANDS = (
    "dhl",
    "docusign",
    "chase",
    "wellsfargo",
    "bankofamerica",
    "americanexpress",
    "usps",
    "fedex",
    "coinbase",
    "binance",
    "steamcommunity",
    "roblox",
    "intuit",
    "citibank",
    "sharepoint",
    "onedrive",
    "office365",
    "mastercard",
    "visa",
    "hsbc",
    "barclays",
    "santander",
    # Consumer brands named in the phishing of 2022-2026 (security suites, streaming,
    # retail, telecoms, banks, travel); plain words ("target", "delta") stay out.
    "norton",
    "mcafee",
    "netflix",
    "metamask",
    "bradesco",
    "correios",
    "nubank",
    "costco",
    "hilton",
    "verizon",
    "xfinity",
    "comcast",
    "walmart",
    "geico",
    "statefarm",
    "allstate",
    "homedepot",
    "bestbuy",
    "walgreens",
    "sephora",
    "aliexpress",
    "wayfair",
    "airbnb",
    "expedia",
    "marriott",
    "lufthansa",
    # Cryptocurrency wallets, exchanges and NFT markets: their customers' seed phrases and
    # accounts are a prime target of the phishing kits of 2023-2026; and more retail,
    # security-suite and brokerage brands of the same lures.
    "ledger",
    "trezor",
    "kraken",
    "opensea",
    "uniswap",
    "pancakeswap",
    "ripple",
    "totalav",
    "samsclub",
    "starbucks",
    "fidelity",
)


@dataclass(frozen=True, slots=True)
class Brands:
    """Well-known brands: each brand label with its own registered domains, and the
    registered domains of all well-known sites (which are never lookalikes)."""

    domains: Mapping[str, frozenset[str]] = field(default_factory=dict)
    known: frozenset[str] = frozenset()


def load_psl(path: Path | None = None) -> PublicSuffixList:
    """The bundled Public Suffix List (MPL-2.0), ICANN and private sections; the bundled
    one is read once per process (35 ms), and its one object keeps ``registered_domain``'s
    memo, keyed by the list, shared by the detectors, the domain history and DMARC."""
    if path is None:
        return _bundled_psl()
    with path.open("rb") as fh:
        return PublicSuffixList(fh)


@functools.cache
def _bundled_psl() -> PublicSuffixList:
    with (REFERENCE / "public_suffix_list.dat").open("rb") as fh:
        return PublicSuffixList(fh)


def _lines(path: Path) -> list[str]:
    """Non-empty lines of a text file, without ``#`` comments."""
    text = path.read_text("utf-8")
    return [s for line in text.splitlines() if (s := line.partition("#")[0].strip())]


class Redirector(NamedTuple):
    """One line of ``redirectors.txt``: host, path prefix and where the target is written."""

    host: str
    path: str
    decoder: str  # param | path | bing | goog | proofpoint
    names: tuple[str, ...] = ()
    wrapper: bool = False  # a gateway's link rewriter: followed, never reported


def load_redirectors(path: Path | None = None) -> tuple[Redirector, ...]:
    """The bundled list (``floodwall/data/reference/redirectors.txt``), read at the edge."""
    out, wrapper = [], False
    for line in _lines(path or REFERENCE / "redirectors.txt"):
        wrapper = line == "[wrapper]" if line.startswith("[") else wrapper
        if not line.startswith("["):
            host, prefix, spec = line.split()
            decoder, _, names = spec.partition("=")
            args = tuple(filter(None, names.split(",")))
            out.append(Redirector(host.lower(), prefix.lower(), decoder, args, wrapper))
    return tuple(out)


def load_brands(psl: SuffixList, folder: Path | None = None) -> Brands:
    """Brands from the Moz top 500 (plus ``PHISHED_BRANDS``), known sites from the Tranco and
    Majestic top 10k (a site on either list is never a lookalike)."""
    folder = folder or REFERENCE / "top_sites"
    with (folder / "moz_top500_ranked.csv").open(encoding="utf-8", newline="") as fh:
        moz = [registered_domain(row["domain"], psl) for row in csv.DictReader(fh)]
    tranco = [registered_domain(d, psl) for d in _lines(folder / "tranco_top10k_unranked.txt")]
    majestic_file = folder / "majestic_top10k_unranked.txt"
    majestic = (
        [registered_domain(d, psl) for d in _lines(majestic_file)]
        if majestic_file.is_file()
        else []
    )
    listed = load_phished_brands(psl, folder.parent / "phished_brands.txt")
    official = {d for v in listed.values() for d in v}
    known = frozenset(d for d in [*moz, *tranco, *majestic, *official] if "." in d)
    wanted = {label_of(d, psl) for d in moz if "." in d} | set(PHISHED_BRANDS)
    by_label: dict[str, set[str]] = {}
    for domain in known:
        label = label_of(domain, psl)
        if label in wanted and label not in GENERIC_LABELS:
            by_label.setdefault(label, set()).add(domain)
    for label, domains in listed.items():
        by_label.setdefault(label, set()).update(domains)
    return Brands({k: frozenset(v) for k, v in by_label.items()}, known)


def load_phished_brands(psl: SuffixList, path: Path | None = None) -> dict[str, frozenset[str]]:
    """Brand label -> official registered domains, from ``phished_brands.txt`` (absent: none)."""
    path = path or REFERENCE / "phished_brands.txt"
    if not path.is_file():
        return {}
    out: dict[str, frozenset[str]] = {}
    for line in _lines(path):
        label, *domains = line.lower().split()
        if domains:
            out[label] = frozenset(registered_domain(d, psl) for d in domains)
    return out


def load_brands_cached(psl: SuffixList, cache_dir: Path, folder: Path | None = None) -> Brands:
    """``load_brands`` with the bundled suffix list, kept as JSON in ``cache_dir``.

    Building it looks up ~20,000 domains in the suffix list (~0.12 CPU-s, paid by every
    ``mail scan`` run); the cache is keyed by the bytes of every input file, so an
    updated list is rebuilt. A missing or damaged cache only means building again.
    """
    folder = folder or REFERENCE / "top_sites"
    digest = hashlib.sha256(b"brands-1\0" + ",".join(sorted(PHISHED_BRANDS)).encode())
    digest.update(",".join(sorted(GENERIC_LABELS)).encode())
    extra = (REFERENCE / "public_suffix_list.dat", folder.parent / "phished_brands.txt")
    for source in (*extra, *sorted(folder.glob("*"))):
        if source.is_file():
            digest.update(
                source.name.encode() + b"\0" + hashlib.sha256(source.read_bytes()).digest()
            )
    cache = cache_dir / f"brands-{digest.hexdigest()[:32]}.json"
    try:
        doc = json.loads(cache.read_text("utf-8"))
        return Brands(
            {str(k): frozenset(map(str, v)) for k, v in doc["domains"].items()},
            frozenset(map(str, doc["known"])),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    brands = load_brands(psl, folder)
    doc = {
        "domains": {k: sorted(v) for k, v in brands.domains.items()},
        "known": sorted(brands.known),
    }
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=cache_dir, delete=False, encoding="utf-8") as fh:
            json.dump(doc, fh)
        os.replace(fh.name, cache)
    except OSError:
        pass  # an unwritable cache only costs the next run a rebuild
    return brands


def load_shorteners(path: Path | None = None) -> frozenset[str]:
    """Registered domains (or hosts) of URL shorteners, from ``shorteners.txt``."""
    return frozenset(d.lower() for d in _lines(path or REFERENCE / "shorteners.txt"))


def load_freemail(path: Path | None = None) -> frozenset[str]:
    """Registered domains of free mailbox providers, from ``freemail.txt``."""
    return frozenset(d.lower() for d in _lines(path or REFERENCE / "freemail.txt"))


def load_free_hosting(path: Path | None = None) -> dict[str, str]:
    """Free hosting host suffixes (or ``host/path`` prefixes) with their kind (``storage``,
    ``pages``, ``forms`` ...), from ``free_hosting.txt``."""
    out: dict[str, str] = {}
    kind = "other"
    for line in _lines(path or REFERENCE / "free_hosting.txt"):
        if line.startswith("[") and line.endswith("]"):
            kind = line[1:-1].strip()
        else:
            out[line.lower()] = kind
    return out


def load_phrases(path: Path | None = None) -> dict[str, tuple[str, ...]]:
    """Phishing phrases by category (``[credential]``, ``[urgency]`` ...) from the bundled file."""
    out: dict[str, list[str]] = {}
    category = "other"
    for line in _lines(path or REFERENCE / "phishing_phrases.txt"):
        if line.startswith("[") and line.endswith("]"):
            category = line[1:-1].strip()
        else:
            out.setdefault(category, []).append(line.lower())
    return {k: tuple(v) for k, v in out.items()}


#: Brand labels shorter than five letters that are no word of a common language, so a
#: display name naming them names the brand ("DHL Delivery", "D P D Versand").
SHORT_BRANDS = frozenset({"dhl", "usps", "ebay", "hsbc", "amex", "dpd", "evri", "itau", "bbva"})


def brand_names(brands: Brands, min_length: int = 5) -> tuple[str, ...]:
    """Brand labels to look for in display names: long enough (``paypal``, ``microsoft``)
    or listed in ``SHORT_BRANDS``."""
    return tuple(sorted(b for b in brands.domains if len(b) >= min_length or b in SHORT_BRANDS))


def as_domains(values: Iterable[str], psl: SuffixList) -> frozenset[str]:
    """Registered domains of configured domains (the organisation's own, for instance)."""
    return frozenset(registered_domain(v, psl) for v in values if v.strip())
