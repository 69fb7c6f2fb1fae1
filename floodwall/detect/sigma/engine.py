"""Evaluate thousands of Sigma rules per event at line rate.

For each event:

1. its log source (channel, EventID) selects the rules that apply to it, a set
   computed once per distinct log source and then memoized;
2. one Hyperscan pass over all of the event's values (lowered, joined) finds which
   rule anchors occur (see ``anchors.py``), so only rules with an anchor present, plus
   the few rules that cannot be filtered, are candidates;
3. each candidate's compiled closure decides.

Rules are compiled once; nothing in this module does I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from floodwall.detect.sigma.anchors import Anchor
from floodwall.detect.sigma.ir import CompiledRule, RuleProblem
from floodwall.detect.sigma.logsource import (
    ANY_CHANNEL,
    GENERIC,
    LogSourceMap,
    Selector,
    UnmappedLogSource,
)
from floodwall.detect.sigma.matcher import Check, Ctx, as_strings, build
from floodwall.detect.sigma.prefilter import HyperscanCache
from floodwall.records import Event


@dataclass(frozen=True, slots=True)
class _Bucket:
    always: tuple[int, ...]  # rules of this log source without anchors
    anchored: frozenset[int]  # rules of this log source with anchors
    aliases: tuple[tuple[str, str], ...]
    scan_fields: frozenset[str] | None  # fields its anchors name; None: all (keywords)
    # pattern -> (its rules here with one clause, (rule, clause bit) of the others here);
    # filled as patterns are first seen in this bucket's events
    routes: dict[int, tuple[tuple[int, ...], tuple[tuple[int, int], ...]]]


class SigmaEngine:
    """Matches events against a compiled Sigma rule set (SigmaHQ's and the user's).

    Build once per run, then call ``match`` per event.
    """

    name: ClassVar[str] = "sigma"

    def __init__(
        self,
        rules: Sequence[CompiledRule],
        logsources: LogSourceMap,
        hyperscan: HyperscanCache | None = None,
    ) -> None:
        """``hyperscan`` compiles the prefilter and rule regexes; the CLI passes one that
        keeps them in the cache directory."""
        self._hs = hyperscan or HyperscanCache()
        self.rules: list[CompiledRule] = []
        self.problems: list[RuleProblem] = []
        self._selectors: list[tuple[Selector, ...]] = []
        for rule in rules:
            try:
                selectors = logsources.selectors(rule.logsource)
            except UnmappedLogSource as exc:
                self.problems.append(RuleProblem(rule.path, rule.title, str(exc)))
                continue
            self.rules.append(rule)
            self._selectors.append(selectors)
        # A rule's closure is built the first time it is a candidate: most rules never
        # are in a given hunt, and building all 3,700 would cost half a second a run.
        self._checks: list[Check] = [self._builder(i) for i in range(len(self.rules))]
        self._aliases = logsources.aliases
        self._buckets: dict[tuple[str, int | None], _Bucket] = {}
        self._db, self._pattern_rules = self._compile_prefilter()
        self._full = [(1 << len(r.clauses)) - 1 for r in self.rules]

    def _builder(self, index: int) -> Check:
        def first_call(ctx: Ctx) -> bool:
            check = build(self.rules[index].detection, self._hs)
            self._checks[index] = check
            return check(ctx)

        return first_call

    def _compile_prefilter(self) -> tuple[Any, list[tuple[tuple[int, int], ...]]]:
        """One database of every rule's anchors; for each pattern, the (rule, clause bit)
        pairs it satisfies."""
        by_anchor: dict[Anchor, list[tuple[int, int]]] = {}
        for i, rule in enumerate(self.rules):
            for bit, clause in enumerate(rule.clauses):
                # A clause is a frozenset, whose order changes with the string hash seed:
                # sorted, the patterns are numbered the same way every run (the cache key).
                for anchor in sorted(clause, key=_anchor_order) if len(clause) > 1 else clause:
                    by_anchor.setdefault(anchor, []).append((i, 1 << bit))
        # Rules come in a fixed order (by path) and clauses are sorted, so insertion order
        # numbers the patterns the same way every run: sorting all 20,000 anchors instead
        # cost 40 ms of start-up.
        anchors = list(by_anchor)
        pattern_rules = [tuple(by_anchor[a]) for a in anchors]
        if not anchors:
            return None, pattern_rules
        # Turning 30,000 anchors into patterns takes a tenth of a second, every run: the
        # cached database is found by the anchors and this module's code instead.
        key = f"anchors\0{_own_fingerprint()}\0{anchors!r}"
        db = self._hs.keyed_patterns(key, lambda: [anchor_pattern(a) for a in anchors])
        return db, pattern_rules

    def _bucket(self, channel: str, event_id: int | None) -> _Bucket:
        always: list[int] = []
        anchored: set[int] = set()
        for i, selectors in enumerate(self._selectors):
            required = self.rules[i].event_ids
            if required is not None and event_id not in required:
                continue
            if any(_accepts(s, channel, event_id) for s in selectors):
                (anchored.add(i) if self.rules[i].clauses else always.append(i))
        aliases = self._aliases.get((channel, event_id or 0), ())
        # Keyword anchors may be in any value, so their buckets scan every field; the
        # others scan only the fields rules name.
        scan_fields = set().union(*(self.rules[i].fields for i in anchored))
        keywords = any(_has_keywords(self.rules[i].detection) for i in anchored)
        bucket = _Bucket(
            tuple(always),
            frozenset(anchored),
            aliases,
            None if keywords else frozenset(scan_fields),
            {},
        )
        self._buckets[(channel, event_id)] = bucket
        return bucket

    def _route(
        self, bucket: _Bucket, pattern: int
    ) -> tuple[tuple[int, ...], tuple[tuple[int, int], ...]]:
        """Where a pattern's hit goes in ``bucket``: rules of other log sources dropped,
        rules with one clause straight to the candidates."""
        pairs = [(r, bit) for r, bit in self._pattern_rules[pattern] if r in bucket.anchored]
        full = self._full
        route = (
            tuple(r for r, _ in pairs if full[r] == 1),
            tuple((r, bit) for r, bit in pairs if full[r] != 1),
        )
        bucket.routes[pattern] = route
        return route

    def match(self, event: Event) -> list[int]:
        """Indexes (into ``self.rules``) of the rules that match ``event``."""
        channel = event.channel.lower() if event.channel else GENERIC
        bucket = self._buckets.get((channel, event.event_id)) or self._bucket(
            channel, event.event_id
        )
        fields: Mapping[str, Any] = event.fields
        if bucket.aliases:
            extra = {a: fields[b] for a, b in bucket.aliases if a not in fields and b in fields}
            if extra:
                fields = {**fields, **extra}
        candidates: list[int] = list(bucket.always)
        if bucket.anchored and self._db is not None:
            hits: list[int] = []
            text = scan_text(fields, bucket.scan_fields)
            self._db.scan(text, match_event_handler=_collect, context=hits)
            if hits:
                # A rule is a candidate once every clause of its condition has a hit.
                routes = bucket.routes
                seen: dict[int, int] = {}
                for h in hits:
                    single, multi = routes.get(h) or self._route(bucket, h)
                    candidates.extend(single)
                    for r, bit in multi:
                        seen[r] = seen.get(r, 0) | bit
                if seen:
                    full = self._full
                    candidates.extend(r for r, m in seen.items() if m == full[r])
                if len(hits) > 1:
                    candidates = list(dict.fromkeys(candidates))
        if not candidates:
            return []
        ctx = Ctx(fields)
        checks = self._checks
        if channel == GENERIC:
            # A generic log carries no log source, so a rule only applies to an event that
            # has at least one of the fields it reads: otherwise "not selection" rules for
            # Zeek or CloudTrail would fire on every unrelated JSON record.
            rules = self.rules
            return sorted(
                i
                for i in candidates
                if (not rules[i].fields or any(f in fields for f in rules[i].fields))
                and checks[i](ctx)
            )
        return sorted(i for i in candidates if checks[i](ctx))


def _anchor_order(anchor: Anchor) -> tuple[str, str, str]:
    return (anchor[0] or "", anchor[1], anchor[2])


@cache
def _own_fingerprint() -> str:
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def _collect(pattern: int, start: int, end: int, flags: int, hits: list[int]) -> None:
    hits.append(pattern)


def _accepts(s: Selector, channel: str, event_id: int | None) -> bool:
    if s.channel == ANY_CHANNEL:
        return channel != GENERIC
    if s.channel != channel:
        return False
    return s.event_ids is None or (event_id is not None and event_id in s.event_ids)


def _has_keywords(node: Any) -> bool:
    if node[0] in ("and", "or"):
        return any(_has_keywords(n) for n in node[1])
    if node[0] == "not":
        return _has_keywords(node[1])
    return bool(node[0] == "kw")


# Scan text layout: US FIELD RS value US FIELD RS value ... US, lowered. A pattern for a
# field anchor starts at the field's tag and cannot cross the next US, so a literal is
# only found in the field its rule names.
US, RS = "\x1f", "\x1e"


def scan_text(fields: Mapping[str, Any], only: frozenset[str] | None) -> bytes:
    """The event's fields (those in ``only``, or all) in the tagged layout, lowered."""
    # One pass for the common event: str, int, float, bool and None format as the
    # matcher reads them ("None" only adds text no string test can need); a list (tags
    # ...) becomes one segment per value.
    if only is None:
        parts = [
            f"{k}{RS}{v}" if type(v) is not list else _segments(k, v) for k, v in fields.items()
        ]
    else:
        parts = [
            f"{k}{RS}{v}" if type(v) is not list else _segments(k, v)
            for k, v in fields.items()
            if k in only
        ]
    text = f"{US}{US.join(parts)}{US}"
    # Exactly one RS per part and one US around each is the layout with no list and no
    # separator inside a key or value. Anything else is rebuilt with the separators in
    # keys and values blanked: a hostile value holding them would otherwise forge a
    # field tag or cut a field short and hide a literal behind it.
    if text.count(RS) != len(parts) or text.count(US) != len(parts) + 1:
        items = fields.items() if only is None else [(k, v) for k, v in fields.items() if k in only]
        parts = [f"{_clean(k)}{RS}{_clean(s)}" for k, v in items for s in (as_strings(v) or ("",))]
        text = f"{US}{US.join(parts)}{US}"
    return text.lower().encode("utf-8", "surrogatepass")


