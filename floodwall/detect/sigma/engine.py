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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from floodwall.detect.sigma.ir import CompiledRule, RuleProblem
from floodwall.detect.sigma.logsource import (
    ANY_CHANNEL,
    GENERIC,
    LogSourceMap,
    Selector,
    UnmappedLogSource,
)
from floodwall.detect.sigma.matcher import Check, Ctx, build, text_of
from floodwall.detect.sigma.prefilter import HyperscanCache
from floodwall.records import Event


@dataclass(frozen=True, slots=True)
class _Bucket:
    always: tuple[int, ...]  # rules of this log source without anchors
    anchored: frozenset[int]  # rules of this log source with anchors in named fields
    kw_anchored: frozenset[int]  # keyword rules with anchors: searched in every value
    aliases: tuple[tuple[str, str], ...]
    scan_fields: frozenset[str]  # fields the anchored rules read


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
        checks: list[Check] = []
        for rule in rules:
            try:
                selectors = logsources.selectors(rule.logsource)
                check = build(rule.detection, self._hs)
            except (UnmappedLogSource, ValueError) as exc:
                self.problems.append(RuleProblem(rule.path, rule.title, str(exc)))
                continue
            self.rules.append(rule)
            self._selectors.append(selectors)
            checks.append(check)
        self._checks = checks
        self._has_keywords = [_has_keywords(r.detection) for r in self.rules]
        self._aliases = logsources.aliases
        self._buckets: dict[tuple[str, int | None], _Bucket] = {}
        field_rules = [i for i, r in enumerate(self.rules) if not self._has_keywords[i]]
        kw_rules = [i for i, r in enumerate(self.rules) if self._has_keywords[i]]
        self._db, self._pattern_rules = self._compile_prefilter(field_rules)
        self._kw_db, self._kw_pattern_rules = self._compile_prefilter(kw_rules)

    def _compile_prefilter(self, indexes: list[int]) -> tuple[Any, list[tuple[int, ...]]]:
        by_literal: dict[str, list[int]] = {}
        for i in indexes:
            for lit in self.rules[i].anchors or ():
                by_literal.setdefault(lit, []).append(i)
        literals = sorted(by_literal)
        pattern_rules = [tuple(by_literal[lit]) for lit in literals]
        if not literals:
            return None, pattern_rules
        return self._hs.literals(literals), pattern_rules

    def _bucket(self, channel: str, event_id: int | None) -> _Bucket:
        always: list[int] = []
        anchored: set[int] = set()
        kw_anchored: set[int] = set()
        for i, selectors in enumerate(self._selectors):
            required = self.rules[i].event_ids
            if required is not None and event_id not in required:
                continue
            if any(_accepts(s, channel, event_id) for s in selectors):
                # Keyword rules may find their anchor in any field, so they are searched
                # in all values; the others only in the fields rules name.
                if not self.rules[i].anchors:
                    always.append(i)
                elif self._has_keywords[i]:
                    kw_anchored.add(i)
                else:
                    anchored.add(i)
        aliases = self._aliases.get((channel, event_id or 0), ())
        scan_fields: set[str] = set()
        for i in anchored:
            scan_fields.update(self.rules[i].fields)
        bucket = _Bucket(
            tuple(always),
            frozenset(anchored),
            frozenset(kw_anchored),
            aliases,
            frozenset(scan_fields),
        )
        self._buckets[(channel, event_id)] = bucket
        return bucket

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
            text = _scan_text(fields, bucket.scan_fields)
            self._db.scan(text, match_event_handler=_collect, context=hits)
            if hits:
                anchored = bucket.anchored
                pattern_rules = self._pattern_rules
                seen = {r for h in hits for r in pattern_rules[h] if r in anchored}
                candidates.extend(seen)
        ctx = Ctx(fields)
        if bucket.kw_anchored:
            hits = []
            text = ctx.all_text().encode("utf-8", "surrogatepass")
            self._kw_db.scan(text, match_event_handler=_collect, context=hits)
            kw_anchored, kw_rules = bucket.kw_anchored, self._kw_pattern_rules
            candidates.extend({r for h in hits for r in kw_rules[h] if r in kw_anchored})
        if not candidates:
            return []
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


def _scan_text(fields: Mapping[str, Any], only: frozenset[str]) -> bytes:
    """The values the bucket's rules read, lowered and joined: where anchors are searched.

    Fields no rule reads (timestamps, channel names ...) would only add false hits.
    """
    text = "\n".join([text_of(v) for k, v in fields.items() if k in only])
    return text.lower().encode("utf-8", "surrogatepass")
