"""Sigma correlation rules (Sigma correlation rules specification v2, "meta rules").

``correlation_compile.compile_correlation`` turns a pySigma ``SigmaCorrelationRule`` into
a plain, picklable ``CorrelationSpec``; ``CorrelationEngine`` is fed the base-rule matches
of a run, in any order, and ``finish`` sorts them by time and slides the windows described in
``correlation_window`` (which also states the de-duplication rule); ``finding_from_match``
turns a ``CorrelationMatch`` into a ``Finding``.

Supported: event_count, value_count, temporal and temporal_ordered, with ``group-by``,
``timespan``, one condition operator (gt, gte, lt, lte, eq and pySigma's neq),
``aliases`` and ``generate``. Refused with a reason: the metric types (value_sum ...),
extended boolean conditions, fractional counts, and correlations of correlations.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, cast

from floodwall.detect.sigma.correlation_window import (
    CorrelationMatch,
    CorrelationStats,
    Item,
    WindowHit,
    WindowSweep,
    condition_test,
    format_time_us,
    parse_time_us,
)
from floodwall.records import Event, Finding, Observable, RuleRef, Severity

SUPPORTED_TYPES = ("event_count", "value_count", "temporal", "temporal_ordered")
_ATTACK_TAG = re.compile(r"attack\.t(\d{4})(?:\.(\d{3}))?", re.IGNORECASE)
DETECTOR = "sigma.correlation"
__all__ = [
    "CorrelationCompileError",
    "CorrelationEngine",
    "CorrelationMatch",
    "CorrelationSpec",
    "CorrelationStats",
    "finding_from_match",
]


class CorrelationCompileError(ValueError):
    """A correlation rule this engine cannot evaluate; the message says why."""


@dataclass(frozen=True, slots=True)
class CorrelationSpec:
    """One compiled correlation rule: plain values only, so it pickles into the rule cache."""

    id: str
    title: str
    name: str
    level: str
    author: str
    description: str
    license: str
    tags: tuple[str, ...]
    references: tuple[str, ...]
    source: str  # the rule file's path, "" when parsed from a string
    type: str  # one of SUPPORTED_TYPES
    rule_refs: tuple[str, ...]  # referenced base rules' ids, in the listed order
    group_by: tuple[str, ...]
    timespan_seconds: int
    op: str  # gt | gte | lt | lte | eq | neq
    count: int
    field: str  # value_count's field ("" for the other types)
    aliases: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]  # alias -> (rule id, field)
    generate: bool  # spec "Generate": base rules also report on their own


def _text(value: object) -> str | None:
    """A field value as grouping text; absent and empty values count as missing."""
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


class CorrelationEngine:
    """Evaluates compiled correlations over the base-rule matches of one run.

    Group-by fields and value_count's field are read from ``Event.fields``; an alias
    (spec "Aliases") names each rule's own field, and a rule the alias does not list
    uses the alias name itself. Matches lacking a group-by or counted field, or a usable
    time, are left out and counted in ``stats()``. Values compare as exact text.
    """

    name: ClassVar[str] = "sigma_correlation"

    def __init__(self, specs: Sequence[CorrelationSpec]) -> None:
        """Index the specs by the base rules they reference."""
        self._specs = tuple(specs)
        self._by_rule: dict[str, list[int]] = {}
        self._fields: list[dict[str, tuple[tuple[str, ...], str]]] = []
        for index, spec in enumerate(self._specs):
            alias_map = {alias: dict(pairs) for alias, pairs in spec.aliases}
            per_rule: dict[str, tuple[tuple[str, ...], str]] = {}
            for rule_id in dict.fromkeys(spec.rule_refs):
                self._by_rule.setdefault(rule_id, []).append(index)
                group = tuple(alias_map.get(g, {}).get(rule_id, g) for g in spec.group_by)
                value = alias_map.get(spec.field, {}).get(rule_id, spec.field)
                per_rule[rule_id] = (group, value)
            self._fields.append(per_rule)
        self._pending: list[dict[tuple[str, ...], list[Item]]] = [{} for _ in self._specs]
        self._counts = {
            "fed": 0,
            "unreferenced": 0,
            "untimed": 0,
            "ungrouped": 0,
            "unvalued": 0,
            "max_window": 0,
        }

    def referenced_rule_ids(self) -> frozenset[str]:
        """The base rules whose matches the engine wants fed."""
        return frozenset(self._by_rule)

    def stats(self) -> CorrelationStats:
        """Counts since the engine was made, including the matches it could not use."""
        return CorrelationStats(**self._counts)

    def feed(self, rule_id: str, event: Event) -> None:
        """Record one base-rule match; the order of calls does not matter."""
        indexes = self._by_rule.get(rule_id)
        if not indexes:
            self._counts["unreferenced"] += 1
            return
        self._counts["fed"] += 1
        time_us = parse_time_us(event.timestamp)
        if time_us is None:
            self._counts["untimed"] += 1
            return
        for index in indexes:
            group_fields, value_field = self._fields[index][rule_id]
            maybe = tuple(_text(event.fields.get(name)) for name in group_fields)
            if None in maybe:
                self._counts["ungrouped"] += 1
                continue
            key = cast(tuple[str, ...], maybe)
            value = None
            if value_field:
                value = _text(event.fields.get(value_field))
                if value is None:
                    self._counts["unvalued"] += 1
                    continue
            self._pending[index].setdefault(key, []).append(
                Item(time_us, event.origin.path, event.origin.record_id, rule_id, value)
            )

    def finish(self) -> list[CorrelationMatch]:
        """Evaluate everything fed since the last ``finish`` and forget it.

        Matches come sorted by first time, then correlation id, then group.
        """
        matches: list[CorrelationMatch] = []
        for index, spec in enumerate(self._specs):
            pending, self._pending[index] = self._pending[index], {}
            test = condition_test(spec.op, spec.count)
            for key in sorted(pending):
                items = pending.pop(key)
                items.sort()
                sweep = WindowSweep(
                    spec.type,
                    spec.rule_refs,
                    spec.timespan_seconds * 1_000_000,
                    test,
                    spec.op in ("gt", "gte"),
                )
                hits = [hit for item in items for hit in sweep.push(item)]
                hits.extend(sweep.close())
                del items
                self._counts["max_window"] = max(self._counts["max_window"], sweep.max_held)
                group = tuple(zip(spec.group_by, key, strict=True))
                matches.extend(_match(spec, group, hit) for hit in hits)
        matches.sort(key=lambda m: (m.first, m.spec_id, m.group))
        return matches


def _match(
    spec: CorrelationSpec, group: tuple[tuple[str, str], ...], hit: WindowHit
) -> CorrelationMatch:
    """Label a window hit with its correlation and group."""
    return CorrelationMatch(
        spec_id=spec.id,
        title=spec.title,
        level=spec.level,
        group=group,
        first=format_time_us(hit.first_us),
        last=format_time_us(hit.last_us),
        count=hit.measure,
        events=hit.events,
        values=hit.values,
        rules=hit.rules,
        origins=hit.origins,
    )


def attack_ids(tags: Sequence[str]) -> tuple[str, ...]:
    """ATT&CK technique ids from Sigma tags: ``attack.t1059.001`` -> ``T1059.001``."""
    found: dict[str, None] = {}
    for tag in tags:
        hit = _ATTACK_TAG.fullmatch(tag.strip())
        if hit:
            found[f"T{hit[1]}" + (f".{hit[2]}" if hit[2] else "")] = None
    return tuple(found)


def _observables(group: tuple[tuple[str, str], ...]) -> tuple[Observable, ...]:
    """Group-by values that are IP addresses, worth looking up by the enrichers."""
    found: list[Observable] = []
    for _, value in group:
        try:
            found.append(Observable("ip", str(ipaddress.ip_address(value))))
        except ValueError:
            continue
    return tuple(found)


def finding_from_match(m: CorrelationMatch, spec: CorrelationSpec) -> Finding:
    """The ``Finding`` for one correlation match; ``event`` is None, origins are evidence."""
    return Finding(
        id=f"sigma.{spec.id}",
        title=spec.title,
        severity=Severity.parse(spec.level or None),
        attack=attack_ids(spec.tags),
        evidence={
            "correlation": spec.type,
            "group": dict(m.group),
            "condition": {spec.op: spec.count, **({"field": spec.field} if spec.field else {})},
            "timespan_seconds": spec.timespan_seconds,
            "count": m.count,
            "events": m.events,
            "first": m.first,
            "last": m.last,
            "values": list(m.values),
            "rules": list(m.rules),
            "origins": [{"path": path, "record_id": rec} for path, rec in m.origins],
        },
        observables=_observables(m.group),
        rule=RuleRef(
            id=spec.id,
            title=spec.title,
            author=spec.author,
            link=spec.source,
            license=spec.license,
            tags=spec.tags,
            references=spec.references,
        ),
        detector=DETECTOR,
    )
