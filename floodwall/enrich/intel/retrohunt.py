"""Retro-hunt: indicators searched in the whole observables archive (``store/archive.py``).

When new indicators arrive, the question is whether they were already here: a C2 address
contacted last month, a hash on a laptop in spring. ``RetroHunter.search`` answers it
with DuckDB over the archive's Parquet files, matching as the in-line matcher does
(``matcher.py``), so that a value found now and a value found afterwards give the same
answer:

- exact values: URLs (normal form), MD5/SHA-1/SHA-256, mail addresses, archived CIDRs,
  joined on the 64-bit hash of the value (``vh``) and checked on the text afterwards;
- addresses in IP and CIDR indicators, IPv4 and IPv6, as integer ranges: the archive
  stores every address (of an ``ip`` value, a URL's host or an address-literal mail
  domain) as ``ip4`` or ``ip6_hi``/``ip6_lo``. Ranges are joined on a hashed bucket
  (the address's /16 for IPv4, its /32 for IPv6; an indicator wider than a bucket is
  listed in each bucket it covers), then compared: a hash join, not a sort-based range
  join over 100 million rows. The few IPv6 networks wider than /24 are compared apart;
- names: a domain indicator matches the name itself and, unless it is a public suffix,
  its subdomains, in domain values, URL hosts and mail domains (``dom`` column). A
  subdomain is found by equality on its last two or three labels (``dom2``/``dom3``,
  stored at write time), then a suffix test for longer indicators.

Only indicators no warninglist suppresses are searched, and an observation counts only
while one of the indicator's sources still held it valid (``ts <= valid_until``). Hits
whose own value is on a warninglist (``8.8.8.8`` inside a listed /16) are dropped by the
caller, which says which list did it.

Two stages, so that 100 million rows are read once in their cheap columns only: DuckDB
(in this process, with a memory limit and a thread count) joins and aggregates integers,
short names and dictionary-coded hosts, keeping for each hit the places (file, row) of
its first and last sightings; then only the Parquet row groups holding those places are
read for the value and reference text. The indicators are the build side of every join
(100,000 rows); the archive only streams through.
"""

from __future__ import annotations

import bisect
import ipaddress
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from floodwall.enrich.intel.indicator import IndicatorType
from floodwall.enrich.intel.suffixes import PublicSuffixes
from floodwall.store.archive_columns import value_hash

__all__ = ["RetroHit", "RetroHuntError", "RetroHunter", "RetroIndicator", "RetroSearch"]

#: Indicator types found by exact value in the ``value`` column.
EXACT_TYPES = ("url", "md5", "sha1", "sha256", "email")
MAX_HOSTS = 20
MAX_REFS = 3
_V6_WIDE = 24  # IPv6 networks wider than /24 are compared without a bucket


class RetroHuntError(RuntimeError):
    """The archive could not be searched (a damaged or foreign file, no memory)."""


@dataclass(frozen=True, slots=True)
class RetroIndicator:
    """An indicator to search for: ``iid`` is its id in the intel store."""

    iid: int
    type: IndicatorType
    value: str
    sources: tuple[str, ...]
    confidence: int
    valid_until: str | None = None  # the latest expiry among its sources; None = never


@dataclass(frozen=True, slots=True)
class RetroHit:
    """An archived value that an indicator names, over the whole archive."""

    indicator: RetroIndicator
    kind: str
    value: str
    first_seen: str  # ISO 8601 UTC
    last_seen: str
    count: int
    hosts: tuple[str, ...]  # at most MAX_HOSTS, sorted
    host_count: int
    sources: tuple[str, ...]  # logs, mail
    refs: tuple[str, ...]  # the earliest MAX_REFS references, oldest first
    last_ref: str


@dataclass(frozen=True, slots=True)
class RetroSearch:
    """What one search did."""

    rows: int
    files: int
    indicators: int
    hits: tuple[RetroHit, ...]
    seconds: float
    skipped: dict[str, int] = field(default_factory=dict)


def _iso(moment: Any) -> str:
    return str(moment.strftime("%Y-%m-%dT%H:%M:%SZ"))


