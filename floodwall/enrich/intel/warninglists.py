"""MISP warninglists: known-benign values (public DNS resolvers, top sites, cloud ranges,
empty-file hashes ...) that must never raise an alert.

The lists ship in ``floodwall/data/warninglists/`` (CC0-1.0, MISP/misp-warninglists; see
its VERSION and ``floodwall/data/licenses/``). Matching follows MISP's own
``Warninglist::checkValue`` per list type:

- ``cidr``: the address lies in one of the list's networks (plain addresses are /32, /128);
- ``string``: equality (after the indicator normalization, so list entries are
  lowercased and IP entries canonical);
- ``hostname``: the value's host, or one of its parent domains, is on the list (entries
  lose leading and trailing dots). Two deliberate departures from MISP: a parent that is
  itself a public suffix or a dynamic-DNS domain does not cover its subdomains
  (``zapto.org`` is on top-site lists, yet ``x.zapto.org`` belongs to whoever registered
  it), and a URL
  is covered only when it names nothing but its host (``http://twitter.com/`` is a top
  site; ``http://twitter.com/<account>`` used as a dead drop is not benign for that);
- ``substring``: a list entry occurs in the value (one Aho-Corasick pass for all lists);
- ``regex``: a PCRE ``/pattern/flags`` entry matches (translated to Python ``re``).

A list applies only to the MISP attribute types in its ``matching_attributes``, mapped
here to Floodwall's indicator types (``ATTRIBUTE_KINDS``).
"""

from __future__ import annotations

import gzip
import ipaddress
import json
import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ahocorasick
import numpy as np

from floodwall.enrich.intel import ipindex
from floodwall.enrich.intel.indicator import INDICATOR_TYPES, IndicatorType
from floodwall.enrich.intel.normalize import NormalizeError, normalize_ip
from floodwall.enrich.intel.suffixes import PublicSuffixes

BUNDLED = Path(__file__).resolve().parents[2] / "data" / "warninglists" / "warninglists.json.gz"
LIST_TYPES = ("cidr", "string", "hostname", "substring", "regex")

_IP: tuple[IndicatorType, ...] = ("ip", "cidr")
#: MISP attribute types (https://www.misp-project.org/datamodels/) -> indicator types.
ATTRIBUTE_KINDS: Mapping[str, tuple[IndicatorType, ...]] = {
    "ip-src": _IP, "ip-dst": _IP, "ip-src|port": _IP, "ip-dst|port": _IP,
    "domain|ip": ("domain", *_IP), "domain": ("domain",), "hostname": ("domain",),
    "hostname|port": ("domain",), "url": ("url",), "uri": ("url",), "link": ("url",),
    "md5": ("md5",), "filename|md5": ("md5",), "malware-sample": ("md5",),
    "sha1": ("sha1",), "filename|sha1": ("sha1",),
    "sha256": ("sha256",), "filename|sha256": ("sha256",),
    "email": ("email",), "email-src": ("email",), "email-dst": ("email",),
    "target-email": ("email",), "email-reply-to": ("email",),
    "whois-registrant-email": ("email",), "dns-soa-email": ("email",),
}  # fmt: skip
#: Lists that say who operates a value, not that it is benign: attackers rent the same
#: cloud servers, CDNs, VPN exits and free services. They stay visible as context
#: (``lists_for``) but do not suppress an indicator (``suppressed_by``). The anonymizer
#: lists feed the origin stage's "obscured" class instead.
CONTEXT_LISTS = frozenset(
    {
        "vpn-ipv4", "vpn-ipv6", "icloud-private-relay",
        "amazon-aws", "google-gcp", "microsoft-azure", "microsoft-azure-china",
        "microsoft-azure-germany", "microsoft-azure-us-gov", "oracle-oci", "ovh-cluster",
        "akamai", "cloudflare", "fastly", "bunny-net", "stackpath", "github",
        "dynamic-dns", "disposable-email", "url-shortener", "link-in-bio",
        "public-ipfs-gateways", "telegram-ips",
        "lots-project",  # "living off trusted sites": hosts attackers abuse
    }
)  # fmt: skip
#: Hostname lists whose entries are registration boundaries like public suffixes: every
#: subdomain of a dynamic-DNS provider belongs to a different customer.
BOUNDARY_LISTS = frozenset({"dynamic-dns"})
_PCRE_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


