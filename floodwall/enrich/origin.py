"""Where a source address comes from: domestic, abroad, internal, obscured or unknown.

The order of the questions matters and is fixed:
1. not an address: ``unknown``;
2. private, loopback, documentation, multicast, reserved or bogon space
   (:mod:`floodwall.enrich.special_ranges`): ``internal``;
3. a known anonymizer: a Tor exit, an open proxy from intel, iCloud Private Relay
   egress, a network of a hosting provider (``hosting_asns.txt``), or VPN egress on the
   MISP warninglists ``vpn-ipv4`` / ``vpn-ipv6``, reasons given in that order:
   ``obscured``. The country of the exit is kept as observed but never taken for the
   attacker's;
4. no country in the RIR data: ``unknown``;
5. no home country configured: ``unknown`` ("no home country configured"), because
   domestic and abroad cannot be told apart;
6. the home country: ``domestic``; any other: ``abroad``.

Floodwall bundles no Tor exit list: none is in the reference data, and lists go stale
within hours. Pass one in (:func:`read_address_list` reads the Tor Project's
``exit-addresses`` file or one address per line).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from floodwall.enrich.geo_build import ANON_FILE, FORMAT, unblob
from floodwall.enrich.geoip import GeoColumns, GeoIPEnricher, default_geo_dir, load_geo_data
from floodwall.enrich.ranges import Entry, RangeTable, network_range, parse_ips
from floodwall.enrich.special_ranges import INTERNAL, SPECIAL_BLOCKS, special_table
from floodwall.enrich.table_cache import load_tables
from floodwall.settings import Settings, bundled_data

#: Warninglists that name one relay service: their reason wins over a hosting provider's.
EXACT_LISTS = frozenset({"icloud-private-relay"})


class OriginClass(StrEnum):
    """The five answers to "where did this come from?"."""

    DOMESTIC = "domestic"
    ABROAD = "abroad"
    INTERNAL = "internal"
    OBSCURED = "obscured"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class SourceOrigin:
    """The origin of one source address, with the reason in a few words.

    (``floodwall.records.Origin`` is where a record was read; this is where an address
    is from.) Country and network are as observed, also for an obscured source.
    """

    ip: str
    origin: OriginClass
    reason: str
    country_code: str = ""
    country_name: str = ""
    asn: int = 0
    as_org: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Plain values (the ``intel lookup --format json`` contract reads these)."""
        return {
            "ip": self.ip,
            "origin": self.origin.value,
            "reason": self.reason,
            "country_code": self.country_code,
            "country_name": self.country_name,
            "asn": self.asn,
            "as_org": self.as_org,
        }


@dataclass(frozen=True)
class AnonymizerData:
    """VPN and relay egress ranges from MISP warninglists; a row's value names its list."""

    table: RangeTable
    list_names: tuple[str, ...]


def load_anonymizers(directory: Path, cache_dir: Path | None = None) -> AnonymizerData:
    """Read ``anonymizers.npz`` (built by :mod:`floodwall.enrich.geo_build`)."""
    arrays = load_tables(directory / ANON_FILE, ("anon",), FORMAT, cache_dir)
    return AnonymizerData(
        RangeTable.from_columns(arrays, "anon"), tuple(unblob(arrays["list_names"]))
    )


def default_hosting_asns_path(settings: Settings | None = None) -> Path:
    """``<data dir>/hosting_asns.txt`` if the user wrote one, else the bundled list."""
    if settings is not None and (settings.data_dir / "hosting_asns.txt").is_file():
        return settings.data_dir / "hosting_asns.txt"
    return bundled_data() / "reference" / "hosting_asns.txt"


def read_hosting_asns(path: Path) -> dict[int, str]:
    """``ASN # organization`` lines (``AS`` prefix allowed); a bad line is a clear error."""
    out: dict[int, str] = {}
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        asn_text, _, org = line.partition("#")
        asn_text = asn_text.strip().upper()
        if not asn_text:
            continue
        asn_text = asn_text.removeprefix("AS")
        if not asn_text.isdigit() or not 0 < int(asn_text) < 2**32:
            raise ValueError(f"{path}:{number}: not an AS number: {line.strip()!r}")
        out[int(asn_text)] = org.strip()
    return out


def read_address_list(path: Path) -> list[str]:
    """Addresses or CIDRs, one per line, ``#`` comments; the Tor Project's
    ``exit-addresses`` format (``ExitAddress 1.2.3.4 <date>``) is read too."""
    out: list[str] = []
    for line in path.read_text("utf-8", errors="replace").splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0] == "ExitAddress":
            out.append(words[1])
        elif len(words) == 1:
            out.append(words[0])
    return out


def _address_table(values: Iterable[str]) -> RangeTable:
    v4: list[Entry] = []
    v6: list[Entry] = []
    for value in values:
        r = network_range(value)
        if r is not None:
            (v4 if r[0] == 4 else v6).append((r[1], r[2], 0))
    return RangeTable.from_entries(v4, v6)