class _Tables:
    """The indicators as the Arrow tables the joins build on."""

    def __init__(self, indicators: Sequence[RetroIndicator], suffixes: PublicSuffixes) -> None:
        self.exact: dict[str, list[Any]] = {"iid": [], "vh": []}
        self.dom_eq: dict[str, list[Any]] = {"iid": [], "value": []}
        self.dom_k2: dict[str, list[Any]] = {"iid": [], "value": []}
        self.dom_k3: dict[str, list[Any]] = {"iid": [], "value": [], "k3": []}
        self.ip4: dict[str, list[Any]] = {"iid": [], "bucket": [], "lo": [], "hi": []}
        self.ip6: dict[str, list[Any]] = {
            "iid": [], "bucket": [], "lo_hi": [], "lo_lo": [], "hi_hi": [], "hi_lo": []
        }  # fmt: skip
        self.wide6: dict[str, list[Any]] = {
            "iid": [], "lo_hi": [], "lo_lo": [], "hi_hi": [], "hi_lo": []
        }  # fmt: skip
        self.skipped: dict[str, int] = {}
        for ind in indicators:
            if ind.type in EXACT_TYPES:
                self._add(self.exact, ind.iid, value_hash(ind.value))
            elif ind.type == "domain":
                self._domain(ind, suffixes)
            elif ind.type in ("ip", "cidr"):
                self._network(ind)
                if ind.type == "cidr":  # an archived CIDR value names the same network
                    self._add(self.exact, ind.iid, value_hash(ind.value))

    @staticmethod
    def _add(table: dict[str, list[Any]], *values: Any) -> None:
        for column, value in zip(table, values, strict=True):
            table[column].append(value)

    def _domain(self, ind: RetroIndicator, suffixes: PublicSuffixes) -> None:
        self._add(self.dom_eq, ind.iid, ind.value)
        if suffixes.is_public(ind.value):
            return  # a public suffix (duckdns.org) names itself only, as in the matcher
        labels = ind.value.split(".")
        if len(labels) == 2:
            self._add(self.dom_k2, ind.iid, ind.value)
        else:
            self._add(self.dom_k3, ind.iid, ind.value, ".".join(labels[-3:]))

    def _network(self, ind: RetroIndicator) -> None:
        try:
            net = ipaddress.ip_network(ind.value, strict=False)
        except ValueError:
            self.skipped["not an IP or CIDR"] = self.skipped.get("not an IP or CIDR", 0) + 1
            return
        lo, hi = int(net.network_address), int(net.broadcast_address)
        if net.version == 4:
            for bucket in range(lo >> 16, (hi >> 16) + 1):
                self._add(self.ip4, ind.iid, bucket, lo, hi)
            return
        halves = (lo >> 64, lo & (2**64 - 1), hi >> 64, hi & (2**64 - 1))
        if net.prefixlen < _V6_WIDE:
            self._add(self.wide6, ind.iid, *halves)
            return
        for bucket in range(lo >> 96, (hi >> 96) + 1):
            self._add(self.ip6, ind.iid, bucket, *halves)

    def register(self, con: Any) -> None:
        types = {
            "iid": pa.int64(), "vh": pa.uint64(), "value": pa.string(), "k3": pa.string(),
            "bucket": pa.uint64(), "lo": pa.uint32(), "hi": pa.uint32(),
            "lo_hi": pa.uint64(), "lo_lo": pa.uint64(), "hi_hi": pa.uint64(),
            "hi_lo": pa.uint64(),
        }  # fmt: skip
        for name in ("exact", "dom_eq", "dom_k2", "dom_k3", "ip4", "ip6", "wide6"):
            columns: dict[str, list[Any]] = getattr(self, name)
            table = pa.table({c: pa.array(v, type=types[c]) for c, v in columns.items()})
            con.register(f"ind_{name}", table)