class WarninglistError(ValueError):
    """The warninglists file cannot be read."""


@dataclass(frozen=True, slots=True)
class Warninglist:
    """One MISP warninglist. ``key`` is its folder name upstream (``public-dns-v4``)."""

    key: str
    name: str
    type: str
    kinds: frozenset[IndicatorType]
    entries: tuple[str, ...]
    version: int = 0
    description: str = ""


def parse_warninglists(doc: object) -> tuple[list[Warninglist], list[str]]:
    """Lists from ``{key: list.json}``; malformed lists are reported, not fatal."""
    if not isinstance(doc, dict):
        raise WarninglistError("warninglists file is not a JSON object of lists")
    lists: list[Warninglist] = []
    problems: list[str] = []
    for key, raw in doc.items():
        if not isinstance(raw, dict) or raw.get("type") not in LIST_TYPES:
            problems.append(f"{key}: not a warninglist of a known type")
            continue
        entries = raw.get("list")
        if not isinstance(entries, list):
            problems.append(f"{key}: 'list' is not an array")
            continue
        attrs = raw.get("matching_attributes") or []
        kinds: set[IndicatorType] = set()
        if not attrs or "ALL" in attrs:
            kinds.update(INDICATOR_TYPES)  # README: no matching_attributes = all types
        for attr in attrs:
            kinds.update(ATTRIBUTE_KINDS.get(str(attr), ()))
        version = raw.get("version")
        lists.append(
            Warninglist(
                key=str(key),
                name=str(raw.get("name") or key),
                type=str(raw["type"]),
                kinds=frozenset(kinds),
                entries=tuple(e for e in entries if isinstance(e, str) and e.strip()),
                version=version if isinstance(version, int) else 0,
                description=str(raw.get("description") or ""),
            )
        )
    return lists, problems


def load_warninglists(path: Path | None = None) -> tuple[list[Warninglist], list[str]]:
    """Read the bundled (or given) ``warninglists.json.gz`` / ``.json``."""
    path = path or BUNDLED
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        doc = json.loads(raw)
    except (OSError, EOFError, ValueError, RecursionError) as exc:
        raise WarninglistError(f"cannot read warninglists from {path}: {exc}") from None
    return parse_warninglists(doc)


def _pcre(entry: str) -> re.Pattern[str]:
    """A PCRE ``/pattern/flags`` as a Python pattern (MISP runs them with preg_match)."""
    delim = entry[0]
    end = entry.rfind(delim)
    if delim.isalnum() or delim == "\\" or end <= 0:
        raise re.error(f"not a delimited PCRE pattern: {entry!r}")
    flags = 0
    for f in entry[end + 1 :]:
        if f in _PCRE_FLAGS:
            flags |= _PCRE_FLAGS[f]
        elif f not in "gu":  # g is not PCRE (harmless); u is UTF-8 mode, Python's default
            raise re.error(f"unsupported PCRE flag {f!r}")
    return re.compile(entry[1:end], flags)


def _string_key(entry: str) -> str:
    entry = entry.strip().lower()
    if entry[:1].isdigit() or ":" in entry:
        try:
            return normalize_ip(entry)
        except NormalizeError:
            pass
    return entry


