"""Thin adapter over ``stix2``'s pattern parser: a STIX 2.1 pattern -> the values it names.

A pattern can be matched one value at a time only when it is a disjunction of single
comparisons (STIX 2.1 §9): ``[ipv4-addr:value = '1.2.3.4' OR domain-name:value = 'x']``,
``[a] OR [b]``, ``IN (...)``, and ``ISSUBSET 'cidr'`` for addresses. ``AND`` of hashes of
one ``file`` is accepted too: every hash names the same file. Everything else (``AND``
across properties or observations, ``FOLLOWEDBY``, ``MATCHES``/``LIKE``, ``NOT``, ``!=``,
``>``, qualifiers such as ``WITHIN``/``REPEATS``/``START``) needs a correlation engine, and
comes back as ``Unrepresentable`` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stix2 import patterns as sp
from stix2.pattern_visitor import create_pattern_object

from floodwall.enrich.intel.indicator import IndicatorType

#: Longest pattern given to the parser (an ANTLR parse of megabytes takes minutes).
MAX_PATTERN = 64 * 1024

_HASHES: dict[str, IndicatorType] = {
    "md5": "md5", "sha-1": "sha1", "sha1": "sha1", "sha-256": "sha256", "sha256": "sha256",
}  # fmt: skip
_VALUE_PATHS: dict[tuple[str, str], IndicatorType] = {
    ("ipv4-addr", "value"): "ip",
    ("ipv6-addr", "value"): "ip",
    ("domain-name", "value"): "domain",
    ("url", "value"): "url",
    ("email-addr", "value"): "email",
    ("email-message", "from_ref.value"): "email",
    ("email-message", "sender_ref.value"): "email",
    ("network-traffic", "dst_ref.value"): "ip",
    ("network-traffic", "src_ref.value"): "ip",
}


@dataclass(frozen=True, slots=True)
class Comparison:
    """One value a pattern names: ``type`` is an indicator type, ``value`` as written."""

    type: IndicatorType
    value: str


@dataclass(frozen=True, slots=True)
class Parsed:
    """What a pattern names, and the reasons for the parts that cannot be represented."""

    found: list[Comparison] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


class Unrepresentable(ValueError):
    """The pattern is valid STIX but cannot become per-value indicators."""


class PatternSyntaxError(ValueError):
    """The pattern is not valid STIX 2.1 pattern syntax."""


def _path_name(path: Any) -> tuple[str, str]:
    names = []
    for component in path.property_path:
        if not isinstance(component, sp.BasicObjectPathComponent):
            raise Unrepresentable("list or reference index in object path")
        names.append(str(component.property_name))
    return str(path.object_type_name), ".".join(names)


def _target(path: Any) -> IndicatorType:
    obj, prop = _path_name(path)
    if obj == "file" and prop.startswith("hashes."):
        algo = prop.removeprefix("hashes.").strip("'").lower()
        if algo in _HASHES:
            return _HASHES[algo]
        raise Unrepresentable(f"hash algorithm {algo!r} is not MD5, SHA-1 or SHA-256")
    kind = _VALUE_PATHS.get((obj, prop))
    if kind is None:
        raise Unrepresentable(f"object path {obj}:{prop} names no indicator type")
    return kind


def _strings(rhs: Any) -> list[str]:
    constants = rhs.value if isinstance(rhs, sp.ListConstant) else [rhs]
    out = []
    for c in constants:
        if not isinstance(c, sp.StringConstant) or not isinstance(c.value, str):
            raise Unrepresentable("comparison against a non-string constant")
        out.append(c.value)
    return out


def _comparison(expr: Any) -> list[Comparison]:
    if getattr(expr, "negated", False):
        raise Unrepresentable("negated comparison (NOT / !=)")
    subset = isinstance(expr, sp.IsSubsetComparisonExpression)
    if not subset and not isinstance(
        expr, sp.EqualityComparisonExpression | sp.InComparisonExpression
    ):
        raise Unrepresentable(f"comparison operator {expr.operator} is not =, IN or ISSUBSET")
    kind = _target(expr.lhs)
    if subset:
        if kind != "ip":
            raise Unrepresentable("ISSUBSET on something other than an IP address")
        return [Comparison("cidr", v) for v in _strings(expr.rhs)]
    return [Comparison(kind, v) for v in _strings(expr.rhs)]


def _either(operands: list[Any], parse: Any, out: Parsed) -> None:
    """OR: every branch that can be represented indicates on its own."""
    for op in operands:
        try:
            parse(op, out)
        except Unrepresentable as exc:
            out.skipped.append(str(exc))


def _comparison_expression(expr: Any, out: Parsed) -> None:
    if isinstance(expr, sp.ParentheticalExpression):
        _comparison_expression(expr.expression, out)
    elif isinstance(expr, sp.OrBooleanExpression):
        _either(expr.operands, _comparison_expression, out)
    elif isinstance(expr, sp.AndBooleanExpression):
        inner = Parsed()
        try:
            for op in expr.operands:
                _comparison_expression(op, inner)
        except Unrepresentable:
            inner.skipped.append("AND")
        if inner.skipped or not all(c.type in ("md5", "sha1", "sha256") for c in inner.found):
            raise Unrepresentable("AND of comparisons (needs all of them on one object)")
        out.found.extend(inner.found)  # hashes of one file: each one names it
    elif isinstance(expr, sp._ComparisonExpression):
        out.found.extend(_comparison(expr))
    else:
        raise Unrepresentable(f"unsupported expression {type(expr).__name__}")


def _observation(expr: Any, out: Parsed) -> None:
    if isinstance(expr, sp.ObservationExpression):
        _comparison_expression(expr.operand, out)
    elif isinstance(expr, sp.ParentheticalExpression):
        _observation(expr.expression, out)
    elif isinstance(expr, sp.OrObservationExpression):
        _either(expr.operands, _observation, out)
    elif isinstance(expr, sp.AndObservationExpression):
        raise Unrepresentable("AND of observations (needs several events)")
    elif isinstance(expr, sp.FollowedByObservationExpression):
        raise Unrepresentable("FOLLOWEDBY (needs an ordered sequence of events)")
    elif isinstance(expr, sp.QualifiedObservationExpression):
        qualifier = type(expr.qualifier).__name__.removesuffix("Qualifier").upper()
        raise Unrepresentable(f"{qualifier} qualifier (needs event timing)")
    else:
        raise Unrepresentable(f"unsupported expression {type(expr).__name__}")


def comparisons(pattern: str, version: str = "2.1") -> Parsed:
    """The values a pattern names, and why the parts that name none were left out.

    Raises ``PatternSyntaxError`` for invalid syntax. An ``OR`` keeps its representable
    branches and reports the others in ``skipped``.
    """
    out = Parsed()
    if len(pattern) > MAX_PATTERN:
        # Not parsed at all: the ANTLR parser's cost grows with the input.
        out.skipped.append(f"pattern longer than {MAX_PATTERN} characters")
        return out
    try:
        tree = create_pattern_object(pattern, version=version)
    except RecursionError:
        raise PatternSyntaxError("pattern nested too deeply") from None
    except Exception as exc:  # the ANTLR-based parser raises bare Exceptions on bad syntax
        raise PatternSyntaxError(
            f"invalid STIX pattern: {str(exc).splitlines()[0][:200]}"
        ) from None
    try:
        _observation(tree, out)
    except Unrepresentable as exc:
        out.skipped.append(str(exc))
    return out
