"""Which of many (possibly overlapping) IP ranges contain an address, in O(log n).

The ranges are cut into disjoint elementary segments at every range start and every
range end + 1; each segment remembers the set of ranges that cover it (its "cover").
An address is found with one binary search over the segment starts: for IPv4 over a
sorted NumPy array (``searchsorted``, so a whole batch of addresses costs one call), for
IPv6 over a sorted list of Python ints (``bisect``; NumPy has no 128-bit integers and
IPv6 indicators are few).

A cover is stored as one int: ``-1`` nothing, ``>= 0`` a single range id (the common case:
feed ranges rarely overlap), ``<= -2`` index ``-2 - c`` into a table of id tuples.
"""

from __future__ import annotations

import socket
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

NONE = -1
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Segments:
    """Segment starts (sorted) and the cover of each segment."""

    starts: U64
    covers: I64


def _sweep(
    lo: Sequence[int], hi: Sequence[int], ids: Sequence[int], multi: dict[tuple[int, ...], int]
) -> tuple[list[int], list[int]]:
    """Segments of overlapping ranges by a sweep line; ``multi`` collects shared covers."""
    events: list[tuple[int, int, int]] = []
    for a, b, i in zip(lo, hi, ids, strict=True):
        events.append((a, 1, i))
        events.append((b + 1, -1, i))
    events.sort()
    active: dict[int, int] = {}
    starts: list[int] = []
    covers: list[int] = []
    k = 0
    while k < len(events):
        pos = events[k][0]
        while k < len(events) and events[k][0] == pos:
            _, step, i = events[k]
            count = active.get(i, 0) + step
            if count:
                active[i] = count
            else:
                active.pop(i, None)
            k += 1
        if not active:
            cover = NONE
        elif len(active) == 1:
            cover = next(iter(active))
        else:
            key = tuple(sorted(active))
            cover = -2 - multi.setdefault(key, len(multi))
        if covers and covers[-1] == cover:
            continue  # same cover as the segment before: no new boundary
        starts.append(pos)
        covers.append(cover)
    return starts, covers


def build_v4(lo: U64, hi: U64, ids: I64, multi: dict[tuple[int, ...], int]) -> Segments:
    """Segments of IPv4 ranges ``[lo, hi]`` (inclusive, as uint64) labelled ``ids``."""
    if lo.size == 0:
        return Segments(np.zeros(0, np.uint64), np.zeros(0, np.int64))
    order = np.lexsort((hi, lo))
    lo, hi, ids = lo[order], hi[order], ids[order]
    reach = np.maximum.accumulate(hi)
    overlaps = np.zeros(lo.size, dtype=bool)
    overlaps[1:] = lo[1:] <= reach[:-1]
    # A group is a run of ranges chained by overlaps; most groups hold one range.
    group = np.cumsum(~overlaps)
    sizes = np.bincount(group)
    alone = sizes[group] == 1
    parts_b = [lo[alone], hi[alone] + np.uint64(1)]
    parts_c = [ids[alone].astype(np.int64), np.full(int(alone.sum()), NONE, np.int64)]
    parts_p = [np.ones(int(alone.sum()), np.int8), np.zeros(int(alone.sum()), np.int8)]
    shared = np.flatnonzero(~alone)
    if shared.size:
        starts, covers = _sweep(
            lo[shared].tolist(), hi[shared].tolist(), ids[shared].tolist(), multi
        )
        parts_b.append(np.array(starts, np.uint64))
        parts_c.append(np.array(covers, np.int64))
        # A sweep's closing NONE must lose against a range starting at the same address.
        parts_p.append(np.where(np.array(covers) == NONE, 0, 1).astype(np.int8))
    bounds = np.concatenate(parts_b)
    covers_all = np.concatenate(parts_c)
    prio = np.concatenate(parts_p)
    order = np.lexsort((prio, bounds))
    bounds, covers_all = bounds[order], covers_all[order]
    last = np.ones(bounds.size, dtype=bool)
    last[:-1] = bounds[1:] != bounds[:-1]
    return Segments(bounds[last], covers_all[last])


def lookup_v4(seg: Segments, addresses: U64) -> I64:
    """The cover of each address (``-1`` when no range holds it)."""
    if seg.starts.size == 0:
        return np.full(addresses.size, NONE, np.int64)
    k = np.searchsorted(seg.starts, addresses, side="right").astype(np.int64) - 1
    found = seg.covers[np.maximum(k, 0)]
    return np.where(k >= 0, found, NONE)


@dataclass(frozen=True, slots=True)
class SegmentsV6:
    """IPv6 segments as Python ints."""

    starts: list[int]
    covers: list[int]


def build_v6(
    lo: Sequence[int], hi: Sequence[int], ids: Sequence[int], multi: dict[tuple[int, ...], int]
) -> SegmentsV6:
    """Segments of IPv6 ranges (Python ints)."""
    starts, covers = _sweep(lo, hi, ids, multi)
    return SegmentsV6(starts, covers)


def lookup_v6(seg: SegmentsV6, address: int) -> int:
    """The cover of one IPv6 address."""
    k = bisect_right(seg.starts, address) - 1
    return seg.covers[k] if k >= 0 else NONE


def expand(cover: int, shared: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
    """The range ids of a cover."""
    if cover == NONE:
        return ()
    if cover >= 0:
        return (cover,)
    return shared[-2 - cover]


def shared_table(multi: dict[tuple[int, ...], int]) -> list[tuple[int, ...]]:
    """The shared covers collected while building, indexed as the covers refer to them."""
    table: list[tuple[int, ...]] = [()] * len(multi)
    for key, index in multi.items():
        table[index] = key
    return table


def parse_range(text: str) -> tuple[int, int, int] | None:
    """``(version, first, last)`` of ``a.b.c.d[/n]`` or ``v6[/n]``; None when it is neither.

    ``socket.inet_pton`` is strict (no octal or short forms) and some 20× faster than
    ``ipaddress``, which matters for the ~140k networks of the warninglists and the
    million indicators of a large intel store. Host bits are cleared, as
    ``ip_network(strict=False)`` would.
    """
    address, slash, prefix = text.strip().partition("/")
    try:
        if ":" in address:
            version, bits, raw = 6, 128, socket.inet_pton(socket.AF_INET6, address)
        else:
            version, bits, raw = 4, 32, socket.inet_pton(socket.AF_INET, address)
    except (OSError, ValueError):
        return None
    length = bits
    if slash:
        if not prefix.isdigit() or len(prefix) > 3 or int(prefix) > bits:
            return None
        length = int(prefix)
    host_bits = bits - length
    first = (int.from_bytes(raw, "big") >> host_bits) << host_bits
    return version, first, first + (1 << host_bits) - 1