class WarninglistIndex:
    """Answers "which warninglists hold this value" for normalized indicator values."""

    def __init__(
        self,
        lists: Sequence[Warninglist],
        context: frozenset[str] = CONTEXT_LISTS,
        suffixes: PublicSuffixes | None = None,
    ) -> None:
        self.lists = tuple(lists)
        self.context = context
        self._suffixes = suffixes
        self._boundaries = frozenset(
            e.strip().strip(".").lower()
            for wl in lists
            if wl.key in BOUNDARY_LISTS
            for e in wl.entries
        )
        self.problems: list[str] = []
        self._kinds = [wl.kinds for wl in self.lists]
        strings: dict[str, set[int]] = {}
        hosts: dict[str, set[int]] = {}
        subs: dict[str, set[int]] = {}
        self._regex: list[tuple[re.Pattern[str], int]] = []
        v4: tuple[list[int], list[int], list[int]] = ([], [], [])
        v6: tuple[list[int], list[int], list[int]] = ([], [], [])
        for idx, wl in enumerate(self.lists):
            for entry in wl.entries:
                if wl.type == "string":
                    strings.setdefault(_string_key(entry), set()).add(idx)
                elif wl.type == "hostname":
                    hosts.setdefault(entry.strip().strip(".").lower(), set()).add(idx)
                elif wl.type == "substring":
                    subs.setdefault(entry.strip().lower(), set()).add(idx)
                elif wl.type == "regex":
                    try:
                        self._regex.append((_pcre(entry), idx))
                    except re.error as exc:
                        self.problems.append(f"{wl.key}: regex skipped: {exc}")
                elif (r := ipindex.parse_range(entry)) is not None:
                    target = v4 if r[0] == 4 else v6
                    target[0].append(r[1])
                    target[1].append(r[2])
                    target[2].append(idx)
                else:  # MISP compares a non-network entry of a cidr list as a string
                    strings.setdefault(_string_key(entry), set()).add(idx)
        # Regexes are few but slow: each kind runs only those of lists that apply to it.
        self._regex_by_kind = {
            kind: [(rx, i) for rx, i in self._regex if kind in self._kinds[i]]
            for kind in INDICATOR_TYPES
        }
        self._strings = {k: tuple(sorted(v)) for k, v in strings.items()}
        self._hosts = {k: tuple(sorted(v)) for k, v in hosts.items()}
        self._subs: Any = None
        if subs:
            self._subs = ahocorasick.Automaton()
            for word, owners in subs.items():
                self._subs.add_word(word, tuple(sorted(owners)))
            self._subs.make_automaton()
        multi: dict[tuple[int, ...], int] = {}
        self._v4 = ipindex.build_v4(
            np.array(v4[0], np.uint64), np.array(v4[1], np.uint64), np.array(v4[2], np.int64),
            multi,
        )  # fmt: skip
        self._v6 = ipindex.build_v6(*v6, multi)
        self._shared = ipindex.shared_table(multi)

    @classmethod
    def load(
        cls, path: Path | None = None, suffixes: PublicSuffixes | None = None
    ) -> WarninglistIndex:
        """The index over the bundled lists (or a given file); the edge calls this once."""
        lists, problems = load_warninglists(path)
        index = cls(lists, suffixes=suffixes)
        index.problems[:0] = problems
        return index

    def _host_hits(self, host: str) -> list[int]:
        if not host:
            return []
        found = list(self._hosts.get(host, ()))
        is_public = self._suffixes.is_public if self._suffixes is not None else None
        parent = host.partition(".")[2]
        while parent:
            if parent in self._boundaries or (is_public is not None and is_public(parent)):
                break  # above a registration boundary: someone else's domain
            found.extend(self._hosts.get(parent, ()))
            parent = parent.partition(".")[2]
        return found

    def _names(self, kind: IndicatorType, found: Iterable[int]) -> tuple[str, ...]:
        hits = sorted({i for i in found if kind in self._kinds[i]})
        return tuple(self.lists[i].key for i in hits)

    def _ip_hits(self, kind: IndicatorType, value: str) -> list[int]:
        try:
            net = ipaddress.ip_network(value, strict=False)
        except ValueError:
            return []
        first = int(net.network_address)
        last = first + net.num_addresses - 1
        if net.version == 4:
            pair = np.array([first, last], np.uint64)
            covers = ipindex.lookup_v4(self._v4, pair).tolist()
        else:
            covers = [ipindex.lookup_v6(self._v6, first), ipindex.lookup_v6(self._v6, last)]
        at_first = set(ipindex.expand(covers[0], self._shared))
        if kind == "ip" or not at_first:
            return sorted(at_first)
        # A network is on a list when the list covers all of it: both ends, and every
        # segment between them (bounded: a huge network over a fragmented list is not).
        both = at_first & set(ipindex.expand(covers[1], self._shared))
        return sorted(i for i in both if self._covers_all(net.version, first, last, i))

    def _covers_all(self, version: int, first: int, last: int, idx: int) -> bool:
        if version == 4:
            starts = self._v4.starts
            a = int(np.searchsorted(starts, np.uint64(first), side="right")) - 1
            b = int(np.searchsorted(starts, np.uint64(last), side="right")) - 1
            covers = self._v4.covers[a : b + 1].tolist()
        else:
            a = bisect_right(self._v6.starts, first) - 1
            b = bisect_right(self._v6.starts, last) - 1
            covers = self._v6.covers[a : b + 1]
        if len(covers) > 100_000:
            return False
        return all(idx in ipindex.expand(c, self._shared) for c in covers)

    def lists_for(self, kind: IndicatorType, value: str) -> tuple[str, ...]:
        """Keys of the lists that hold ``value`` (normalized as ``kind``), in list order."""
        found: list[int] = []
        if kind in ("ip", "cidr"):
            found.extend(self._ip_hits(kind, value))
        found.extend(self._strings.get(value, ()))
        if kind == "domain" or kind == "url":
            found.extend(self._host_hits(value if kind == "domain" else _bare_url_host(value)))
        if self._subs is not None:
            for _, owners in self._subs.iter(value):
                found.extend(owners)
        for pattern, idx in self._regex_by_kind.get(kind, ()):
            if pattern.search(value):
                found.append(idx)
        return self._names(kind, found) if found else ()

    def lists_for_many(self, kind: IndicatorType, values: Sequence[str]) -> list[tuple[str, ...]]:
        """``lists_for`` over many values; IPv4 addresses take one vectorized search."""
        if kind != "ip" or not values:
            return [self.lists_for(kind, v) for v in values]
        out: list[tuple[str, ...]] = []
        v4 = np.array([_v4_int(v) for v in values], np.int64)
        is_v4 = v4 >= 0
        covers = ipindex.lookup_v4(self._v4, v4.clip(0).astype(np.uint64))
        for value, v4_ok, cover in zip(values, is_v4.tolist(), covers.tolist(), strict=True):
            if not v4_ok:
                out.append(self.lists_for(kind, value))
                continue
            found = list(ipindex.expand(cover, self._shared))
            found.extend(self._strings.get(value, ()))
            if self._subs is not None:
                for _, owners in self._subs.iter(value):
                    found.extend(owners)
            found.extend(idx for rx, idx in self._regex_by_kind.get(kind, ()) if rx.search(value))
            out.append(self._names(kind, found) if found else ())
        return out

    def suppressed_by(self, kind: IndicatorType, value: str) -> tuple[str, ...]:
        """The lists that keep ``value`` from alerting (``lists_for`` minus context lists)."""
        return tuple(n for n in self.lists_for(kind, value) if n not in self.context)

    def suppressed_by_many(
        self, kind: IndicatorType, values: Sequence[str]
    ) -> list[tuple[str, ...]]:
        """``suppressed_by`` over many values."""
        return [
            tuple(n for n in names if n not in self.context) if names else names
            for names in self.lists_for_many(kind, values)
        ]


def _v4_int(value: str) -> int:
    try:
        return int(ipaddress.IPv4Address(value))
    except ValueError:
        return -1


def _bare_url_host(url: str) -> str:
    """The host of a normalized URL that names only its host (path ``/``, no query);
    ``""`` for any other URL, and for an IPv6 literal."""
    authority, _, rest = url.partition("://")[2].partition("/")
    if rest or authority.startswith("["):
        return ""
    return authority.rpartition("@")[2].partition(":")[0]
