"""TLSH fuzzy hashes, and near-duplicate pairs found without comparing every pair.

TLSH (Oliver, Cheng, Chen: "TLSH - A Locality Sensitive Hash", 2013;
https://github.com/trendmicro/tlsh) digests are ``T1`` + 3 header bytes (checksum,
log length, quartile ratios) + 32 body bytes: 128 buckets of 2 bits each. Two files
that differ a little differ in a few buckets, so most 8-bucket slices ("bands") of
their bodies stay equal. Digests are grouped by band; only digests that share a band
are compared with the real distance. That is locality-sensitive hashing: the work
grows with the candidates, not with the square of the digests, and a band shared by
more than ``band_cap`` digests (a common file layout, or chance) is skipped.

``py-tlsh`` is the thin outside library here; nothing else imports it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import tlsh

__all__ = ["BANDS", "near_duplicate_pairs", "tlsh_digest", "tlsh_distance"]

#: 64 hex body digits cut into 16 bands of 4 (8 buckets each).
BANDS = 16
_BODY_START = 8  # "T1" + 6 hex digits of header
_BODY_LEN = 64
#: Trend Micro reports distance <= 30 as a low false-positive cut for "same family"
#: (TLSH paper, table of detection and false-positive rates by threshold).
DEFAULT_THRESHOLD = 30


def tlsh_digest(data: bytes) -> str:
    """The TLSH digest of ``data``; "" when TLSH has none (too short or too uniform)."""
    digest = str(tlsh.hash(data))
    return "" if digest == "TNULL" or not is_tlsh(digest) else digest


def is_tlsh(digest: str) -> bool:
    """A TLSH v4 digest as ``tlsh.hash`` writes it: ``T1`` and 70 hex digits."""
    if len(digest) != _BODY_START + _BODY_LEN or not digest.startswith("T1"):
        return False
    try:
        int(digest[2:], 16)
    except ValueError:
        return False
    return True


def tlsh_distance(a: str, b: str) -> int:
    """TLSH distance (0 = same; larger = more different; length counts)."""
    return int(tlsh.diff(a, b))


def near_duplicate_pairs(
    digests: Sequence[tuple[int, str]],
    *,
    threshold: int = DEFAULT_THRESHOLD,
    band_cap: int = 64,
) -> Iterator[tuple[int, int]]:
    """``(i, j)`` with ``i < j`` for owners whose digests are within ``threshold``.

    ``digests`` holds ``(owner, digest)``; an owner may have several. Each pair is
    compared once, and only when the two share a band that at most ``band_cap``
    digests share. The result does not depend on the order of ``digests``.
    """
    bands: dict[tuple[int, str], list[int]] = {}
    valid = [(o, d) for o, d in digests if is_tlsh(d)]
    for pos, (_owner, digest) in enumerate(valid):
        body = digest[_BODY_START:]
        for band in range(BANDS):
            bands.setdefault((band, body[band * 4 : band * 4 + 4]), []).append(pos)
    seen: set[tuple[int, int]] = set()
    for members in bands.values():
        if len(members) < 2 or len(members) > band_cap:
            continue
        for x, p in enumerate(members):
            for q in members[x + 1 :]:
                op, dp = valid[p]
                oq, dq = valid[q]
                if op == oq:
                    continue
                pair = (min(op, oq), max(op, oq))
                if pair in seen:
                    continue
                if tlsh_distance(dp, dq) <= threshold:
                    seen.add(pair)
                    yield pair
