"""Anchors: for each rule, a set of field-qualified literals of which one must occur.

An anchor is ``(field, mode, text)``: the lowered value of ``field`` equals (``eq``),
starts with (``sw``), ends with (``ew``) or contains (``ct``) ``text``, or may read as
the integer ``text`` (``num``, see ``engine.anchor_pattern``); a keyword anchor has no
field and may occur in any value. The prefilter (``engine.py``) finds every
anchor of every rule in one Hyperscan pass over the event, and only rules with an
anchor present are evaluated. A rule with no usable anchor (only numbers, negations,
short infixes ...) is evaluated on every event of its log source.

Soundness: an anchor of a matcher must hold whenever the matcher does. For AND any one
child's anchors suffice; for OR every child needs anchors, and their union is taken;
NOT gives none.
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


Anchor = tuple[str | None, str, str]  # (field or None for keywords, mode, lowered text)
#: Whole-value tests pin a value down far more than an infix does.
_MODE_BONUS = {"eq": 20, "num": 20, "sw": 10, "ew": 10, "ct": 0}


def _weight(anchor: Anchor) -> int:
    _, mode, text = anchor
    common = any(text in value for value in common_values())
    return len(text) + _MODE_BONUS[mode] - (COMMON_PENALTY if common else 0)


def _quality(anchors: frozenset[Anchor]) -> tuple[int, int]:
    # Prefer the child whose weakest anchor is the most specific, then the smaller set.
    return (min(_weight(a) for a in anchors), -len(anchors))


def _leaf_anchor(field: str | None, mode: str, text: str) -> frozenset[Anchor] | None:
    # A whole-value test on a named field is exact however short its text; an infix
    # (or any keyword) must be rare enough to filter.
    if mode == "eq" and field is not None:
        return frozenset([(field, mode, text)])
    if text and (is_selective(text) or (mode != "ct" and field is not None)):
        return frozenset([(field, mode, text)])
    return None


def node_anchors(node: Node) -> frozenset[Anchor] | None:
    """The anchor set of a detection node, or ``None`` if it cannot be filtered."""
    kind = node[0]
    if kind == "and":
        best: frozenset[Anchor] | None = None
        for child in node[1]:
            got = node_anchors(child)
            if got is not None and (best is None or _quality(got) > _quality(best)):
                best = got
        return best
    if kind == "or":
        union: set[Anchor] = set()
        for child in node[1]:
            got = node_anchors(child)
            if got is None:
                return None
            union |= got
        return frozenset(union)
    if kind in ("field", "kw"):
        field = node[1] if kind == "field" else None
        matcher = node[-1]
        if matcher[0] == "re":
            literals = regex_anchors(matcher[1], matcher[2])
            return frozenset((field, "ct", lit) for lit in literals) if literals else None
        if matcher[0] == "num" and field is not None and float(matcher[1]).is_integer():
            return frozenset([(field, "num", str(int(matcher[1])))])
        if matcher[0] != "str":
            return None
        if matcher[1] == "glob":
            return _leaf_anchor(field, "ct", matcher[4])
        # Keywords are compiled as infix tests already (compiler.py).
        return _leaf_anchor(field, matcher[1], matcher[2].lower())
    return None


#: Clauses kept per rule. Measured on the benchmark's events (bench/bench_hunt.py): four
#: clauses cut candidates per event from 4.2 to 1.7, but the second clauses are mostly
#: common values (``Initiated: 'true'``, ``Signed: 'true'``) whose hits cost more in the
#: scan than the evaluations they save (39 µs against 29 µs per event). So one, for now.
MAX_CLAUSES = 1
#: Anchors a clause other than the best may have.
MAX_EXTRA_ANCHORS = 4


def node_clauses(node: Node) -> tuple[frozenset[Anchor], ...]:
    """A necessary condition of ``node`` in conjunctive form: every clause (a set of
    anchors) must have one of its anchors present wherever ``node`` matches.

    One clause (``node_anchors``) lets through every event that has the rule's rarest
    literal; most of them then fail another part of the rule (``Initiated: 'true'``
    holds for every outbound connection, the port list beside it rarely does). Each
    child of an AND is necessary on its own, so each contributes its clauses; an OR
    keeps the union of one clause per branch, as ``node_anchors`` does; NOT gives none.
    The best ``MAX_CLAUSES`` are kept, the most selective first.
    """
    ranked = sorted(set(_clauses(node)), key=_quality, reverse=True)
    # Every anchor is one more pattern in the scan of every event: beyond the best
    # clause, only short ones pay for themselves.
    extra = [c for c in ranked[1:] if len(c) <= MAX_EXTRA_ANCHORS]
    return tuple(ranked[:1] + extra[: MAX_CLAUSES - 1])


def _clauses(node: Node) -> list[frozenset[Anchor]]:
    kind = node[0]
    if kind == "and":
        return [c for child in node[1] for c in _clauses(child)]
    if kind == "or":
        single = node_anchors(node)
        return [single] if single is not None else []
    if kind in ("field", "kw"):
        single = node_anchors(node)
        return [single] if single is not None else []
    return []


def _text_quality(literals: frozenset[str]) -> tuple[int, int]:
    return _quality(frozenset((None, "ct", lit) for lit in literals))


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
        if found and selective and (best is None or _text_quality(found) > _text_quality(best)):
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


def has_keywords(node: Node) -> bool:
    """Whether a detection has a keyword (field-less) search anywhere in it."""
    if node[0] in ("and", "or"):
        return any(has_keywords(n) for n in node[1])
    if node[0] == "not":
        return has_keywords(node[1])
    return bool(node[0] == "kw")
