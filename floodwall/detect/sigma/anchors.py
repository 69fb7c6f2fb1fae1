"""Anchors: for each rule, a set of literals of which at least one must occur in an event.

The prefilter scans each event once for every anchor of every rule (Hyperscan), and only
rules with an anchor present are evaluated. A rule with no usable anchor (only regexes,
numbers, negations ...) is evaluated on every event of its log source.

Soundness: every literal of a matcher that can only be true when that literal occurs in
the (lowered) value is a valid anchor. For AND any one child's anchors suffice; for OR
every child needs anchors, and their union is taken; NOT gives none.
"""

from __future__ import annotations

import re
import re._parser as sre  # the stdlib's own regex parser: what re.compile itself reads
from functools import cache
from importlib import resources
from typing import Any

from floodwall.detect.sigma.ir import Node

#: Shorter literals occur in nearly every event, so they filter nothing.
MIN_ANCHOR = 3
#: How much a literal found inside common telemetry counts against it.
COMMON_PENALTY = 40


@cache
def common_values() -> tuple[str, ...]:
    """Values in nearly every Windows host's telemetry (``common_values.txt``)."""
    text = resources.files("floodwall.detect.sigma").joinpath("common_values.txt").read_text()
    return tuple(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


#: Characters that ordinary command lines and paths almost never hold; obfuscation
#: (PowerShell backtick escapes, cmd caret escapes) is what brings them in.
RARE_CHARS = frozenset("`^~")


def is_selective(literal: str) -> bool:
    """Rare enough to filter: 3 characters, or any non-ASCII or rare character (what
    obfuscation rules look for, and seldom seen in telemetry)."""
    return len(literal) >= MIN_ANCHOR or not literal.isascii() or bool(RARE_CHARS & set(literal))


def _weight(literal: str) -> int:
    common = any(literal in value for value in common_values())
    return len(literal) - (COMMON_PENALTY if common else 0)


def _quality(anchors: frozenset[str]) -> tuple[int, int]:
    # Prefer the child whose weakest literal is longest and least common, then the
    # smaller set.
    return (min(_weight(a) for a in anchors), -len(anchors))


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
        if matcher[0] == "re":
            return regex_anchors(matcher[1], matcher[2])
        if matcher[0] != "str":
            return None
        literal = matcher[4] if matcher[1] == "glob" else matcher[2].lower()
        return frozenset([literal]) if literal and is_selective(literal) else None
    return None


def regex_anchors(pattern: str, flags: int) -> frozenset[str] | None:
    """Literals of which one must occur (lowered) wherever ``pattern`` matches."""
    try:
        parsed = sre.parse(pattern, flags)
    except (re.error, RecursionError):
        return None
    return _seq_anchors(list(parsed))


def _seq_anchors(items: list[tuple[Any, Any]]) -> frozenset[str] | None:
    """Anchors of a sequence: its longest run of literal characters, or a required
    group's anchors, whichever is better."""
    best: frozenset[str] | None = None
    run: list[str] = []

    def consider(found: frozenset[str] | None) -> None:
        nonlocal best
        selective = bool(found) and all(is_selective(a) for a in found or ())
        if found and selective and (best is None or _quality(found) > _quality(best)):
            best = found

    for op, arg in items:
        if op is sre.LITERAL:
            run.append(chr(arg))
            continue
        consider(frozenset(["".join(run).lower()]) if run else None)
        run = []
        if op is sre.SUBPATTERN:
            consider(_seq_anchors(list(arg[-1])))
        elif op is sre.BRANCH:
            branches = [_seq_anchors(list(b)) for b in arg[1]]
            if all(b is not None for b in branches):
                consider(frozenset().union(*(b for b in branches if b)))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and arg[0] >= 1:
            consider(_seq_anchors(list(arg[2])))
    consider(frozenset(["".join(run).lower()]) if run else None)
    return best


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
