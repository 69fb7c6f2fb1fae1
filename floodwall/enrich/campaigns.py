"""Campaigns: alerts and messages tied together by the infrastructure they share.

Union-find over capped keys (``enrich/campaign_keys.py``): two items join when they
hold the same key, unless more than the key's cap hold it. A key that common (a
shared mail provider's address, a CDN, a decoy link) would chain unrelated attacks
together; it stops joining and is reported as too common instead. Attachments also
join when their TLSH digests are near (``enrich/fuzzy.py``, banded: never pairwise).

Bounded: the caller gives the items of a time window; memory is a few numpy arrays of
(item, key hash) pairs, never a table of pairs of items (the MISP correlation table
that grew to hundreds of GB is what this avoids). The items are read twice: once for
keys, once to describe the campaigns found.

Deterministic: the components of the key graph do not depend on the order the items
come in, and a campaign's id is derived from its earliest member's time and its first
joining key (not from row ids, which depend on arrival order).
"""

from __future__ import annotations

import hashlib
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from floodwall.enrich.fuzzy import DEFAULT_THRESHOLD, near_duplicate_pairs

__all__ = [
    "DEFAULT_CAPS",
    "CampaignItem",
    "CampaignSummary",
    "ClusterLimits",
    "ClusterResult",
    "cluster_campaigns",
    "connected_components",
]

#: Members a key may have and still join them. Exact artefacts (a file hash, an
#: address a beacon calls) are strong even when mass-mailed; networks and ASNs are weak
#: and get crowded by coincidence sooner.
DEFAULT_CAPS: Mapping[str, int] = MappingProxyType(
    {"hash": 100_000, "c2": 20_000, "ip": 10_000, "dom": 5_000, "net": 2_000, "asn": 500}
)
_KINDS = ("hash", "c2", "ip", "dom", "net", "asn")
_KIND_CODE = {k: i + 1 for i, k in enumerate(_KINDS)}  # 0: a kind without its own cap
_OBSCURED = "obscured"


@dataclass(frozen=True, slots=True)
class CampaignItem:
    """One alert or message as clustering sees it."""

    kind: str  # "alert" | "message"
    id: str
    time: str  # ISO 8601 UTC
    keys: tuple[str, ...]  # see enrich/campaign_keys.py
    fuzzy: tuple[str, ...] = ()  # TLSH digests of its attachments
    origin: str = "unknown"  # domestic | abroad | internal | obscured | unknown
    country: str | None = None
    techniques: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()  # "host:NAME", "rcpt:ADDRESS"
    unnamed_targets: int = 0  # recipients counted but not named (gateway envelopes)


@dataclass(frozen=True, slots=True)
class ClusterLimits:
    """Caps per key kind, TLSH distance and band cap, and the smallest campaign."""

    caps: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_CAPS))
    default_cap: int = 1_000
    fuzzy_threshold: int = DEFAULT_THRESHOLD
    fuzzy_band_cap: int = 64
    min_members: int = 2

    def cap(self, kind: str) -> int:
        return self.caps.get(kind, self.default_cap)


@dataclass(frozen=True, slots=True)
class CampaignSummary:
    """A campaign: its members, when, whom, from where, how, and what ties it."""

    id: str
    first_seen: str
    last_seen: str
    alert_ids: tuple[str, ...]
    message_ids: tuple[str, ...]
    hosts: tuple[str, ...]
    recipients: tuple[str, ...]
    target_count: int
    origins: tuple[tuple[str, int], ...]  # ("abroad/RU", members), most first
    techniques: tuple[tuple[str, int], ...]
    shared_keys: tuple[tuple[str, int], ...]  # (key, members holding it), most first
    timeline: tuple[tuple[str, int], ...]  # (YYYY-MM-DD, members), by day
    origin_confidence: str  # high | medium | low
    confidence_reason: str


@dataclass(frozen=True, slots=True)
class ClusterResult:
    """The campaigns of a window, and the keys that were too common to join."""

    campaigns: tuple[CampaignSummary, ...]
    too_common: tuple[tuple[str, int], ...]
    items: int
    keys: int
    fuzzy_pairs: int = 0
    stats: Mapping[str, int] = field(default_factory=dict)


def _key_hash(key: str) -> int:
    # 56 bits of BLAKE2b under a byte naming the kind, so that caps apply per kind in
    # numpy. Stable across runs (Python's hash() is salted per process).
    kind = key.partition(":")[0]
    raw = key.encode("utf-8", "surrogatepass")  # hostile text may hold lone surrogates
    digest = int.from_bytes(hashlib.blake2b(raw, digest_size=7).digest(), "big")
    return (_KIND_CODE.get(kind, 0) << 56) | digest