def _segments(key: str, value: Any) -> str:
    return US.join(f"{key}{RS}{s}" for s in (as_strings(value) or ("",)))


def _clean(text: str) -> str:
    return text.replace(US, " ").replace(RS, " ")


def _pcre_literal(text: str) -> bytes:
    """``text`` as a Hyperscan pattern matching exactly its UTF-8 bytes."""
    data = text.encode("utf-8", "surrogatepass")
    return ("\\x" + data.hex(" ").replace(" ", "\\x")).encode("ascii") if data else b""


def anchor_pattern(anchor: Anchor) -> bytes:
    """The Hyperscan pattern of an anchor in the tagged scan text."""
    field, mode, text = anchor
    lit = _pcre_literal(text)
    if field is None:
        return lit  # a keyword: anywhere in any value
    tag = _pcre_literal(US + field.lower() + RS)
    end = _pcre_literal(US)
    value = b"[^\\x1f]*"
    if mode == "eq":
        return tag + lit + end
    if mode == "num":
        # The matcher reads a value as a number with float(): "25", but also "025",
        # "25.0", "2.5e1", " 25", "2_5" or full-width digits. Any value that is not a
        # plain ASCII integer without a leading zero is therefore let through.
        odd = b"(?:0[^\\x1f]*|[^\\x1f]*[^0-9\\x1f][^\\x1f]*)"
        return tag + b"(?:" + lit + b"|" + odd + b")" + end
    if mode == "sw":
        return tag + lit
    if mode == "ew":
        return tag + value + lit + end
    return tag + value + lit
