"""Evaluate thousands of Sigma rules per event at line rate.

For each event:

1. its log source (channel, EventID) selects the rules that apply to it, a set
   computed once per distinct log source and then memoized;
2. the rules that read named fields: each field's value is scanned once per run with
   Hyperscan for every rule anchor (see ``anchors.py``), in a tagged text of that field
   alone; the hits are kept by field and value (``memo.py``), so an event costs a
   lookup per field, and only a value not seen before a scan. Only rules with an anchor
   present, plus the few rules that cannot be filtered, are candidates;
3. the few rules with keyword searches, which read every value, get one Hyperscan pass
   of their literals over all values (or over the record's own JSON line);
4. each candidate's compiled closure decides, and the verdicts are kept by the
   candidates and the values of the fields they read, which repeat far more often than
   the events do.

Rules are compiled once; nothing in this module does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, ClassVar, cast

from floodwall.detect.sigma.anchor_filter import (
    FLOAT_CHARS,
    JSON_SENTINELS,
    AnchorFilter,
    Route,
    collect,
    compile_filter,
    keyword_clauses,
)
from floodwall.detect.sigma.anchors import has_keywords
from floodwall.detect.sigma.ir import CompiledRule, RuleProblem
from floodwall.detect.sigma.logsource import (
    GENERIC,
    LogSourceMap,
    Selector,
    UnmappedLogSource,
)
from floodwall.detect.sigma.matcher import Check, Ctx, build
from floodwall.detect.sigma.memo import MemoBudget, chars_of
from floodwall.detect.sigma.prefilter import HyperscanCache
from floodwall.detect.sigma.scantext import (
    anchor_pattern,
    json_literal,
    keyword_text,
    pcre_literal,
    scan_text,
)
from floodwall.records import Event

#: What the remembered hits (of all fields) and the remembered verdicts (of all sets of
#: candidates) may each hold: entries, characters of the values they were computed
#: from, and the longest values one entry may come from (longer ones are computed every
#: time). See ``memo.py``.
MEMO_ENTRIES = 262_144
MEMO_CHARS = 32_000_000
MEMO_ENTRY_CHARS = 65_536
#: Sets of candidates whose verdicts are kept (each names the fields its rules read).
MAX_CANDIDATE_SETS = 4096

# A field the event does not have: unlike a null value, it fails ``exists``.
_ABSENT = object()


@dataclass(frozen=True, slots=True)
class _Bucket:
    """The rules of one log source (channel, EventID)."""

    always: tuple[int, ...]  # field rules without anchors
    anchored: frozenset[int]  # field rules with anchors
    scan_fields: tuple[str, ...]  # fields the anchors name
    hit_tables: tuple[dict[Any, tuple[int, ...]], ...]  # per scan field (``_field_hits``)
    keyword_always: tuple[int, ...]  # keyword rules without a literal to look for
    keyword_anchored: frozenset[int]  # keyword rules with literals
    aliases: tuple[tuple[str, str], ...]
    # pattern -> (its rules here with one clause, (rule, clause bit) of the others here);
    # filled as patterns are first seen in this bucket's events
    routes: dict[int, Route]
    keyword_routes: dict[int, Route]
    generic: bool  # a log without a known log source (see ``_evaluate``)
    json_filter: _JsonFilter | None  # its keyword rules' literals as JSON writes them


@dataclass(frozen=True, slots=True)
class _JsonFilter:
    """The literals of some keyword rules as a JSON text writes them (see
    ``SigmaEngine._keyword_rules``), with the sentinel patterns after them."""

    filter: AnchorFilter
    wide: bool  # a literal outside ASCII: only ASCII texts can be searched
    routes: dict[int, Route]


@dataclass(frozen=True, slots=True)
class _Verdicts:
    """The remembered verdicts of one set of candidate rules, by the values they read."""

    fields: tuple[str, ...]
    absent: tuple[object, ...]
    memo: dict[Any, tuple[int, ...]]  # of the engine's verdict budget


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
        memo: bool = True,
    ) -> None:
        """``hyperscan`` compiles the prefilter and rule regexes; the CLI passes one that
        keeps them in the cache directory. ``memo=False`` scans and evaluates every event
        afresh: the reference that the remembered hits and verdicts are tested against."""
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
        # the same, by the channel as events spell it (no lowering per event)
        self._by_name: dict[tuple[str | None, int | None], _Bucket] = {}
        self._memo_on = memo
        # field -> its values -> the anchor patterns in that field's tagged text
        self._hit_tables: dict[str, dict[Any, tuple[int, ...]]] = {}
        self._hits = MemoBudget(MEMO_ENTRIES, MEMO_CHARS, MEMO_ENTRY_CHARS)
        # (candidates, generic log) -> their verdicts by the values they read
        self._verdicts: dict[tuple[tuple[int, ...], bool], _Verdicts] = {}
        self._verdict_memo = MemoBudget(MEMO_ENTRIES, MEMO_CHARS, MEMO_ENTRY_CHARS)
        keyword = {i for i, r in enumerate(self.rules) if has_keywords(r.detection)}
        field_clauses = {
            i: r.clauses for i, r in enumerate(self.rules) if i not in keyword and r.clauses
        }
        kw_clauses = {i: c for i in keyword if (c := keyword_clauses(self.rules[i].clauses))}
        self._keyword = frozenset(keyword)
        self._fields_filter = compile_filter(self._hs, "anchors", field_clauses, anchor_pattern)
        self._keyword_filter = compile_filter(self._hs, "keywords", kw_clauses, pcre_literal)
        self._kw_clauses = kw_clauses
        # keyword rules of a log source -> their literals as JSON writes them (see
        # ``_json_filter``); log sources with the same keyword rules share one
        self._json_filters: dict[frozenset[int], _JsonFilter | None] = {}

    def _builder(self, index: int) -> Check:
        def first_call(ctx: Ctx) -> bool:
            check = build(self.rules[index].detection, self._hs)
            self._checks[index] = check
            return check(ctx)

        return first_call

    def _bucket(self, channel: str, event_id: int | None) -> _Bucket:
        always: list[int] = []
        anchored: set[int] = set()
        keyword_always: list[int] = []
        keyword_anchored: set[int] = set()
        for i, selectors in enumerate(self._selectors):
            required = self.rules[i].event_ids
            if required is not None and event_id not in required:
                continue
            if not any(s.accepts(channel, event_id) for s in selectors):
                continue
            if i not in self._keyword:
                (anchored.add(i) if self.rules[i].clauses else always.append(i))
            elif i in self._kw_clauses:
                keyword_anchored.add(i)
            else:
                keyword_always.append(i)
        scan_fields = tuple(sorted(set().union(*(self.rules[i].fields for i in anchored))))
        bucket = _Bucket(
            tuple(always),
            frozenset(anchored),
            scan_fields,
            tuple(self._hit_table(f) for f in scan_fields),
            tuple(keyword_always),
            frozenset(keyword_anchored),
            self._aliases.get((channel, event_id or 0), ()),
            {},
            {},
            channel == GENERIC,
            self._json_filter(frozenset(keyword_anchored)) if keyword_anchored else None,
        )
        self._buckets[(channel, event_id)] = bucket
        return bucket

    def _json_filter(self, rules: frozenset[int]) -> _JsonFilter | None:
        """The JSON filter of these keyword rules, or None where a literal could be part
        of a float's text (which JSON may write as 1e5 where Python says 100000.0)."""
        if rules in self._json_filters:
            return self._json_filters[rules]
        clauses = {i: self._kw_clauses[i] for i in sorted(rules)}
        literals = {t for c in clauses.values() for clause in c for t in clause}
        made = None
        if not any(set(t) <= FLOAT_CHARS for t in literals):
            flt = compile_filter(
                self._hs, "json-keywords", clauses, json_literal, True, JSON_SENTINELS
            )
            if flt is not None:
                made = _JsonFilter(flt, not all(t.isascii() for t in literals), {})
        self._json_filters[rules] = made
        return made

    def match(self, event: Event) -> list[int]:
        """Indexes (into ``self.rules``) of the rules that match ``event``, sorted."""
        return self.match_fields(event.channel, event.event_id, event.fields)

    def match_fields(
        self,
        channel_name: str | None,
        event_id: int | None,
        fields: Mapping[str, Any],
        text: bytes | None = None,
    ) -> list[int]:
        """``match`` for an event's channel, EventID and fields alone.

        ``text`` is the record's JSON text as read, for a record whose fields are its own
        values (a flat record): keyword rules then look for their literals in it (JSON-
        escaped, ASCII case folded) rather than in a join of the values.
        """
        bucket = self._by_name.get((channel_name, event_id))
        if bucket is None:
            channel = channel_name.lower() if channel_name else GENERIC
            bucket = self._buckets.get((channel, event_id)) or self._bucket(channel, event_id)
            self._by_name[(channel_name, event_id)] = bucket
        if bucket.aliases:
            extra = {a: fields[b] for a, b in bucket.aliases if a not in fields and b in fields}
            if extra:
                fields = {**fields, **extra}
        candidates: list[int] = list(bucket.always)
        if bucket.anchored and self._fields_filter is not None:
            hits = self._field_hits(bucket, fields)
            if hits:
                candidates += self._fields_filter.route(hits, bucket.anchored, bucket.routes)
        found = self._decide(candidates, fields, bucket.generic) if candidates else ()
        # A keyword search reads every value: its verdict is not remembered.
        keyword: Sequence[int]
        if bucket.keyword_anchored:
            keyword = self._keyword_rules(bucket, fields, text)
        elif bucket.keyword_always:
            keyword = bucket.keyword_always
        else:
            return list(found)
        if keyword:
            more = self._evaluate(tuple(sorted(keyword)), fields, bucket.generic)
            if more:
                return sorted({*found, *more})
        return list(found)

    def _field_hits(self, bucket: _Bucket, fields: Mapping[str, Any]) -> list[int]:
        """The anchor patterns found in the fields ``bucket`` scans. Each field's value is
        looked up in that field's table of hits and scanned only if new; a missing field
        is looked up as null, whose hits include the (no) hits of a missing field."""
        assert self._fields_filter is not None
        names = bucket.scan_fields
        if not self._memo_on:
            return self._fields_filter.scan(scan_text(fields, frozenset(names)))
        values = tuple(map(fields.get, names))
        tables = bucket.hit_tables
        try:
            got = tuple(map(dict.get, tables, values))
        except TypeError:  # an unhashable value (a list): the fields scanned together
            return self._fields_filter.scan(scan_text(fields, frozenset(names)))
        if None in got:
            got = tuple(
                self._field_value_hits(t, n, v) if g is None else g
                for t, n, v, g in zip(tables, names, values, got, strict=True)
            )
        return list(chain.from_iterable(cast(tuple[tuple[int, ...], ...], got)))

    def _field_value_hits(
        self, table: dict[Any, tuple[int, ...]], name: str, value: Any
    ) -> tuple[int, ...]:
        """Hits of one field's value, kept in ``table`` under the value itself only for a
        string or null: 1, 1.0 and True are equal keys but not equal texts, so other
        types are kept under (type, value), which no plain lookup finds."""
        key = value if value is None or type(value) is str else (type(value), value)
        hits = table.get(key)
        if hits is None:
            assert self._fields_filter is not None
            hits = tuple(self._fields_filter.scan(scan_text({name: value}, None)))
            self._hits.put(table, key, hits, len(value) if type(value) is str else 0)
        return hits

    def _hit_table(self, name: str) -> dict[Any, tuple[int, ...]]:
        table = self._hit_tables.get(name)
        if table is None:
            table = self._hit_tables[name] = self._hits.table()
        return table

    def _keyword_rules(
        self, bucket: _Bucket, fields: Mapping[str, Any], text: bytes | None
    ) -> Sequence[int]:
        """The keyword rules of ``bucket`` to evaluate: those without literals, and those
        whose literals are found, in the record's JSON ``text`` where it can tell (one
        scan, and most records hold none), else in the event's values.

        The JSON filter cannot tell where the text has a ``\\u`` or ``\\/`` escape,
        which spells a character another way (RFC 8259, section 7), one of the two
        characters that Python lowers to ASCII letters (both found by the sentinel
        patterns), or, for a literal outside ASCII, any text that is not ASCII (only
        ASCII case is folded)."""
        json = bucket.json_filter
        if text is None or json is None or (json.wide and not text.isascii()):
            return self._keyword_candidates(bucket, fields)
        literals: list[int] = []
        json.filter.db.scan(text, match_event_handler=collect, context=literals)
        if not literals:
            return bucket.keyword_always
        if max(literals) >= json.filter.sentinels:
            return self._keyword_candidates(bucket, fields)
        routed = json.filter.route(literals, bucket.keyword_anchored, json.routes)
        return [*bucket.keyword_always, *routed]

    def _keyword_candidates(self, bucket: _Bucket, fields: Mapping[str, Any]) -> list[int]:
        """The keyword rules of ``bucket`` to evaluate, their literals looked for in the
        event's values: those without literals, and those whose literals are found."""
        candidates: list[int] = list(bucket.keyword_always)
        if bucket.keyword_anchored and self._keyword_filter is not None:
            candidates += self._keyword_filter.candidates(
                keyword_text(fields), bucket.keyword_anchored, bucket.keyword_routes
            )
        return candidates

    def _decide(
        self, candidates: list[int], fields: Mapping[str, Any], generic: bool
    ) -> tuple[int, ...]:
        """The candidates that match, remembered by the candidates and the values of the
        fields they read (a verdict depends on nothing else)."""
        cands = tuple(sorted(set(candidates)))
        if not self._memo_on:
            return self._evaluate(cands, fields, generic)
        verdicts = self._verdicts.get((cands, generic)) or self._verdicts_of(cands, generic)
        values = tuple(map(fields.get, verdicts.fields, verdicts.absent))
        key = (values, tuple(map(type, values)))
        try:
            found = verdicts.memo.get(key)
        except TypeError:  # an unhashable value (a list): evaluated, not remembered
            return self._evaluate(cands, fields, generic)
        if found is None:
            found = self._evaluate(cands, fields, generic)
            self._verdict_memo.put(verdicts.memo, key, found, chars_of(values))
        return found

    def _verdicts_of(self, cands: tuple[int, ...], generic: bool) -> _Verdicts:
        names = tuple(sorted(set().union(*(self.rules[i].fields for i in cands))))
        if len(self._verdicts) >= MAX_CANDIDATE_SETS:
            self._verdicts.clear()
            self._verdict_memo.drop_tables()
        verdicts = _Verdicts(names, (_ABSENT,) * len(names), self._verdict_memo.table())
        self._verdicts[(cands, generic)] = verdicts
        return verdicts

    def _evaluate(
        self, cands: tuple[int, ...], fields: Mapping[str, Any], generic: bool
    ) -> tuple[int, ...]:
        ctx = Ctx(fields)
        checks = self._checks
        if generic:
            # A generic log carries no log source, so a rule only applies to an event that
            # has at least one of the fields it reads: otherwise "not selection" rules for
            # Zeek or CloudTrail would fire on every unrelated JSON record.
            rules = self.rules
            return tuple(
                i
                for i in cands
                if (not rules[i].fields or any(f in fields for f in rules[i].fields))
                and checks[i](ctx)
            )
        return tuple(i for i in cands if checks[i](ctx))