def connected_components(
    n: int, a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """The smallest member index of each node's component, for edges ``a[i]-b[i]``.

    Union-find in rounds, vectorized (Shiloach-Vishkin): each round hooks every
    edge's larger root under its smaller one, then halves paths until every node
    points at its root. Labels only decrease, so it ends; a handful of rounds suffice.
    """
    label = np.arange(n, dtype=np.int64)
    if len(a) == 0:
        return label
    while True:
        la, lb = label[a], label[b]
        low = np.minimum(la, lb)
        new = label.copy()
        np.minimum.at(new, la, low)
        np.minimum.at(new, lb, low)
        while True:
            jumped = new[new]
            if np.array_equal(jumped, new):
                break
            new = jumped
        if np.array_equal(new, label):
            return label
        label = new


def cluster_campaigns(
    items: Callable[[], Iterable[CampaignItem]], limits: ClusterLimits | None = None
) -> ClusterResult:
    """Campaigns among ``items()`` (called twice; it must give the same items in the
    same order both times, as a store query with ORDER BY does)."""
    limits = limits or ClusterLimits()
    # array, not list: 8 bytes a pair instead of a 36-byte int object and its pointer.
    pair_item = array("q")
    pair_key = array("Q")
    fuzzy: list[tuple[int, str]] = []
    n = 0
    for n, item in enumerate(items(), 1):
        idx = n - 1
        for h in {_key_hash(k) for k in item.keys}:
            pair_item.append(idx)
            pair_key.append(h)
        fuzzy.extend((idx, d) for d in item.fuzzy)
    keys, owners = _sorted_pairs(pair_key, pair_item)
    del pair_key, pair_item
    starts = (
        np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.array([], np.int64)
    )
    sizes = np.diff(np.r_[starts, len(keys)])
    caps = np.array([limits.default_cap, *(limits.cap(k) for k in _KINDS)], dtype=np.int64)
    key_caps = caps[(keys[starts] >> np.uint64(56)).astype(np.int64)] if len(starts) else caps[:0]
    joining = (sizes >= 2) & (sizes <= key_caps)
    too_common_hashes = set(keys[starts[sizes > key_caps]].tolist())
    # Each member of a joining key is tied to the key's first member: n-1 edges per key.
    group = np.repeat(np.arange(len(starts), dtype=np.int64), sizes)
    first = owners[starts][group]
    use = joining[group] & (owners != first)
    a, b = first[use], owners[use]
    fuzzy_edges = list(
        near_duplicate_pairs(
            fuzzy, threshold=limits.fuzzy_threshold, band_cap=limits.fuzzy_band_cap
        )
    )
    if fuzzy_edges:
        fa, fb = np.array(fuzzy_edges, dtype=np.int64).T
        a, b = np.r_[a, fa], np.r_[b, fb]
    label = connected_components(n, a.astype(np.int64), b.astype(np.int64))
    edges = len(a)
    # The pair arrays are done with: free them before the describing pass builds its
    # Python objects, so the two peaks do not add up.
    del a, b, group, first, use, owners
    counts = np.bincount(label, minlength=n) if n else np.zeros(0, np.int64)
    fuzzy_digest = _fuzzy_keys(fuzzy, fuzzy_edges)
    # Names of the too-common keys first (that pass stops once all are found), so the
    # describing pass compares strings instead of hashing every key again.
    too_common = _too_common(items, too_common_hashes, keys, starts, sizes)
    capped = frozenset(k for k, _ in too_common)
    campaigns = _describe(items, label, counts, limits, capped, fuzzy_digest)
    return ClusterResult(
        campaigns, too_common, n, len(starts), len(fuzzy_edges),
        {"edges": edges, "joining_keys": int(joining.sum())},
    )  # fmt: skip


def _sorted_pairs(
    pair_key: array[int], pair_item: array[int]
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
    """(key, item) pairs sorted by key then item. Views on the arrays, not copies: the
    sorted copies are the only ones made, and the arrays are freed by the caller."""
    if not pair_key:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    keys_view = np.frombuffer(pair_key, dtype=np.uint64)
    owners_view = np.frombuffer(pair_item, dtype=np.int64)
    order = np.lexsort((owners_view, keys_view))
    keys, owners = keys_view[order], owners_view[order]
    del keys_view, owners_view, order
    return keys, owners


def _fuzzy_keys(fuzzy: list[tuple[int, str]], edges: list[tuple[int, int]]) -> dict[int, list[str]]:
    """``tlsh:<digest>`` keys for the owners of near-duplicate pairs: the pair's
    smallest digest names it, so both owners report the same key."""
    if not edges:
        return {}
    by_owner: dict[int, list[str]] = {}
    for owner, digest in fuzzy:
        by_owner.setdefault(owner, []).append(digest)
    out: dict[int, list[str]] = {}
    for i, j in edges:
        name = "tlsh:" + min(by_owner[i] + by_owner[j])
        out.setdefault(i, []).append(name)
        out.setdefault(j, []).append(name)
    return out


def _too_common(
    items: Callable[[], Iterable[CampaignItem]],
    hashes: set[int],
    keys: npt.NDArray[np.uint64],
    starts: npt.NDArray[np.int64],
    sizes: npt.NDArray[np.int64],
) -> tuple[tuple[str, int], ...]:
    if not hashes:
        return ()
    size_of = {int(k): int(s) for k, s in zip(keys[starts], sizes, strict=True) if int(k) in hashes}
    names: dict[str, int] = {}
    for item in items():
        for key in item.keys:
            if key not in names and _key_hash(key) in hashes:
                names[key] = size_of[_key_hash(key)]
        if len(names) == len(hashes):
            break
    return tuple(sorted(names.items(), key=lambda kv: (-kv[1], kv[0])))


class _Acc:
    """What one campaign collects while its members stream by."""

    __slots__ = (
        "alerts",
        "earliest",
        "keys",
        "messages",
        "origins",
        "targets",
        "techniques",
        "times",
        "unnamed",
    )  # fmt: skip

    def __init__(self) -> None:
        self.alerts: list[str] = []
        self.messages: list[str] = []
        self.keys: Counter[str] = Counter()
        self.origins: Counter[str] = Counter()
        self.techniques: Counter[str] = Counter()
        self.targets: set[str] = set()
        self.times: Counter[str] = Counter()
        self.unnamed = 0
        self.earliest: tuple[str, tuple[str, ...]] | None = None


def _describe(
    items: Callable[[], Iterable[CampaignItem]],
    label: npt.NDArray[np.int64],
    counts: npt.NDArray[np.int64],
    limits: ClusterLimits,
    too_common: frozenset[str],
    fuzzy_keys: dict[int, list[str]],
) -> tuple[CampaignSummary, ...]:
    accs: dict[int, _Acc] = {}
    first_last: dict[int, list[str]] = {}
    for idx, item in enumerate(items()):
        root = int(label[idx])
        if counts[root] < limits.min_members:
            continue
        acc = accs.get(root)
        if acc is None:
            acc = accs[root] = _Acc()
            first_last[root] = [item.time, item.time]
        (acc.alerts if item.kind == "alert" else acc.messages).append(item.id)
        own = [k for k in dict.fromkeys(item.keys) if k not in too_common]
        own += fuzzy_keys.get(idx, [])
        acc.keys.update(set(own))
        acc.origins[_origin_label(item)] += 1
        acc.techniques.update(set(item.techniques))
        acc.targets.update(item.targets)
        acc.unnamed += item.unnamed_targets
        acc.times[item.time[:10]] += 1
        span = first_last[root]
        span[0], span[1] = min(span[0], item.time), max(span[1], item.time)
        mark = (item.time, tuple(sorted(own)))
        if acc.earliest is None or mark < acc.earliest:
            acc.earliest = mark
    out = [_summary(acc, *first_last[root]) for root, acc in accs.items()]
    return tuple(sorted(out, key=lambda c: (c.first_seen, c.id)))


def _origin_label(item: CampaignItem) -> str:
    # The exit's country says nothing about an obscured source (DESIGN: never attributed
    # to the country of the exit node), and an internal one has none.
    if item.origin in ("domestic", "abroad", "unknown") and item.country:
        return f"{item.origin}/{item.country}"
    return item.origin or "unknown"


def _summary(acc: _Acc, first: str, last: str) -> CampaignSummary:
    shared = {k: c for k, c in acc.keys.items() if c >= 2}
    assert acc.earliest is not None
    time, own = acc.earliest
    joining = [k for k in own if k in shared] or list(own) or ["-"]
    ident = (
        "C"
        + hashlib.sha256(f"{time}|{joining[0]}".encode("utf-8", "surrogatepass")).hexdigest()[:15]
    )
    confidence, reason = origin_confidence(acc.origins)
    hosts = sorted(t[5:] for t in acc.targets if t.startswith("host:"))
    rcpts = sorted(t[5:] for t in acc.targets if t.startswith("rcpt:"))
    return CampaignSummary(
        id=ident,
        first_seen=first,
        last_seen=last,
        alert_ids=tuple(sorted(acc.alerts)),
        message_ids=tuple(sorted(acc.messages)),
        hosts=tuple(hosts),
        recipients=tuple(rcpts),
        target_count=len(hosts) + len(rcpts) + acc.unnamed,
        origins=_most(acc.origins),
        techniques=_most(acc.techniques),
        shared_keys=_most(Counter(shared)),
        timeline=tuple(sorted(acc.times.items())),
        origin_confidence=confidence,
        confidence_reason=reason,
    )


def _most(counter: Counter[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def origin_confidence(origins: Mapping[str, int]) -> tuple[str, str]:
    """high: every member's origin is known, the same, and not obscured; medium: the
    known ones agree but some are unknown; low: obscured, mixed, or nothing known."""
    obscured = origins.get(_OBSCURED, 0)
    known = {o: c for o, c in origins.items() if o not in ("unknown", _OBSCURED)}
    unknown = origins.get("unknown", 0)
    if obscured:
        return "low", f"{obscured} member(s) behind an anonymizer or hosting network"
    if not known:
        return "low", "no member's origin is known"
    if len(known) > 1:
        return "low", "members disagree: " + ", ".join(f"{o} {c}" for o, c in _most(Counter(known)))
    (only,) = known
    if unknown:
        return "medium", f"known members agree on {only}; {unknown} member(s) of unknown origin"
    return "high", f"every member comes from {only}"
