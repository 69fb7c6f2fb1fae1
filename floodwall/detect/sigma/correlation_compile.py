"""Compile a pySigma correlation rule into a plain ``CorrelationSpec`` (see
``correlation.py`` for what is supported and how the rules are evaluated)."""

from __future__ import annotations

from uuid import UUID

from sigma.correlations import SigmaCorrelationCondition, SigmaCorrelationRule

from floodwall.detect.sigma.correlation import (
    SUPPORTED_TYPES,
    CorrelationCompileError,
    CorrelationSpec,
)
from floodwall.detect.sigma.correlation_window import OPERATORS


def compile_correlation(rule: SigmaCorrelationRule) -> CorrelationSpec:
    """Compile a parsed correlation rule whose references were resolved by its collection."""
    title = rule.title or "(untitled)"
    if rule.id is None:
        raise CorrelationCompileError(f"correlation {title!r} has no id; findings need one")
    kind = rule.type.name.lower()
    if kind not in SUPPORTED_TYPES:
        raise CorrelationCompileError(f"correlation type {kind!r} is not supported ({title!r})")
    condition = rule.condition
    if not isinstance(condition, SigmaCorrelationCondition):
        raise CorrelationCompileError(f"extended boolean conditions are not supported ({title!r})")
    count = condition.count
    if isinstance(count, bool) or not isinstance(count, int):
        raise CorrelationCompileError(f"condition count {count!r} is not a whole number")
    op = condition.op.name.lower()
    if op not in OPERATORS:
        raise CorrelationCompileError(f"condition operator {op!r} is not supported")
    field = ""
    if kind == "value_count":
        ref = condition.fieldref
        names = [ref] if isinstance(ref, str) else list(ref or [])
        if len(names) != 1 or not names[0]:
            raise CorrelationCompileError(f"value_count needs exactly one field, got {ref!r}")
        field = names[0]
    rule_ids, lookup = _resolve_refs(rule, title)
    aliases: list[tuple[str, tuple[tuple[str, str], ...]]] = []
    for alias in rule.aliases:  # spec "Field Name Aliases": keys are rule names or ids
        pairs: list[tuple[str, str]] = []
        for alias_ref, source_field in alias.mapping.items():
            if alias_ref.reference not in lookup:
                raise CorrelationCompileError(
                    f"alias {alias.alias!r} names {alias_ref.reference!r}, which the correlation "
                    f"{title!r} does not reference"
                )
            pairs.append((lookup[alias_ref.reference], str(source_field)))
        aliases.append((alias.alias, tuple(pairs)))
    return CorrelationSpec(
        id=str(rule.id),
        title=title,
        name=rule.name or "",
        level=rule.level.name.lower() if rule.level is not None else "",
        author=rule.author or "",
        description=rule.description or "",
        license=rule.license or "",
        tags=tuple(f"{tag.namespace}.{tag.name}" for tag in rule.tags),
        references=tuple(str(r) for r in rule.references),
        source=str(rule.source.path) if rule.source is not None else "",
        type=kind,
        rule_refs=tuple(rule_ids),
        group_by=tuple(rule.group_by or ()),
        timespan_seconds=rule.timespan.seconds,
        op=op,
        count=count,
        field=field,
        aliases=tuple(aliases),
        generate=bool(rule.generate),
    )


def _resolve_refs(rule: SigmaCorrelationRule, title: str) -> tuple[list[str], dict[str, str]]:
    """Map the "rules" references (spec "Related rules": id or name) to base-rule ids."""
    rule_ids: list[str] = []
    lookup: dict[str, str] = {}
    for ref in rule.rules or ():
        target = getattr(ref, "rule", None)  # set by SigmaCollection's resolution
        if isinstance(target, SigmaCorrelationRule):
            raise CorrelationCompileError(
                f"{title!r} references the correlation {ref.reference!r}; "
                "correlations of correlations are not supported"
            )
        if target is None:
            try:
                rule_id = str(UUID(ref.reference))
            except ValueError:
                raise CorrelationCompileError(
                    f"{title!r} references {ref.reference!r}, which is not in its collection"
                ) from None
        elif target.id is None:
            raise CorrelationCompileError(
                f"{title!r} references {ref.reference!r}, which has no id"
            )
        else:
            rule_id = str(target.id)
            if target.name:
                lookup[target.name] = rule_id
        lookup[ref.reference] = rule_id
        lookup[rule_id] = rule_id
        rule_ids.append(rule_id)
    if not rule_ids:
        raise CorrelationCompileError(f"{title!r} references no rules")
    return rule_ids, lookup
