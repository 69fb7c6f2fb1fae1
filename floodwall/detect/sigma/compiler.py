"""Lower a pySigma rule to Floodwall's compiled form (``ir.CompiledRule``).

pySigma has already applied every value modifier (contains, base64offset, windash,
utf16, re flags, cidr, fieldref, comparisons, expand ...) and resolved the condition
grammar (``1 of``, ``all of``, ``them``, wildcards, parentheses, ``not``) into a tree of
AND/OR/NOT over field=value leaves. This module only translates that tree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
)

from floodwall.detect.sigma.anchors import node_clauses, node_event_ids
from floodwall.detect.sigma.ir import CompiledRule, LogSource, Node

_RE_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
    SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
    SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
}
_CMP = {
    CompareOperators.LT: "lt",
    CompareOperators.LTE: "lte",
    CompareOperators.GT: "gt",
    CompareOperators.GTE: "gte",
    CompareOperators.NEQ: "neq",
}
#: Expanding a placeholder list multiplies values; cap it as pySigma does.
_MAX_EXPANSION = 200


class RuleCompileError(ValueError):
    """A rule uses something Floodwall cannot evaluate; the message is shown to the user."""


def compile_rule(
    rule: SigmaRule,
    *,
    path: str,
    link: str,
    placeholders: Mapping[str, Sequence[str]],
) -> CompiledRule:
    """Compile one parsed Sigma rule. Raises ``RuleCompileError`` with a readable reason."""
    if rule.errors:
        raise RuleCompileError("; ".join(str(e) for e in rule.errors))
    conditions = []
    fields: set[str] = set()
    for cond in rule.detection.parsed_condition:
        try:
            tree = cond.parsed
        except Exception as exc:  # pySigma raises several exception types for bad conditions
            raise RuleCompileError(f"condition {cond.condition!r}: {exc}") from exc
        conditions.append(_node(tree, placeholders, fields))
    detection: Node = conditions[0] if len(conditions) == 1 else ("or", tuple(conditions))
    ls = rule.logsource
    return CompiledRule(
        id=str(rule.id) if rule.id else "",
        name=rule.name,
        title=rule.title,
        level=str(rule.level).lower() if rule.level else "medium",
        status=str(rule.status).lower() if rule.status else "",
        author=rule.author or "",
        description=rule.description or "",
        tags=tuple(f"{t.namespace}.{t.name}" for t in rule.tags),
        references=tuple(rule.references),
        falsepositives=tuple(str(f) for f in rule.falsepositives),
        path=path,
        link=link,
        logsource=LogSource(ls.product, ls.category, ls.service),
        detection=detection,
        fields=tuple(sorted(fields)),
        clauses=node_clauses(detection),
        event_ids=node_event_ids(detection),
        generate=rule._output,
    )


def _node(item: Any, ph: Mapping[str, Sequence[str]], fields: set[str]) -> Node:
    if isinstance(item, ConditionAND):
        return ("and", tuple(_node(a, ph, fields) for a in item.args))
    if isinstance(item, ConditionOR):
        return ("or", tuple(_node(a, ph, fields) for a in item.args))
    if isinstance(item, ConditionNOT):
        return ("not", _node(item.args[0], ph, fields))
    if isinstance(item, ConditionFieldEqualsValueExpression):
        fields.add(item.field)
        return _leaf(item.field, item.value, ph, fields)
    if isinstance(item, ConditionValueExpression):
        return _leaf(None, item.value, ph, fields)
    raise RuleCompileError(f"unsupported condition element {type(item).__name__}")


def _either(field: str | None, matchers: list[tuple[Any, ...]]) -> Node:
    leaves: list[Node] = [("field", field, m) if field else ("kw", m) for m in matchers]
    return leaves[0] if len(leaves) == 1 else ("or", tuple(leaves))


def _leaf(field: str | None, value: Any, ph: Mapping[str, Sequence[str]], fields: set[str]) -> Node:
    if isinstance(value, SigmaExpansion):
        # Values expanded by a modifier (windash, base64offset) are OR-linked (pySigma docs).
        return ("or", tuple(_leaf(field, v, ph, fields) for v in value.values))
    if (
        field is None
        and isinstance(value, SigmaNumber)
        and not isinstance(value, SigmaTimestampPart)
    ):
        # A bare number in a keyword list is searched for as text.
        value = SigmaString(str(value.number))
    if isinstance(value, SigmaString):
        return _either(field, _string_matchers(value, ph, keyword=field is None))
    if field is None:
        raise RuleCompileError(f"keyword search with a {type(value).__name__} value")
    return ("field", field, _value_matcher(value, fields))


def _value_matcher(value: Any, fields: set[str]) -> tuple[Any, ...]:
    if isinstance(value, SigmaTimestampPart):
        return ("ts", value.timestamp_part.name.lower(), value.number)
    if isinstance(value, SigmaBool):
        return ("bool", bool(value.boolean))
    if isinstance(value, SigmaNumber):
        return ("num", value.number)
    if isinstance(value, SigmaNull):
        return ("null",)
    if isinstance(value, SigmaExists):
        return ("exists", bool(value.exists))
    if isinstance(value, SigmaRegularExpression):
        flags = 0
        for flag in value.flags:
            flags |= _RE_FLAGS[flag]
        pattern = value.regexp.to_plain()
        try:
            re.compile(pattern, flags)
        except re.error as exc:
            raise RuleCompileError(f"regular expression {pattern!r}: {exc}") from exc
        return ("re", pattern, flags)
    if isinstance(value, SigmaCIDRExpression):
        return ("cidr", str(value.network))
    if isinstance(value, SigmaCompareExpression):
        return ("cmp", _CMP[value.op], value.number.number)
    if isinstance(value, SigmaFieldReference):
        fields.add(value.field)
        kind = "ct" if value.starts_with and value.ends_with else "eq"
        if value.starts_with != value.ends_with:
            kind = "sw" if value.starts_with else "ew"
        return ("ref", value.field, kind)
    raise RuleCompileError(f"unsupported value type {type(value).__name__}")


def _expand_placeholders(
    s: SigmaString, ph: Mapping[str, Sequence[str]]
) -> list[list[str | SpecialChars]]:
    """Replace ``%name%`` placeholders (``expand`` modifier) by every configured value."""
    variants: list[list[str | SpecialChars]] = [[]]
    for part in s.s:
        if isinstance(part, Placeholder):
            values = ph.get(part.name)
            if not values:
                raise RuleCompileError(
                    f"placeholder %{part.name}% has no value (set it under [placeholders])"
                )
            variants = [[*v, str(x)] for v in variants for x in values]
            if len(variants) > _MAX_EXPANSION:
                raise RuleCompileError(f"placeholder %{part.name}% expands past {_MAX_EXPANSION}")
        else:
            variants = [[*v, part] for v in variants]
    return variants


def _string_matchers(
    s: SigmaString, ph: Mapping[str, Sequence[str]], *, keyword: bool
) -> list[tuple[Any, ...]]:
    cased = isinstance(s, SigmaCasedString)
    out = []
    for parts in _expand_placeholders(s, ph):
        merged = _merge(parts)
        if keyword:
            # A keyword is a full-text search: it may occur anywhere in a value.
            merged = _strip_wild(merged)
            merged = [SpecialChars.WILDCARD_MULTI, *merged, SpecialChars.WILDCARD_MULTI]
        out.append(_classify(merged, cased))
    return out


def _merge(parts: list[str | SpecialChars]) -> list[str | SpecialChars]:
    merged: list[str | SpecialChars] = []
    for p in parts:
        if isinstance(p, str) and merged and isinstance(merged[-1], str):
            merged[-1] += p
        elif not (p == SpecialChars.WILDCARD_MULTI and merged and merged[-1] == p):
            merged.append(p)
    return merged


def _strip_wild(parts: list[str | SpecialChars]) -> list[str | SpecialChars]:
    while parts and parts[0] == SpecialChars.WILDCARD_MULTI:
        parts = parts[1:]
    while parts and parts[-1] == SpecialChars.WILDCARD_MULTI:
        parts = parts[:-1]
    return parts


def _classify(parts: list[str | SpecialChars], cased: bool) -> tuple[Any, ...]:
    """Pick the cheapest exact test for a wildcard pattern: equality, prefix, suffix, infix."""
    star = SpecialChars.WILDCARD_MULTI
    lead = bool(parts) and parts[0] == star
    trail = len(parts) > 1 and parts[-1] == star
    inner = parts[1 if lead else 0 : len(parts) - 1 if trail else len(parts)]
    if all(isinstance(p, str) for p in inner) and len(inner) <= 1:
        text = str(inner[0]) if inner else ""
        text = text if cased else text.lower()
        kind = {(False, False): "eq", (False, True): "sw", (True, False): "ew", (True, True): "ct"}
        return ("str", kind[(lead, trail)], text, cased)
    regex = "".join(
        re.escape(p) if isinstance(p, str) else (".*" if p == star else ".") for p in parts
    )
    longest = max((p for p in parts if isinstance(p, str)), key=len, default="")
    return ("str", "glob", regex, cased, longest.lower())