# Stage 1 reads only cheap columns (integers, short names, dictionary-coded hosts): each
# branch yields (iid, kind, vh, ts, host, source, file_index, file_row_number) for the
# matching rows. The branches are disjoint for one indicator, so a row counts once per
# indicator. Stage 2 (``_fetch``) reads the value and reference text of a few rows per
# hit, not of 100 million.
_SCAN = "read_parquet({files}, hive_partitioning = false, file_row_number = true)"
_COLS = "a.kind, a.vh, a.ts, a.host, a.source, a.file_index AS fi, a.file_row_number AS rn"
_BRANCHES = (
    # exact values (URLs, hashes, mail addresses, archived CIDRs) on the value's hash
    "SELECT i.iid, {cols} FROM {scan} a JOIN ind_exact i ON a.vh = i.vh",
    # the name itself, in domain values, URL hosts and mail domains
    "SELECT i.iid, {cols} FROM {scan} a JOIN ind_dom_eq i ON a.dom = i.value",
    # subdomains of a two-label name: its last two labels are the name
    "SELECT i.iid, {cols} FROM {scan} a JOIN ind_dom_k2 i ON a.dom2 = i.value",
    # subdomains of a longer name: the same last three labels, then the suffix test
    "SELECT i.iid, {cols} FROM {scan} a JOIN ind_dom_k3 i ON a.dom3 = i.k3 "
    "WHERE ends_with(a.dom, '.' || i.value)",
    # IPv4 addresses in IP and CIDR indicators: bucket /16, then the range
    "SELECT i.iid, {cols} FROM {scan} a JOIN ind_ip4 i ON (a.ip4 >> 16) = i.bucket "
    "WHERE a.ip4 BETWEEN i.lo AND i.hi",
    # IPv6: bucket /32, then the 128-bit range as two 64-bit halves
    "SELECT i.iid, {cols} FROM {scan} a JOIN ind_ip6 i ON (a.ip6_hi >> 32) = i.bucket "
    "WHERE (a.ip6_hi, a.ip6_lo) >= (i.lo_hi, i.lo_lo) "
    "AND (a.ip6_hi, a.ip6_lo) <= (i.hi_hi, i.hi_lo)",
    "SELECT i.iid, {cols} FROM {scan} a, ind_wide6 i WHERE a.ip6_hi IS NOT NULL "
    "AND (a.ip6_hi, a.ip6_lo) >= (i.lo_hi, i.lo_lo) "
    "AND (a.ip6_hi, a.ip6_lo) <= (i.hi_hi, i.hi_lo)",
)
_AGGREGATE = f"""
SELECT h.iid, h.kind, h.vh, min(h.ts), max(h.ts), count(*),
    list(DISTINCT h.host ORDER BY h.host)[1:{MAX_HOSTS}], count(DISTINCT h.host),
    list(DISTINCT h.source ORDER BY h.source), min_by([h.fi, h.rn], h.ts, {MAX_REFS}),
    max_by([h.fi, h.rn], h.ts)
FROM ({{hits}}) h JOIN ind_valid v ON v.iid = h.iid
WHERE v.valid_until IS NULL OR h.ts <= v.valid_until
GROUP BY h.iid, h.kind, h.vh
"""
Locator = tuple[int, int]  # (file index, row number in the file)