class OriginEnricher:
    """Classifies source addresses as domestic, abroad, internal, obscured or unknown.

    All data comes in through the constructor: the GeoIP enricher, the home country
    (ISO 3166-1 alpha-2, from ``[origin] home_country``), the anonymizer ranges, the
    hosting ASNs, and optional Tor exits and open proxies (addresses or CIDRs).
    """

    name = "origin"

    def __init__(
        self,
        geo: GeoIPEnricher,
        *,
        home_country: str | None,
        anonymizers: AnonymizerData | None = None,
        hosting_asns: Mapping[int, str] | None = None,
        tor_exits: Iterable[str] = (),
        open_proxies: Iterable[str] = (),
    ) -> None:
        self.geo = geo
        self.home_country = (home_country or "").strip().upper()
        if self.home_country and not (len(self.home_country) == 2 and self.home_country.isalpha()):
            raise ValueError(f"home country {home_country!r} is not an ISO 3166 alpha-2 code")
        self.anonymizers = anonymizers
        self.hosting = dict(hosting_asns or {})
        self._hosting_asns = np.array(sorted(self.hosting), dtype=np.uint32)
        self._special = special_table()
        self._tor = _address_table(tor_exits)
        self._proxies = _address_table(open_proxies)

    def classify(self, ip: str) -> SourceOrigin:
        """The origin of one address."""
        return self.classify_many([ip])[0]

    def classify_many(self, ips: Sequence[str]) -> list[SourceOrigin]:
        """The origin of each address, in input order (each distinct value worked once).

        A value that is not an address answers ``unknown``; its ``ip`` is cut to 100
        characters so a hostile value does not travel on in full.
        """
        distinct = list(dict.fromkeys(ips))
        parsed = parse_ips(distinct)
        geo = self.geo.lookup_parsed(parsed)
        valid = np.zeros(len(distinct), dtype=bool)
        valid[parsed.v4_pos] = True
        valid[parsed.v6_pos] = True
        special = self._special.values_of(self._special.lookup_parsed(parsed))
        tor = self._tor.lookup_parsed(parsed) >= 0
        proxy = self._proxies.lookup_parsed(parsed) >= 0
        anon = (
            self.anonymizers.table.values_of(self.anonymizers.table.lookup_parsed(parsed))
            if self.anonymizers is not None
            else np.full(len(distinct), -1, dtype=np.int64)
        )
        hosting = np.isin(geo.asn, self._hosting_asns) & (geo.asn != 0)
        by_value = {
            ip: self._decide(
                i,
                ip,
                geo,
                bool(valid[i]),
                int(special[i]),
                bool(tor[i]),
                bool(proxy[i]),
                int(anon[i]),
                bool(hosting[i]),
            )
            for i, ip in enumerate(distinct)
        }
        return [by_value[ip] for ip in ips]

    def _decide(
        self,
        i: int,
        ip: str,
        geo: GeoColumns,
        valid: bool,
        special: int,
        tor: bool,
        proxy: bool,
        anon: int,
        hosting: bool,
    ) -> SourceOrigin:
        if not valid:
            return SourceOrigin(str(ip)[:100], OriginClass.UNKNOWN, "not an IP address")
        g = geo.record(i, ip)

        def answer(origin: OriginClass, reason: str) -> SourceOrigin:
            return SourceOrigin(ip, origin, reason, g.country_code, g.country_name, g.asn, g.as_org)

        if special >= 0:
            _, klass, why = SPECIAL_BLOCKS[special]
            return answer(OriginClass.INTERNAL if klass == INTERNAL else OriginClass.UNKNOWN, why)
        if tor:
            return answer(OriginClass.OBSCURED, "on the Tor exit list")
        if proxy:
            return answer(OriginClass.OBSCURED, "open proxy (intel)")
        listed = self.anonymizers.list_names[anon] if self.anonymizers and anon >= 0 else ""
        # A relay list names the service exactly; a provider's AS says more than the broad
        # vpn-ipv4 list ("VPN providers and datacenters", 9% of IPv4), so it comes before.
        if listed in EXACT_LISTS:
            return answer(OriginClass.OBSCURED, f"on warninglist {listed}")
        if hosting:
            org = g.as_org or self.hosting.get(g.asn) or "?"
            return answer(OriginClass.OBSCURED, f"AS{g.asn} {org} is a hosting provider")
        if listed:
            return answer(OriginClass.OBSCURED, f"on warninglist {listed}")
        if not g.country_code:
            return answer(OriginClass.UNKNOWN, "no country for this address in the RIR data")
        if not self.home_country:
            return answer(OriginClass.UNKNOWN, "no home country configured")
        if g.country_code == self.home_country:
            return answer(OriginClass.DOMESTIC, f"registered in {g.country_code}, the home country")
        return answer(
            OriginClass.ABROAD,
            f"registered in {g.country_code}, home is {self.home_country}",
        )


def load_origin_enricher(
    settings: Settings, *, tor_exits: Iterable[str] = (), open_proxies: Iterable[str] = ()
) -> OriginEnricher:
    """The enricher with the data in effect for ``settings``: the data directory's copy of
    the tables if ``floodwall geo update`` wrote one, else the bundled data."""
    directory = default_geo_dir(settings)
    return OriginEnricher(
        GeoIPEnricher(load_geo_data(directory, settings.cache_dir)),
        home_country=settings.home_country,
        anonymizers=load_anonymizers(directory, settings.cache_dir),
        hosting_asns=read_hosting_asns(default_hosting_asns_path(settings)),
        tor_exits=tor_exits,
        open_proxies=open_proxies,
    )
