"""Anchors: for each rule, a set of literals of which at least one must occur in an event.

The prefilter scans each event once for every anchor of every rule (Hyperscan), and only
rules with an anchor present are evaluated. A rule with no usable anchor (only regexes,
numbers, negations ...) is evaluated on every event of its log source.

Soundness: every literal of a matcher that can only be true when that literal occurs in
the (lowered) value is a valid anchor. For AND any one child's anchors suffice; for OR
every child needs anchors, and their union is taken; NOT gives none.
"""

from __future__ import annotations

from floodwall.detect.sigma.ir import Node

#: Shorter literals occur in nearly every event, so they filter nothing.
MIN_ANCHOR = 3


def _quality(anchors: frozenset[str]) -> tuple[int, int]:
    # Prefer the child whose weakest literal is longest, then the smaller set.
    return (min(len(a) for a in anchors), -len(anchors))


def node_anchors(node: Node) -> frozenset[str] | None:
    """The anchor set of a detection node, or ``None`` if it cannot be filtered."""
    kind = node[0]
    if kind == "and":
        best: frozenset[str] | None = None
        for child in node[1]:
            got = node_anchors(child)
            if got is not None and (best is None or _quality(got) > _quality(best)):
                best = got
        return best
    if kind == "or":
        union: set[str] = set()
        for child in node[1]:
            got = node_anchors(child)
            if got is None:
                return None
            union |= got
        return frozenset(union)
    if kind in ("field", "kw"):
        matcher = node[-1]
        if matcher[0] != "str":
            return None
        literal = matcher[4] if matcher[1] == "glob" else matcher[2].lower()
        return frozenset([literal]) if len(literal) >= MIN_ANCHOR else None
    return None


def node_event_ids(node: Node) -> frozenset[int] | None:
    """EventIDs of which the event must have one for ``node`` to match, or ``None``.

    Most Windows service rules select on ``EventID`` only; knowing it up front keeps
    them out of every other event's candidate list.
    """
    kind = node[0]
    if kind == "and":
        found = [ids for child in node[1] if (ids := node_event_ids(child)) is not None]
        return min(found, key=len) if found else None
    if kind == "or":
        union: set[int] = set()
        for child in node[1]:
            ids = node_event_ids(child)
            if ids is None:
                return None
            union |= ids
        return frozenset(union)
    if kind == "field" and node[1] == "EventID":
        matcher = node[2]
        if matcher[0] == "num" and float(matcher[1]).is_integer():
            return frozenset([int(matcher[1])])
        if matcher[0] == "str" and matcher[1] == "eq" and matcher[2].strip().isdigit():
            return frozenset([int(matcher[2])])
    return None