class RetroHunter:
    """Searches the archive's files with DuckDB; one instance per search."""

    def __init__(
        self, suffixes: PublicSuffixes, *, memory_limit: str = "1GB", threads: int = 2
    ) -> None:
        self._suffixes = suffixes
        self._memory_limit = _size(memory_limit)
        self._threads = max(1, int(threads))

    def search(self, files: Sequence[Path], indicators: Iterable[RetroIndicator]) -> RetroSearch:
        """Every (indicator, archived value) pair the archive holds, aggregated."""
        started = time.perf_counter()
        by_id = {ind.iid: ind for ind in indicators}
        if not files or not by_id:
            return RetroSearch(0, len(files), len(by_id), (), time.perf_counter() - started)
        tables = _Tables(list(by_id.values()), self._suffixes)
        con = duckdb.connect(config={"threads": self._threads})
        try:
            con.execute(f"SET memory_limit = '{self._memory_limit}'")
            con.execute("SET enable_progress_bar = false; SET preserve_insertion_order = false")
            tables.register(con)
            valid = pa.table({
                "iid": pa.array(list(by_id), pa.int64()),
                "valid_until": pa.array(
                    [ind.valid_until for ind in by_id.values()], pa.string()
                ).cast(pa.timestamp("us", tz="UTC")),
            })  # fmt: skip
            con.register("ind_valid", valid)
            file_list = "[" + ", ".join(_quote(str(f)) for f in files) + "]"
            scan = _SCAN.format(files=file_list)
            ((rows,),) = con.execute(
                f"SELECT sum(num_rows)::BIGINT FROM parquet_file_metadata({file_list})"
            ).fetchall()
            hits_sql = " UNION ALL ".join(b.format(cols=_COLS, scan=scan) for b in _BRANCHES)
            found = con.execute(_AGGREGATE.format(hits=hits_sql)).fetchall()
        except duckdb.Error as exc:
            raise RetroHuntError(f"archive not searched: {exc}") from None
        finally:
            con.close()
        # The value is read back only where the match does not give it: an exact match is
        # the indicator's own value (by its 64-bit hash; a collision is checked below).
        wanted: dict[Locator, bool] = {}
        for row in found:
            firsts, final = (
                [(int(a), int(b)) for a, b in row[9]],
                (int(row[10][0]), int(row[10][1])),
            )
            for loc in (*firsts, final):
                wanted.setdefault(loc, False)
            wanted[firsts[0]] = True
        try:
            texts = _fetch(files, wanted, self._threads)
        except (OSError, pa.ArrowException) as exc:
            raise RetroHuntError(f"archive not read: {exc}") from None
        hits = []
        for iid, kind, _vh, first, last, count, hosts, n_hosts, srcs, firsts, final in found:
            ind = by_id[iid]
            locs = [(int(a), int(b)) for a, b in firsts]
            value = texts[locs[0]][0]
            if _is_exact(ind.type, kind) and value != ind.value:
                continue  # a 64-bit hash collision, not the value
            hits.append(
                RetroHit(
                    indicator=ind,
                    kind=kind,
                    value=value,
                    first_seen=_iso(first),
                    last_seen=_iso(last),
                    count=int(count),
                    hosts=tuple(hosts),
                    host_count=int(n_hosts),
                    sources=tuple(srcs),
                    refs=tuple(texts[loc][1] for loc in locs),
                    last_ref=texts[int(final[0]), int(final[1])][1],
                )
            )
        hits.sort(key=lambda h: (h.indicator.iid, h.kind, h.value))
        return RetroSearch(
            int(rows or 0),
            len(files),
            len(by_id),
            tuple(hits),
            time.perf_counter() - started,
            dict(tables.skipped),
        )


def _is_exact(itype: str, kind: str) -> bool:
    return itype in EXACT_TYPES or (itype == "cidr" and kind == "cidr")


def _fetch(
    files: Sequence[Path], wanted: dict[Locator, bool], threads: int = 2
) -> dict[Locator, tuple[str, str]]:
    """``(value, ref)`` of the rows at the locators (value only where asked for, else
    ""), reading only their row groups: about one Parquet page per column each. Files
    are read in parallel (Arrow decodes without the GIL), each by one thread."""
    by_file: dict[int, dict[int, bool]] = {}
    for (fi, rn), with_value in wanted.items():
        by_file.setdefault(fi, {})[rn] = with_value
    out: dict[Locator, tuple[str, str]] = {}
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for found in pool.map(lambda item: _fetch_file(files[item[0]], *item), by_file.items()):
            out.update(found)
    return out


def _fetch_file(path: Path, fi: int, rows: dict[int, bool]) -> dict[Locator, tuple[str, str]]:
    parquet = pq.ParquetFile(path)
    meta = parquet.metadata
    starts = [0]
    for g in range(meta.num_row_groups):
        starts.append(starts[-1] + meta.row_group(g).num_rows)
    groups: dict[int, list[int]] = {}
    for rn in rows:
        groups.setdefault(bisect.bisect_right(starts, rn) - 1, []).append(rn)
    out: dict[Locator, tuple[str, str]] = {}
    for g, group_rows in sorted(groups.items()):
        columns = ["value", "ref"] if any(rows[rn] for rn in group_rows) else ["ref"]
        table = parquet.read_row_group(g, columns=columns)
        refs = table.column("ref")
        values = table.column("value") if "value" in columns else None
        for rn in group_rows:
            value = values[rn - starts[g]].as_py() if values is not None else ""
            out[fi, rn] = (str(value or ""), str(refs[rn - starts[g]].as_py() or ""))
    return out


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _size(text: str) -> str:
    """A DuckDB size such as ``2GB``; anything else is refused (it lands in SQL)."""
    clean = text.strip().upper().replace(" ", "")
    number = clean.rstrip("KMGTIB")
    if not number.replace(".", "", 1).isdigit() or clean[len(number) :] not in (
        "KB", "MB", "GB", "TB", "KIB", "MIB", "GIB", "TIB",
    ):  # fmt: skip
        raise ValueError(f"not a memory size: {text!r} (e.g. 2GB)")
    return clean
