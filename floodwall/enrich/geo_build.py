"""Builds the compact GeoIP, ASN and anonymizer tables from files the user downloaded.

Nothing is fetched: ``floodwall geo update DIR`` reads what is in ``DIR`` and writes
``geo.npz`` and ``anonymizers.npz`` (numpy arrays, see :mod:`floodwall.enrich.ranges`).
The bundled copy in ``floodwall/data/geo`` was built the same way.

Inputs understood (plain or ``.gz``):
- country ranges as CSV ``start,end,country_code`` (ipverse/rir-ip flattened, or sapics
  ip-location-db ``*-country-ipv4.csv``), or the RIRs' own delegation files
  ``delegated-<rir>-extended-latest`` (the NRO "RIR statistics exchange format");
- ASN ranges as CSV ``start,end,asn,organization`` (sapics ip-location-db ``asn-ipv4.csv``
  and ``asn-ipv6.csv``, built from RouteViews and DB-IP);
- ``country_names.csv`` (header ``country_code,country_name``);
- MISP warninglists: a merged ``warninglists.json[.gz]`` ({name: list.json}), or a
  misp-warninglists checkout (``lists/<name>/list.json``).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from floodwall.enrich.ranges import Entry, RangeTable, network_range, parse_ip

#: Bumped when the layout of the .npz files changes; loaders refuse other formats.
FORMAT = 1
GEO_FILE = "geo.npz"
ANON_FILE = "anonymizers.npz"
#: The warninglists that name anonymizing egress (VPN, relay) addresses.
ANONYMIZER_LISTS = ("vpn-ipv4", "vpn-ipv6", "icloud-private-relay")

Arrays = dict[str, npt.NDArray[np.generic]]


def _open_text(path: Path) -> io.TextIOBase:
    """A text reader for ``path``, gunzipped when its name ends in ``.gz``; undecodable
    bytes become U+FFFD (the caller closes it)."""
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), "utf-8", "replace", newline="")
    return path.open("r", encoding="utf-8", errors="replace", newline="")


def _bounds(first: str, last: str) -> tuple[int, int, int] | None:
    a, b = parse_ip(first.strip()), parse_ip(last.strip())
    if a is None or b is None or a[0] != b[0] or a[1] > b[1]:
        return None
    return a[0], a[1], b[1]


@dataclass
class BuildLog:
    """What a build read, and how many lines it had to skip (a figure hiding no losses)."""

    read: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, path: Path) -> None:
        self.skipped[path.name] = self.skipped.get(path.name, 0) + 1


def read_range_csv(path: Path, log: BuildLog) -> Iterator[tuple[int, int, int, list[str]]]:
    """``(family, start, end, other columns)`` of each good row of a range CSV."""
    log.read.append(path.name)
    with _open_text(path) as fh:
        for row in csv.reader(fh):
            bounds = _bounds(row[0], row[1]) if len(row) >= 3 else None
            if bounds is None:
                log.skip(path)
                continue
            yield (*bounds, row[2:])


def read_rir_delegated(path: Path, log: BuildLog) -> Iterator[tuple[int, int, int, str]]:
    """``(family, start, end, cc)`` of the allocated/assigned ranges of an RIR stats file.

    Format: ``registry|cc|type|start|value|date|status[|extensions]``; for ipv4 ``value``
    counts addresses, for ipv6 it is the prefix length (NRO RIR statistics exchange format).
    """
    log.read.append(path.name)
    with _open_text(path) as fh:
        for line in fh:
            parts = line.strip().split("|")
            if len(parts) < 7 or parts[2] not in ("ipv4", "ipv6") or parts[1] in ("", "*"):
                continue  # version line, summary lines, asn records
            if parts[6] not in ("allocated", "assigned"):
                continue
            start = parse_ip(parts[3])
            if start is None or not parts[4].isdigit() or len(parts[1]) != 2:
                log.skip(path)
                continue
            family, first = start
            size = int(parts[4]) if family == 4 else 1 << max(0, 128 - int(parts[4]))
            yield family, first, first + size - 1, parts[1].upper()


def _blob(texts: list[str]) -> npt.NDArray[np.uint8]:
    joined = "\n".join(t.replace("\n", " ") for t in texts)
    return np.frombuffer(joined.encode("utf-8"), dtype=np.uint8).copy()


def unblob(blob: npt.NDArray[np.generic]) -> list[str]:
    """The strings :func:`_blob` stored, one per line."""
    text = blob.tobytes().decode("utf-8", "replace")
    return text.split("\n") if text else []


def _table(v4: list[Entry], v6: list[Entry]) -> RangeTable:
    return RangeTable.from_entries(v4, v6)


def build_geo_arrays(
    countries: list[tuple[int, int, int, str]],
    asns: list[tuple[int, int, int, int, str]],
    names: dict[str, str],
) -> Arrays:
    """The arrays of ``geo.npz`` from country rows and ``(family, start, end, asn, org)``."""
    codes = sorted({c[3] for c in countries})
    code_index = {c: i for i, c in enumerate(codes)}
    c4 = [(s, e, code_index[cc]) for f, s, e, cc in countries if f == 4]
    c6 = [(s, e, code_index[cc]) for f, s, e, cc in countries if f == 6]
    orgs: dict[int, str] = {}
    for _, _, _, asn, org in asns:
        orgs.setdefault(asn, org)
    numbers = sorted(orgs)
    asn_index = {a: i for i, a in enumerate(numbers)}
    a4 = [(s, e, asn_index[a]) for f, s, e, a, _ in asns if f == 4]
    a6 = [(s, e, asn_index[a]) for f, s, e, a, _ in asns if f == 6]
    return {
        "format": np.array([FORMAT], dtype=np.int64),
        "country_codes": np.array(codes, dtype="U2"),
        "country_names": _blob([names.get(c, c) for c in codes]),
        **_table(c4, c6).arrays("country"),
        "asn_numbers": np.array(numbers, dtype=np.uint32),
        "asn_orgs": _blob([orgs[a] for a in numbers]),
        **_table(a4, a6).arrays("asn"),
    }


def build_anonymizer_arrays(lists: dict[str, dict[str, Any]]) -> Arrays:
    """The arrays of ``anonymizers.npz``: each CIDR of each list, value = list index."""
    names = sorted(lists)
    v4: list[Entry] = []
    v6: list[Entry] = []
    for i, name in enumerate(names):
        for cidr in lists[name].get("list", ()):
            r = network_range(str(cidr))
            if r is not None:
                (v4 if r[0] == 4 else v6).append((r[1], r[2], i))
    versions = [str(lists[n].get("version", "")) for n in names]
    return {
        "format": np.array([FORMAT], dtype=np.int64),
        "list_names": _blob(names),
        "list_versions": _blob(versions),
        **_table(v4, v6).arrays("anon"),
    }


def read_warninglists(source: Path, wanted: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """The ``wanted`` MISP warninglists found in ``source`` (merged file or checkout)."""
    found: dict[str, dict[str, Any]] = {}
    for merged in (source / "warninglists.json.gz", source / "warninglists.json"):
        if merged.is_file():
            with _open_text(merged) as fh:
                doc = json.load(fh)
            found.update({n: doc[n] for n in wanted if isinstance(doc.get(n), dict)})
            break
    for name in wanted:
        single = source / "lists" / name / "list.json"
        if name not in found and single.is_file():
            found[name] = json.loads(single.read_text("utf-8"))
    return found


def _first(source: Path, *names: str) -> Path | None:
    for name in names:
        for candidate in (source / name, source / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


def read_country_names(path: Path) -> dict[str, str]:
    with _open_text(path) as fh:
        return {
            r["country_code"].strip().upper(): r["country_name"].strip()
            for r in csv.DictReader(fh)
            if r.get("country_code") and r.get("country_name")
        }


def _country_rows(source: Path, log: BuildLog) -> list[tuple[int, int, int, str]]:
    rows: list[tuple[int, int, int, str]] = []
    for family in ("ipv4", "ipv6"):
        path = _first(
            source,
            f"rir-delegated-country-{family}.csv",
            f"geo-whois-asn-country-{family}.csv",
            f"country-{family}.csv",
        )
        if path is not None:
            rows += [(f, s, e, c[0].strip().upper()) for f, s, e, c in read_range_csv(path, log)]
    if not rows:
        for path in sorted(source.glob("delegated-*")):
            rows += list(read_rir_delegated(path, log))
    return [r for r in rows if len(r[3]) == 2 and r[3].isalpha()]


def _asn_rows(source: Path, log: BuildLog) -> list[tuple[int, int, int, int, str]]:
    rows: list[tuple[int, int, int, int, str]] = []
    for family in ("ipv4", "ipv6"):
        path = _first(source, f"asn-{family}.csv")
        if path is None:
            continue
        for f, s, e, cols in read_range_csv(path, log):
            if len(cols) >= 2 and cols[0].strip().isdigit() and int(cols[0]) < 2**32:
                rows.append((f, s, e, int(cols[0]), cols[1].strip()))
            else:
                log.skip(path)
    return rows


def update_geo_dir(source: Path, target: Path, current: Path) -> BuildLog:
    """Rebuild ``target`` from the files in ``source``; parts absent there come from
    ``current`` (the bundled or previous copy). Written to a staging folder, then renamed.
    """
    if not source.is_dir():
        raise FileNotFoundError(f"not a folder: {source}")
    log = BuildLog()
    countries, asns = _country_rows(source, log), _asn_rows(source, log)
    staging = target.with_name(target.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    notes = [f"built {dt.date.today().isoformat()} by floodwall geo update from {source}"]
    if countries or asns:
        if not (countries and asns):
            shutil.rmtree(staging)
            missing = "ASN (asn-ipv4.csv)" if countries else "country ranges"
            raise FileNotFoundError(f"{source} has {missing} missing: give both, or neither")
        names_path = _first(source, "country_names.csv")
        names = read_country_names(names_path) if names_path else _current_names(current)
        np.savez_compressed(staging / GEO_FILE, **build_geo_arrays(countries, asns, names))  # type: ignore[arg-type]
        notes.append(f"geo: {', '.join(log.read)}")
    else:
        shutil.copy2(current / GEO_FILE, staging / GEO_FILE)
        notes.append("geo: unchanged (no country/ASN files given)")
    lists = read_warninglists(source, ANONYMIZER_LISTS)
    if lists:
        arrays = build_anonymizer_arrays(lists)
        np.savez_compressed(staging / ANON_FILE, **arrays)  # type: ignore[arg-type]
        notes.append("anonymizers: " + ", ".join(f"{n} v{lists[n].get('version')}" for n in lists))
    else:
        shutil.copy2(current / ANON_FILE, staging / ANON_FILE)
        notes.append("anonymizers: unchanged (no warninglists given)")
    notes += [f"skipped {n} bad lines in {name}" for name, n in log.skipped.items()]
    (staging / "VERSION").write_text("\n".join(notes) + "\n", "utf-8")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return log


def _current_names(current: Path) -> dict[str, str]:
    with np.load(current / GEO_FILE, allow_pickle=False) as z:
        codes = [str(c) for c in z["country_codes"]]
        return dict(zip(codes, unblob(z["country_names"]), strict=False))
