"""Offline GeoIP and ASN: the country and the network (AS number, organization) of an IP.

Countries come from the RIRs' delegations (where an address block was registered, not
where a device stands); ASNs and organizations from RouteViews and DB-IP (CC-BY-4.0,
credited in ``floodwall/data/licenses/ip-geolocation-NOTICE.md``). The tables are built
by :mod:`floodwall.enrich.geo_build` and searched with :mod:`floodwall.enrich.ranges`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from floodwall.enrich.geo_build import FORMAT, GEO_FILE, unblob
from floodwall.enrich.ranges import ParsedIPs, RangeTable, parse_ips
from floodwall.enrich.table_cache import Arrays, load_tables
from floodwall.settings import Settings, bundled_data


def default_geo_dir(settings: Settings | None = None) -> Path:
    """The copy ``floodwall geo update`` wrote in the data directory, else the bundled one."""
    if settings is not None and (settings.data_dir / "geo" / GEO_FILE).is_file():
        return settings.data_dir / "geo"
    return bundled_data() / "geo"


@dataclass(frozen=True, slots=True)
class IpGeo:
    """Country and network of one address; "" and 0 where unknown."""

    ip: str
    country_code: str = ""  # ISO 3166-1 alpha-2 of the RIR delegation
    country_name: str = ""
    asn: int = 0
    as_org: str = ""

    def to_ecs(self, prefix: str = "source") -> dict[str, Any]:
        """ECS fields (``source.geo.country_iso_code``, ``source.as.number`` ...), known ones."""
        pairs: dict[str, Any] = {
            f"{prefix}.geo.country_iso_code": self.country_code,
            f"{prefix}.geo.country_name": self.country_name,
            f"{prefix}.as.number": self.asn,
            f"{prefix}.as.organization.name": self.as_org,
        }
        return {k: v for k, v in pairs.items() if v}


class GeoData:
    """The loaded tables: countries by range, ASNs by range, and the ASN organizations.

    Organization names are decoded on first use only (91k strings).
    """

    def __init__(self, arrays: Arrays) -> None:
        self.countries = RangeTable.from_columns(arrays, "country")
        codes = [str(c) for c in arrays["country_codes"]]
        names = unblob(arrays["country_names"])
        if len(names) != len(codes):
            raise ValueError("geo data: country names and codes differ in number")
        # Index 0 answers for "unknown" (row -1 + 1), so lookups need no masking.
        self.country_codes: npt.NDArray[np.str_] = np.array(["", *codes], dtype="U2")
        self.country_names = ("", *names)
        self.asns = RangeTable.from_columns(arrays, "asn")
        self.asn_numbers: npt.NDArray[np.uint32] = np.concatenate(
            ([np.uint32(0)], np.asarray(arrays["asn_numbers"], dtype=np.uint32))
        )
        self._org_blob = arrays["asn_orgs"]

    @cached_property
    def as_orgs(self) -> npt.NDArray[np.object_]:
        orgs = unblob(self._org_blob)
        if len(orgs) != len(self.asn_numbers) - 1:
            raise ValueError("geo data: ASN organizations and numbers differ in number")
        out = np.empty(len(orgs) + 1, dtype=object)
        out[0] = ""
        out[1:] = orgs
        return out


def load_geo_data(directory: Path, cache_dir: Path | None = None) -> GeoData:
    """Read ``geo.npz`` of ``directory`` (once per process; mapped from ``cache_dir``)."""
    return GeoData(load_tables(directory / GEO_FILE, ("country", "asn"), FORMAT, cache_dir))


@dataclass(frozen=True)
class GeoColumns:
    """Answers for many addresses, one array each, in input order ("" / 0 where unknown)."""

    country_code: npt.NDArray[np.str_]
    asn: npt.NDArray[np.uint32]
    country_index: npt.NDArray[np.int64]  # into GeoData.country_names
    asn_index: npt.NDArray[np.int64]  # into GeoData.as_orgs
    data: GeoData

    def as_org(self) -> npt.NDArray[np.object_]:
        out: npt.NDArray[np.object_] = self.data.as_orgs[self.asn_index]
        return out

    def __len__(self) -> int:
        return len(self.asn)

    def record(self, i: int, ip: str) -> IpGeo:
        """The answer at position ``i`` as a record (``ip`` is the input it answers)."""
        return IpGeo(
            ip=ip,
            country_code=str(self.country_code[i]),
            country_name=self.data.country_names[int(self.country_index[i])],
            asn=int(self.asn[i]),
            as_org=str(self.data.as_orgs[int(self.asn_index[i])]),
        )


class GeoIPEnricher:
    """Country (RIR delegation) and AS number/organization of IPv4 and IPv6 addresses.

    Vectorized: :meth:`lookup_many` answers a batch with two binary searches per family.
    Anything that is not an address answers unknown ("" / 0), never an exception.
    """

    name = "geoip"

    def __init__(self, data: GeoData) -> None:
        self.data = data

    def lookup_parsed(self, parsed: ParsedIPs) -> GeoColumns:
        """Answers for addresses :func:`~floodwall.enrich.ranges.parse_ips` already read."""
        d = self.data
        country = d.countries.values_of(d.countries.lookup_parsed(parsed)) + 1
        asn = d.asns.values_of(d.asns.lookup_parsed(parsed)) + 1
        return GeoColumns(d.country_codes[country], d.asn_numbers[asn], country, asn, d)

    def lookup_many(self, ips: Sequence[object] | npt.NDArray[np.generic]) -> GeoColumns:
        """Answers for a batch of address strings (or a ``uint32`` array of IPv4)."""
        return self.lookup_parsed(parse_ips(ips))

    def lookup(self, ip: str) -> IpGeo:
        """The answer for one address."""
        return self.lookup_many([ip]).record(0, ip)
