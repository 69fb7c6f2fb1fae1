"""Reading IP address strings in bulk: strict, vectorized for IPv4, never raising.

Strings are read strictly, as :mod:`ipaddress` does: dotted-quad IPv4 without leading
zeros (RFC 6943 §3.1.1 warns that ``010.1.1.1`` means octal to some parsers) and the
RFC 4291 §2.2 IPv6 text forms (through ``inet_pton``). Zone ids (``fe80::1%eth0``,
RFC 6874) are refused: a zone names a local interface, never a place. IPv4-mapped
addresses (``::ffff:1.2.3.4``) stay IPv6 addresses.

IPv4 strings are joined into one byte buffer and parsed with array operations, about
ten times faster than one ``inet_pton`` call per string.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from itertools import compress, repeat
from typing import Any, cast

import numpy as np
import numpy.typing as npt

U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

_AF4, _AF6 = socket.AF_INET, socket.AF_INET6
_NO6 = b""
_NL, _DOT, _ZERO = 10, 46, 48


@dataclass(frozen=True, slots=True)
class ParsedIPs:
    """Addresses read from ``count`` inputs: the positions that held IPv4 and IPv6 ones.

    Every other position held no address (garbage, a zone id, a non-string ...).
    """

    count: int
    v4_pos: I64
    v4: U32
    v6_pos: I64
    v6_hi: U64
    v6_lo: U64


def _pack6(text: object) -> bytes:
    """16 bytes of an IPv6 address, or b"" when ``text`` is not one (inet_pton: RFC 4291)."""
    try:
        return socket.inet_pton(_AF6, text)  # type: ignore[arg-type]
    except (OSError, ValueError, TypeError):  # also UnicodeEncodeError (lone surrogates)
        return _NO6


def _pack4(text: object) -> bytes:
    try:
        return socket.inet_pton(_AF4, text)  # type: ignore[arg-type]
    except (OSError, ValueError, TypeError):
        return _NO6


_CHUNK = 4096
_PTON6 = partial(socket.inet_pton, _AF6)


def _parse6(texts: list[object]) -> tuple[npt.NDArray[np.bool_], U64, U64]:
    """Which of ``texts`` are IPv6 addresses, and their two halves.

    Chunks are tried whole with a C-level ``map`` first (clean input, the common case);
    a chunk holding a bad value is redone one value at a time.
    """
    parts: list[bytes] = []
    clean = True
    for i in range(0, len(texts), _CHUNK):
        chunk = texts[i : i + _CHUNK]
        try:
            parts.append(b"".join(map(_PTON6, chunk)))
        except (OSError, ValueError, TypeError):
            clean = False
            parts.append(b"".join(_pack6(t) or bytes(16) for t in chunk))
    if clean:
        ok = np.ones(len(texts), dtype=bool)
    else:
        ok = np.fromiter((len(_pack6(t)) == 16 for t in texts), dtype=bool, count=len(texts))
    halves = np.frombuffer(b"".join(parts), dtype=">u8").reshape(-1, 2).astype(np.uint64)
    return ok, halves[:, 0].copy(), halves[:, 1].copy()


def _parse4_buffer(buf: npt.NDArray[np.uint8], n: int) -> tuple[npt.NDArray[np.bool_], U32]:
    """Dotted quads in the ``n`` newline-ended records of ``buf``, all at once.

    Exactly 4 decimal octets of 1-3 digits, each <= 255 and without a leading zero: the
    strict form of ``ipaddress``. Gives which records are addresses, and their values.
    """
    nl = np.flatnonzero(buf == _NL)
    starts = np.empty(n, dtype=np.int64)
    starts[0] = 0
    starts[1:] = nl[:-1] + 1
    is_dot = buf == _DOT
    # Dots up to each position: a record's dot count, and where its dots start in dot_at.
    upto: npt.NDArray[np.signedinteger[Any]] = np.cumsum(
        is_dot, dtype=np.int32 if len(buf) < 2**31 else np.int64
    )
    first_dot = np.zeros(n, dtype=np.int64)
    first_dot[1:] = upto[nl[:-1]]
    length = nl - starts
    ok = (length >= 7) & (length <= 15) & (upto[nl] - first_dot == 3)
    # A record holding anything but digits and dots is no address (rare: found sparsely).
    other = (buf - np.uint8(_ZERO) >= 10) & ~is_dot
    other[nl] = False
    ok[np.searchsorted(nl, np.flatnonzero(other))] = False
    dot_at = np.flatnonzero(is_dot)
    rec = np.flatnonzero(ok)
    first = first_dot[rec]
    bounds = [starts[rec] - 1, *(dot_at[first + k] for k in range(3)), nl[rec]]
    value = np.zeros(len(rec), dtype=np.uint32)
    good = np.ones(len(rec), dtype=bool)
    zero = np.int32(_ZERO)
    for k in range(4):
        s, e = bounds[k] + 1, bounds[k + 1]  # the octet is buf[s:e]
        width = e - s
        octet = buf[e - 1].astype(np.int32) - zero
        for place, scale in ((2, 10), (3, 100)):
            digit = buf[np.maximum(e - place, 0)].astype(np.int32) - zero
            octet += np.where(width >= place, digit * scale, 0)
        leading_zero = (width > 1) & (buf[np.minimum(s, len(buf) - 1)] == _ZERO)
        good &= (width >= 1) & (width <= 3) & (octet <= 255) & ~leading_zero
        value = (value << np.uint32(8)) | octet.astype(np.uint32)
    ok[rec] = good
    return ok, value[good]


def _parse4(texts: list[object]) -> tuple[npt.NDArray[np.bool_], U32]:
    if not texts:
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=np.uint32)
    try:
        joined = "\n".join(texts)  # type: ignore[arg-type]
        # Every non-ASCII character (lone surrogates too) becomes one "?": offsets hold.
        buf = np.frombuffer(joined.encode("ascii", "replace") + b"\n", dtype=np.uint8)
        if int(np.count_nonzero(buf == _NL)) == len(texts):  # no newline inside a value
            return _parse4_buffer(buf, len(texts))
    except TypeError:  # a value that is not a string
        pass
    packed = [_pack4(t) for t in texts]
    ok = np.fromiter((len(p) == 4 for p in packed), dtype=bool, count=len(packed))
    return ok, np.frombuffer(b"".join(packed), dtype=">u4").astype(np.uint32)


def _has_colon(texts: list[object]) -> npt.NDArray[np.bool_]:
    try:  # a C-level loop; a value that is not a string stops it
        found = map(str.__contains__, cast("list[str]", texts), repeat(":"))
        return np.fromiter(found, dtype=np.bool_, count=len(texts))
    except TypeError:
        slow = (isinstance(t, str) and ":" in t for t in texts)
        return np.fromiter(slow, dtype=np.bool_, count=len(texts))


def _sorted(parsed: ParsedIPs) -> ParsedIPs:
    """The same addresses in ascending order: binary searches for sorted keys walk the
    table in one direction and stay in cache, several times faster on large batches."""
    o4 = np.argsort(parsed.v4)
    o6 = np.argsort(parsed.v6_hi)  # by the /64 alone: near enough to sorted for the cache
    return ParsedIPs(
        parsed.count,
        parsed.v4_pos[o4],
        parsed.v4[o4],
        parsed.v6_pos[o6],
        parsed.v6_hi[o6],
        parsed.v6_lo[o6],
    )


def parse_ips(ips: Sequence[object] | npt.NDArray[np.generic]) -> ParsedIPs:
    """Read many address strings; anything that is not an address is left out, never raised.

    A ``uint32`` array is taken as IPv4 addresses already in numbers. Addresses come out
    sorted by value, each with its position in the input.
    """
    if isinstance(ips, np.ndarray) and ips.dtype == np.uint32:
        empty, none = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64)
        v4 = ips.astype(np.uint32, copy=False)
        return _sorted(ParsedIPs(len(v4), np.arange(len(v4)), v4, empty, none, none))
    texts: list[object] = ips.tolist() if isinstance(ips, np.ndarray) else list(ips)
    is6 = _has_colon(texts)
    pos4, pos6 = np.flatnonzero(~is6), np.flatnonzero(is6)
    ok4, v4 = _parse4(list(compress(texts, ~is6)) if len(pos6) else texts)
    ok6, hi, lo = _parse6(list(compress(texts, is6)))
    return _sorted(ParsedIPs(len(texts), pos4[ok4], v4, pos6[ok6], hi[ok6], lo[ok6]))


def parse_ip(ip: object) -> tuple[int, int] | None:
    """``(4 or 6, integer value)`` of one address string, or None when it is not one."""
    if isinstance(ip, str) and ":" in ip:
        packed = _pack6(ip)
        return (6, int.from_bytes(packed, "big")) if packed else None
    packed = _pack4(ip)
    return (4, int.from_bytes(packed, "big")) if packed else None
