"""IP range tables: sorted numpy arrays searched with ``np.searchsorted``, many at a time.

A table holds non-overlapping, inclusive ``[start, end]`` ranges, IPv4 as ``uint32`` and
IPv6 as two ``uint64`` halves, each with a payload value. A lookup gives the row of the
range holding the address, or -1 (unknown) for an address in no range and for any string
that is not an address (see :mod:`floodwall.enrich.ipparse` for what is one). No table
holds ``::ffff:0:0/96``, so IPv4-mapped addresses come out unknown.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from floodwall.enrich.ipparse import I64, U32, U64, ParsedIPs, parse_ip, parse_ips

__all__ = ["Entry", "ParsedIPs", "RangeTable", "flatten", "network_range", "parse_ip", "parse_ips"]

I32 = npt.NDArray[np.int32]
_MASK64 = (1 << 64) - 1


Entry = tuple[int, int, int]  # (start, end, value), inclusive integer addresses


def flatten(entries: Iterable[Entry]) -> list[Entry]:
    """Non-overlapping ranges from possibly overlapping ones: the most specific wins.

    A range nested in another wins inside it; where two ranges partly overlap, the one
    that starts later wins the overlap, and of a range listed twice the later listing
    wins. Adjacent ranges with the same value are merged.
    """
    out: list[Entry] = []

    def emit(start: int, end: int, value: int) -> None:
        if start > end:
            return
        if out and out[-1][2] == value and out[-1][1] + 1 == start:
            out[-1] = (out[-1][0], end, value)
        else:
            out.append((start, end, value))

    stack: list[Entry] = []
    pos = 0
    for start, end, value in sorted(entries, key=lambda e: (e[0], -e[1])):
        if start > end:
            continue
        while stack and stack[-1][1] < start:
            top = stack.pop()
            emit(pos, top[1], top[2])
            pos = max(pos, top[1] + 1)
        if stack:
            emit(pos, start - 1, stack[-1][2])
        while stack and stack[-1][1] <= end:
            stack.pop()
        stack.append((start, end, value))
        pos = start
    while stack:
        top = stack.pop()
        emit(pos, top[1], top[2])
        pos = max(pos, top[1] + 1)
    return out


def _u64(values: Iterable[int]) -> U64:
    return np.fromiter(values, dtype=np.uint64)


@dataclass(frozen=True)
class RangeTable:
    """Sorted, non-overlapping inclusive ranges; rows are IPv4 ones first, then IPv6 ones.

    ``values`` holds one payload per row (a country index, an ASN index, a list id).
    """

    v4_start: U32
    v4_end: U32
    v6_start_hi: U64
    v6_start_lo: U64
    v6_end_hi: U64
    v6_end_lo: U64
    values: I32
    _v6_block: int = field(init=False, repr=False, default=1)

    def __post_init__(self) -> None:
        n4, n6 = len(self.v4_start), len(self.v6_start_hi)
        kinds = (
            (self.v4_start, np.uint32, n4),
            (self.v4_end, np.uint32, n4),
            (self.v6_start_hi, np.uint64, n6),
            (self.v6_start_lo, np.uint64, n6),
            (self.v6_end_hi, np.uint64, n6),
            (self.v6_end_lo, np.uint64, n6),
            (self.values, np.int32, n4 + n6),
        )
        if any(a.dtype != t or a.shape != (n,) for a, t, n in kinds):
            raise ValueError("range table: columns of wrong type or length")
        if not bool(np.all(self.v4_start <= self.v4_end)) or (
            n4 > 1 and not bool(np.all(self.v4_start[1:] > self.v4_end[:-1]))
        ):
            raise ValueError("range table: IPv4 ranges unsorted or overlapping")
        if n6:
            hi, lo = self.v6_start_hi, self.v6_start_lo
            ehi, elo = self.v6_end_hi, self.v6_end_lo
            ordered = (hi < ehi) | ((hi == ehi) & (lo <= elo))
            after = (hi[1:] > ehi[:-1]) | ((hi[1:] == ehi[:-1]) & (lo[1:] > elo[:-1]))
            if not (bool(np.all(ordered)) and bool(np.all(after))):
                raise ValueError("range table: IPv6 ranges unsorted or overlapping")
            # The longest run of ranges starting in one /64: the lookup steps back that far.
            breaks = np.flatnonzero(hi[1:] != hi[:-1])
            runs = np.diff(np.concatenate(([-1], breaks, [n6 - 1])))
            object.__setattr__(self, "_v6_block", int(runs.max()))

    @classmethod
    def from_entries(cls, v4: Iterable[Entry], v6: Iterable[Entry]) -> RangeTable:
        """A table from ``(start, end, value)`` integer ranges, overlaps resolved by
        :func:`flatten`."""
        f4, f6 = flatten(v4), flatten(v6)
        return cls(
            v4_start=np.fromiter((e[0] for e in f4), dtype=np.uint32, count=len(f4)),
            v4_end=np.fromiter((e[1] for e in f4), dtype=np.uint32, count=len(f4)),
            v6_start_hi=_u64(e[0] >> 64 for e in f6),
            v6_start_lo=_u64(e[0] & _MASK64 for e in f6),
            v6_end_hi=_u64(e[1] >> 64 for e in f6),
            v6_end_lo=_u64(e[1] & _MASK64 for e in f6),
            values=np.fromiter((e[2] for e in (*f4, *f6)), dtype=np.int32),
        )

    @property
    def rows(self) -> int:
        return len(self.values)

    def _rows4(self, ips: U32) -> I64:
        row = np.searchsorted(self.v4_start, ips, side="right").astype(np.int64) - 1
        found = row >= 0
        found[found] = ips[found] <= self.v4_end[row[found]]
        return np.where(found, row, -1)

    def _rows6(self, hi: U64, lo: U64) -> I64:
        if not len(self.v6_start_hi):
            return np.full(len(hi), -1, dtype=np.int64)
        shi, slo = self.v6_start_hi, self.v6_start_lo
        row = np.searchsorted(shi, hi, side="right").astype(np.int64) - 1
        # Ranges starting inside the same /64 (sub-/64 ranges): step back to the one
        # whose low half starts at or below the address.
        for _ in range(self._v6_block):
            safe = np.maximum(row, 0)
            back = (row >= 0) & (shi[safe] == hi) & (slo[safe] > lo)
            if not back.any():
                break
            row -= back
        safe = np.maximum(row, 0)
        ehi, elo = self.v6_end_hi[safe], self.v6_end_lo[safe]
        inside = (row >= 0) & ((hi < ehi) | ((hi == ehi) & (lo <= elo)))
        return np.where(inside, row + len(self.v4_start), -1)

    def lookup_parsed(self, parsed: ParsedIPs) -> I64:
        """Rows of already parsed addresses (-1: in no range, or not an address)."""
        rows = np.full(parsed.count, -1, dtype=np.int64)
        if len(parsed.v4_pos):
            rows[parsed.v4_pos] = self._rows4(parsed.v4)
        if len(parsed.v6_pos):
            rows[parsed.v6_pos] = self._rows6(parsed.v6_hi, parsed.v6_lo)
        return rows

    def lookup_many(self, ips: Sequence[object] | npt.NDArray[np.generic]) -> I64:
        """The row of each address's range, -1 where unknown; never raises on bad input."""
        return self.lookup_parsed(parse_ips(ips))

    def lookup(self, ip: object) -> int:
        """The row of one address's range, or -1."""
        parsed = parse_ip(ip)
        if parsed is None:
            return -1
        family, value = parsed
        if family == 4:
            return int(self._rows4(np.array([value], dtype=np.uint32))[0])
        hi, lo = _u64([value >> 64]), _u64([value & _MASK64])
        return int(self._rows6(hi, lo)[0])

    def values_of(self, rows: I64, missing: int = -1) -> I64:
        """The payload of each row, ``missing`` for -1."""
        out: I64 = np.where(rows >= 0, self.values[np.maximum(rows, 0)], missing).astype(np.int64)
        return out

    def arrays(self, prefix: str) -> dict[str, npt.NDArray[np.generic]]:
        """The columns under ``prefix_...`` names, to be saved with ``np.savez_compressed``.

        Starts are stored as differences and ends as distances from the start: both are
        small, repetitive numbers that compress to about half of the raw columns.
        """
        return {
            f"{prefix}_v4_start_diff": np.diff(self.v4_start, prepend=np.uint32(0)),
            f"{prefix}_v4_size": self.v4_end - self.v4_start,
            f"{prefix}_v6_start_hi_diff": np.diff(self.v6_start_hi, prepend=np.uint64(0)),
            f"{prefix}_v6_start_lo": self.v6_start_lo,
            f"{prefix}_v6_size_hi": self.v6_end_hi - self.v6_start_hi,
            f"{prefix}_v6_end_lo": self.v6_end_lo,
            f"{prefix}_values": self.values,
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, npt.NDArray[Any]], prefix: str) -> RangeTable:
        """The table :meth:`arrays` saved; dtypes and order are checked, so a damaged file
        fails with a clear ValueError instead of giving wrong answers."""

        def col(name: str, dtype: type[np.generic]) -> npt.NDArray[Any]:
            a = arrays[f"{prefix}_{name}"]
            if a.dtype != dtype or a.ndim != 1:
                raise ValueError(f"range table {prefix}: {name} is {a.dtype}, not {dtype}")
            return a

        v4_start = np.cumsum(col("v4_start_diff", np.uint32), dtype=np.uint32)
        v6_start_hi = np.cumsum(col("v6_start_hi_diff", np.uint64), dtype=np.uint64)
        return cls(
            v4_start=v4_start,
            v4_end=v4_start + col("v4_size", np.uint32),
            v6_start_hi=v6_start_hi,
            v6_start_lo=col("v6_start_lo", np.uint64),
            v6_end_hi=v6_start_hi + col("v6_size_hi", np.uint64),
            v6_end_lo=col("v6_end_lo", np.uint64),
            values=col("values", np.int32),
        )

    def columns(self, prefix: str) -> dict[str, npt.NDArray[Any]]:
        """The decoded columns, as kept in an uncompressed cache (memory-mapped later)."""
        return {f"{prefix}_{k}": getattr(self, k) for k in _COLUMNS}

    @classmethod
    def from_columns(cls, arrays: Mapping[str, npt.NDArray[Any]], prefix: str) -> RangeTable:
        """The table :meth:`columns` gave (checked as in :meth:`__post_init__`)."""
        return cls(**{k: arrays[f"{prefix}_{k}"] for k in _COLUMNS})


#: The names :meth:`RangeTable.arrays` saves a table under (after ``<prefix>_``).
STORED_COLUMNS = (
    "v4_start_diff",
    "v4_size",
    "v6_start_hi_diff",
    "v6_start_lo",
    "v6_size_hi",
    "v6_end_lo",
    "values",
)
_COLUMNS = (
    "v4_start",
    "v4_end",
    "v6_start_hi",
    "v6_start_lo",
    "v6_end_hi",
    "v6_end_lo",
    "values",
)


def network_range(text: str) -> tuple[int, int, int] | None:
    """``(family, first, last)`` of a CIDR (``10.0.0.0/8``) or single address, else None.

    Host bits set (``10.0.0.1/8``) are tolerated as in MISP lists: the network is used.
    """
    if not isinstance(text, str) or "%" in text:
        return None
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except (ValueError, TypeError):
        return None
    return net.version, int(net.network_address), int(net.broadcast_address)
