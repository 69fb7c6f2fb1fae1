"""The in-line intel matcher: observables (IPs, domains, URLs, hashes, addresses) against
up to millions of indicators, at a small share of the hunt's per-event cost.

Built once from ``IndicatorTables`` (no I/O). Lookups:

- IPs: one binary search over disjoint segments of all IP and CIDR indicators
  (``ipindex``); a batch of IPv4 observables is one ``numpy.searchsorted`` call. An address
  inside a CIDR indicator matches it; its neighbour outside does not.
- Domains: dict lookups of the name and each parent (``a.b.evil.com`` -> ``b.evil.com``
  -> ``evil.com``). A parent matches only when it is below a registration boundary: a
  domain indicator that is itself a public suffix (``duckdns.org``) matches only itself.
  A parent of a bad subdomain never matches (``evil.com`` is not ``x.evil.com``).
- URLs: the RFC 3986 normal form (``normalize_url``) in a dict; the URL's host is also
  looked up as a domain or IP.
- Hashes and email addresses: dict lookups of the lowercase value; an address's domain is
  also looked up as a domain.

When a ``WarninglistIndex`` is given, a hit whose observable is on a warninglist is
marked ``suppressed_by`` those lists, and ``match_many`` leaves it out unless asked. It
may be given as a loader instead, called on the first hit: indexing the bundled lists
takes about a second, and most runs have no hit at all.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from floodwall.enrich.intel import ipindex
from floodwall.enrich.intel.indicator import IndicatorType
from floodwall.enrich.intel.normalize import NormalizeError, normalize_ip, normalize_url
from floodwall.enrich.intel.suffixes import PublicSuffixes
from floodwall.enrich.intel.tables import TYPE_CODE, IndicatorTables
from floodwall.enrich.intel.warninglists import WarninglistIndex

_NONE: tuple[int, ...] = ()
_HASH_KINDS = ("md5", "sha1", "sha256", "hash")
_V4 = socket.AF_INET
WarninglistLoader = Callable[[], WarninglistIndex | None]
_HASH_CODES = (TYPE_CODE["md5"], TYPE_CODE["sha1"], TYPE_CODE["sha256"])
#: Indicator types that, hit by an observable of this kind, can only be its own value.
_EXACT_CODES: dict[str, tuple[int, ...]] = {
    "ip": (TYPE_CODE["ip"],),
    "domain": (TYPE_CODE["domain"],),
    "hostname": (TYPE_CODE["domain"],),
    "url": (TYPE_CODE["url"],),
    "email": (TYPE_CODE["email"],),
    **dict.fromkeys(_HASH_KINDS, _HASH_CODES),
}
#: ... unless the value differs (a domain hit may be a parent; an address, a spelling).
_VALUE_CODES = frozenset({TYPE_CODE["domain"]})


@dataclass(frozen=True, slots=True)
class IntelMatch:
    """An observable that an indicator names. ``at`` is its position in a batch."""

    at: int
    kind: str
    observable: str
    indicator: str
    indicator_type: IndicatorType
    sources: tuple[str, ...]
    confidence: int
    suppressed_by: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CompiledIps:
    """The IP part of a matcher, which is what takes time to build (kept by the cache)."""

    v4: ipindex.Segments
    v6: ipindex.SegmentsV6
    shared: tuple[tuple[int, ...], ...]


def compile_ips(tables: IndicatorTables) -> CompiledIps:
    """Segments over every IP and CIDR indicator of ``tables``."""
    v4: tuple[list[int], list[int], list[int]] = ([], [], [])
    v6: tuple[list[int], list[int], list[int]] = ([], [], [])
    codes = (TYPE_CODE["ip"], TYPE_CODE["cidr"])
    rows = np.flatnonzero(np.isin(tables.types, codes)).tolist()
    values = tables.values
    for row in rows:
        parsed = ipindex.parse_range(values[row])
        if parsed is None:
            continue  # not canonical: the store only holds normalized values
        target = v4 if parsed[0] == 4 else v6
        target[0].append(parsed[1])
        target[1].append(parsed[2])
        target[2].append(row)
    multi: dict[tuple[int, ...], int] = {}
    seg4 = ipindex.build_v4(
        np.array(v4[0], np.uint64), np.array(v4[1], np.uint64), np.array(v4[2], np.int64), multi
    )
    seg6 = ipindex.build_v6(*v6, multi)
    return CompiledIps(seg4, seg6, tuple(ipindex.shared_table(multi)))


class IntelMatcher:
    """Matches observables against indicators; see the module docstring."""

    def __init__(
        self,
        tables: IndicatorTables,
        *,
        suffixes: PublicSuffixes | None = None,
        warninglists: WarninglistIndex | WarninglistLoader | None = None,
        compiled: CompiledIps | None = None,
    ) -> None:
        self.tables = tables
        self._warninglists: WarninglistIndex | None = None
        self._warninglist_loader: WarninglistLoader | None = None
        if isinstance(warninglists, WarninglistIndex):
            self._warninglists = warninglists
        else:
            self._warninglist_loader = warninglists
        self.ips = compiled if compiled is not None else compile_ips(tables)
        values = tables.values
        by_type: dict[str, dict[str, int]] = {}
        for name in ("domain", "url", "email", "md5", "sha1", "sha256"):
            rows = np.flatnonzero(tables.types == TYPE_CODE[name]).tolist()
            by_type[name] = {values[r]: r for r in rows}
        self._domains = by_type["domain"]
        self._urls = by_type["url"]
        self._emails = by_type["email"]
        # Hash lengths differ by type, so one dict serves all three.
        self._hashes = {**by_type["md5"], **by_type["sha1"], **by_type["sha256"]}
        self._exact_only = frozenset(
            r for d, r in self._domains.items() if suffixes is not None and suffixes.is_public(d)
        )
        self._by_kind: dict[str, Callable[[str], tuple[int, ...]]] = {
            "domain": self._domain_rows,
            "hostname": self._domain_rows,
            "url": self._url_rows,
            "email": self._email_rows,
            **dict.fromkeys(_HASH_KINDS, self._hash_rows),
        }

    def __len__(self) -> int:
        return len(self.tables)

    # -- rows of the indicators an observable matches -------------------------------

    def _domain_rows(self, value: str) -> tuple[int, ...]:
        name = value.lower().rstrip(".")
        if not name.isascii():
            try:
                name = name.encode("idna").decode("ascii")
            except UnicodeError:
                return _NONE
        get = self._domains.get
        row = get(name)
        found = _NONE if row is None else (row,)
        dot = name.find(".")
        while dot >= 0:
            row = get(name[dot + 1 :])
            if row is not None and row not in self._exact_only:
                found = (*found, row)
            dot = name.find(".", dot + 1)
        return found

    def _host_rows(self, host: str) -> tuple[int, ...]:
        if host.startswith("[") or host.replace(".", "").isdigit():
            return self._ip_rows(host)
        return self._domain_rows(host)

    def _url_rows(self, value: str) -> tuple[int, ...]:
        row = self._urls.get(value)
        try:
            url = normalize_url(value)
        except NormalizeError:
            return _NONE if row is None else (row,)
        if row is None:
            row = self._urls.get(url)
        found = _NONE if row is None else (row,)
        authority = url.partition("://")[2].partition("/")[0].rpartition("@")[2]
        host = authority if authority.startswith("[") else authority.partition(":")[0]
        return found + self._host_rows(host)

    def _hash_rows(self, value: str) -> tuple[int, ...]:
        row = self._hashes.get(value) if value.islower() else self._hashes.get(value.lower())
        return _NONE if row is None else (row,)

    def has_hash(self, value: str) -> bool:
        """True when an indicator names the digest ``value`` (any case): one dict probe,
        for the hunt's hot path (``match`` gives the findings)."""
        return (value if value.islower() else value.lower()) in self._hashes

    def _email_rows(self, value: str) -> tuple[int, ...]:
        address = value.strip().strip("<>").lower()
        row = self._emails.get(address)
        found = _NONE if row is None else (row,)
        domain = address.rpartition("@")[2]
        return found + self._domain_rows(domain) if domain else found

    def _ip_rows(self, value: str) -> tuple[int, ...]:
        try:
            parsed = ipindex.parse_range(normalize_ip(value))
        except NormalizeError:
            return _NONE
        if parsed is None:
            return _NONE
        version, address, _ = parsed
        if version == 4:
            cover = int(ipindex.lookup_v4(self.ips.v4, np.array([address], np.uint64))[0])
        else:
            cover = ipindex.lookup_v6(self.ips.v6, address)
        return ipindex.expand(cover, self.ips.shared)

    # -- matches ------------------------------------------------------------------------

    def _matches(self, at: int, kind: str, value: str, rows: tuple[int, ...]) -> list[IntelMatch]:
        tables = self.tables
        exact = self._is_exact_pending(kind, value, rows)
        suppressed = () if exact else self._suppressed(kind, value)
        return [
            IntelMatch(
                at=at,
                kind=kind,
                observable=value,
                indicator=tables.values[r],
                indicator_type=tables.type_of(r),
                sources=tables.sources_of(r),
                confidence=int(tables.confidence[r]),
                suppressed_by=suppressed,
            )
            for r in dict.fromkeys(rows)
        ]

    def _is_exact_pending(self, kind: str, value: str, rows: tuple[int, ...]) -> bool:
        """True when the lists are not loaded yet and every hit is the observable's own
        value: the import checked that very value against the same lists (a suppressed
        indicator never reaches the matcher), so loading them (about a second) would
        tell nothing new. A CIDR, a parent domain or a URL's host still needs them."""
        if self._warninglist_loader is None:
            return False
        tables, codes = self.tables, _EXACT_CODES.get(kind, ())
        low = value.lower().rstrip(".") if kind in ("domain", "hostname") else value
        for r in rows:
            code = int(tables.types[r])
            if code not in codes:
                return False
            if code in _VALUE_CODES and tables.values[r] != low:
                return False
        return True

    def _suppressed(self, kind: str, value: str) -> tuple[str, ...]:
        if self._warninglists is None and self._warninglist_loader is not None:
            loader, self._warninglist_loader = self._warninglist_loader, None
            self._warninglists = loader()
        if self._warninglists is None:
            return ()
        itype: IndicatorType
        try:
            if kind == "ip":
                itype, value = "ip", normalize_ip(value)
            elif kind in ("domain", "hostname"):
                itype, value = "domain", value.lower().rstrip(".")
            elif kind == "url":
                itype, value = "url", normalize_url(value)
            elif kind == "email":
                itype, value = "email", value.strip().strip("<>").lower()
            elif kind in _HASH_KINDS:
                value = value.lower()
                itype = {32: "md5", 40: "sha1"}.get(len(value), "sha256")  # type: ignore[assignment]
            else:
                return ()
        except NormalizeError:
            return ()
        return self._warninglists.suppressed_by(itype, value)

    def match(self, kind: str, value: str) -> list[IntelMatch]:
        """Indicators that name one observable (``kind``: ip, domain, url, md5, ..., email)."""
        rows = self._ip_rows(value) if kind == "ip" else self._by_kind.get(kind, _no_rows)(value)
        return self._matches(0, kind, value, rows) if rows else []

    def match_ip(self, value: str) -> list[IntelMatch]:
        """Indicators (IPs and CIDRs) that hold the address ``value``."""
        return self.match("ip", value)

    def match_domain(self, value: str) -> list[IntelMatch]:
        """Indicators naming the domain or one of its parents."""
        return self.match("domain", value)

    def match_url(self, value: str) -> list[IntelMatch]:
        """Indicators naming the URL (normalized), or its host."""
        return self.match("url", value)

    def match_hash(self, value: str) -> list[IntelMatch]:
        """Indicators naming the MD5, SHA-1 or SHA-256 digest."""
        return self.match("hash", value)

    def match_email(self, value: str) -> list[IntelMatch]:
        """Indicators naming the address, or its domain."""
        return self.match("email", value)

    def match_many(
        self, observables: Iterable[tuple[str, str]], *, include_suppressed: bool = False
    ) -> list[IntelMatch]:
        """Matches of a batch of ``(kind, value)`` observables; ``at`` gives the position.

        IPv4 addresses of the whole batch take one vectorized search; everything else is
        a few dict lookups each.
        """
        out: list[IntelMatch] = []
        ip_at: list[int] = []
        packed: list[bytes] = []
        by_kind = self._by_kind
        pton = socket.inet_pton
        for at, (kind, value) in enumerate(observables):
            if kind == "ip":
                try:
                    packed.append(pton(_V4, value))
                    ip_at.append(at)
                    continue
                except OSError:
                    rows = self._ip_rows(value)  # IPv6, mapped, or not an address
            else:
                finder = by_kind.get(kind)
                if finder is None:
                    continue
                rows = finder(value)
            if rows:
                out.extend(self._matches(at, kind, value, rows))
        if packed:
            out.extend(self._v4_batch(ip_at, packed, observables))
        if not include_suppressed:
            out = [m for m in out if not m.suppressed_by]
        out.sort(key=_position)
        return out

    def _v4_batch(
        self, ip_at: list[int], packed: list[bytes], observables: Iterable[tuple[str, str]]
    ) -> list[IntelMatch]:
        addresses = np.frombuffer(b"".join(packed), dtype=">u4").astype(np.uint64)
        covers = ipindex.lookup_v4(self.ips.v4, addresses)
        hits = np.flatnonzero(covers != ipindex.NONE)
        if hits.size == 0:
            return []
        seq = observables if isinstance(observables, list | tuple) else None
        out: list[IntelMatch] = []
        for h in hits.tolist():
            at = ip_at[h]
            value = seq[at][1] if seq is not None else socket.inet_ntop(_V4, packed[h])
            rows = ipindex.expand(int(covers[h]), self.ips.shared)
            out.extend(self._matches(at, "ip", value, rows))
        return out


def _position(match: IntelMatch) -> int:
    return match.at


def _no_rows(value: str) -> tuple[int, ...]:
    return _NONE
