"""Turn a compiled detection tree into one Python closure per rule.

Matching follows the Sigma specification: strings compare case-insensitively unless
``cased``; a multi-valued field matches if any value does; ``null`` matches a missing
or empty field; numbers compare numerically; a keyword matches any value of the event.
"""

from __future__ import annotations

import ipaddress
import operator
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import ahocorasick
import hyperscan

from floodwall.detect.sigma.ir import Node
from floodwall.detect.sigma.prefilter import HyperscanCache

#: From this many infixes on one field, one Aho-Corasick pass beats a loop of ``in``.
AHO_MIN = 8


class Ctx:
    """One event being evaluated: its fields, and string forms computed at most once."""

    __slots__ = ("_all", "_low", "_str", "_text", "fields")

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self.fields = fields
        self._str: dict[str, tuple[str, ...]] = {}
        self._low: dict[str, tuple[str, ...]] = {}
        self._all: tuple[str, ...] | None = None
        self._text: str | None = None

    def strs(self, name: str) -> tuple[str, ...]:
        """The field's values as strings (empty when missing or null)."""
        got = self._str.get(name)
        if got is None:
            got = self._str[name] = as_strings(self.fields.get(name))
        return got

    def lows(self, name: str) -> tuple[str, ...]:
        """The field's values as lowered strings."""
        got = self._low.get(name)
        if got is None:
            value = self.fields.get(name)
            # Most values are one string: no generator for them (the hot path).
            got = self._low[name] = (
                (value.lower(),)
                if type(value) is str
                else tuple([s.lower() for s in self.strs(name)])
            )
        return got

    def all_lows(self) -> tuple[str, ...]:
        """Every value of the event, lowered: what a keyword search looks at."""
        if self._all is None:
            out: list[str] = []
            for v in self.fields.values():
                out.extend(s.lower() for s in as_strings(v))
            self._all = tuple(out)
        return self._all

    def all_text(self) -> str:
        """Every value, joined by NUL (which no keyword contains), then lowered once."""
        if self._text is None:
            self._text = "\0".join([text_of(v) for v in self.fields.values()]).lower()
        return self._text


def text_of(value: Any) -> str:
    """A value's strings joined by NUL: one list comprehension per event stays in C for
    the common str and int values."""
    t = type(value)
    if t is str:
        return value  # type: ignore[no-any-return]
    if t is int:
        return str(value)
    return "\0".join(as_strings(value))


def as_strings(value: Any) -> tuple[str, ...]:
    """A field value as the strings a Sigma string pattern is compared with."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, bool):
        return ("true" if value else "false",)
    if isinstance(value, list | tuple):
        out: list[str] = []
        for v in value:
            out.extend(as_strings(v))
        return tuple(out)
    return (str(value),)


def _values(value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    return [] if value is None else [value]


def _as_number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            return None
    return None


Check = Callable[[Ctx], bool]
_CMP = {"lt": operator.lt, "lte": operator.le, "gt": operator.gt, "gte": operator.ge,
        "neq": operator.ne}  # fmt: skip


def build(node: Node, hs: HyperscanCache | None = None) -> Check:
    """The closure that evaluates ``node`` on a ``Ctx``; ``hs`` compiles rule regexes."""
    hs = hs or HyperscanCache()
    kind = node[0]
    if kind == "and":
        return _all_of(tuple(build(n, hs) for n in node[1]))
    if kind == "or":
        return _any_of(_grouped_or(node[1], hs))
    if kind == "not":
        inner = build(node[1], hs)
        return lambda c: not inner(c)
    if kind == "kw":
        m = node[1]
        if m[1] == "ct" and "\0" not in m[2]:
            text = m[2]
            return lambda c: text in c.all_text()
        test = _string_test(m, hs)
        return lambda c: any(test(v) for v in c.all_lows())
    if kind == "field":
        return _field(node[1], node[2], hs)
    raise ValueError(f"unknown node {kind!r}")


def _grouped_or(children: tuple[Node, ...], hs: HyperscanCache) -> tuple[Check, ...]:
    """OR-ed plain string tests on one field become one test per field, so that a list of
    100 values costs a set lookup, two C-level prefix/suffix calls and one regex search
    instead of 100 Python calls."""
    groups: dict[str, list[tuple[str, str]]] = {}
    rest: list[Check] = []
    numbers: dict[str, list[float]] = {}
    globs: dict[tuple[str, bool], list[str]] = {}
    for child in children:
        if child[0] == "field" and child[2][0] == "num":
            numbers.setdefault(child[1], []).append(float(child[2][1]))
        elif child[0] == "field" and child[2][0] == "str" and child[2][1] == "glob":
            globs.setdefault((child[1], bool(child[2][3])), []).append(child[2][2])
        elif (
            child[0] == "field"
            and child[2][0] == "str"
            and not child[2][3]
            and child[2][1] != "glob"
        ):
            groups.setdefault(child[1], []).append((child[2][1], child[2][2]))
        else:
            rest.append(build(child, hs))
    for name, tests in groups.items():
        rest.insert(0, _field_any(name, tests))
    for name, wanted in numbers.items():
        rest.insert(0, _number_in(name, frozenset(wanted)))
    # Wildcard values of one field (`` -e* JAB``, `` -e* SUVYI`` ...) are one Hyperscan
    # scan per value for all of them, not one scan each.
    for (name, cased), regexes in globs.items():
        text = "|".join(f"(?:{r})" for r in regexes)
        rest.append(_field(name, ("str", "glob", text, cased), hs))
    return tuple(rest)


def _number_in(name: str, wanted: frozenset[float]) -> Check:
    """Field equals one of ``wanted`` numerically (``DestinationPort: [4444, 8080]``)."""
    texts = frozenset(str(int(w)) if w.is_integer() else str(w) for w in wanted)

    def check(c: Ctx) -> bool:
        v = c.fields.get(name)
        if type(v) is int:
            return v in wanted
        if type(v) is str and v in texts:
            return True
        return any(_as_number(x) in wanted for x in _values(v))

    return check


def _field_any(name: str, tests: list[tuple[str, str]]) -> Check:
    eq = frozenset(t for k, t in tests if k == "eq")
    sw = tuple(t for k, t in tests if k == "sw")
    ew = tuple(t for k, t in tests if k == "ew")
    # A loop of C-level substring searches beats a regex alternation, which Python's
    # backtracking engine tries alternative by alternative at every position; long
    # lists get an Aho-Corasick automaton (one pass for all of them).
    ct = tuple(t for k, t in tests if k == "ct")
    if len(ct) >= AHO_MIN:
        automaton = ahocorasick.Automaton()
        for t in ct:
            automaton.add_word(t, t)
        automaton.make_automaton()
        ct = ()
    else:
        automaton = None

    def check(c: Ctx) -> bool:
        for v in c.lows(name):
            if v in eq or (sw and v.startswith(sw)) or (ew and v.endswith(ew)):
                return True
            for t in ct:
                if t in v:
                    return True
            if automaton is not None and next(automaton.iter(v), None) is not None:
                return True
        return False

    return check


# Plain loops and two-way specialisations: a generator per ``all``/``any`` call costs
# more than the tests themselves on the hot path.
def _all_of(parts: tuple[Check, ...]) -> Check:
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        a, b = parts
        return lambda c: a(c) and b(c)

    def check(c: Ctx) -> bool:
        for p in parts:
            if not p(c):
                return False
        return True

    return check


def _any_of(parts: tuple[Check, ...]) -> Check:
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        a, b = parts
        return lambda c: a(c) or b(c)

    def check(c: Ctx) -> bool:
        for p in parts:
            if p(c):
                return True
        return False

    return check


def _each(values: Callable[[Ctx], tuple[str, ...]], test: Callable[[str], bool]) -> Check:
    def check(c: Ctx) -> bool:
        for v in values(c):
            if test(v):
                return True
        return False

    return check


def _string_test(m: tuple[Any, ...], hs: HyperscanCache | None = None) -> Callable[[str], bool]:
    _, kind, text, cased = m[:4]
    if kind == "eq":
        return lambda v: v == text
    if kind == "sw":
        return lambda v: v.startswith(text)
    if kind == "ew":
        return lambda v: v.endswith(text)
    if kind == "ct":
        return lambda v: text in v
    # A wildcard pattern is a whole-value regex; Hyperscan runs it in linear time, where
    # re.fullmatch on "*a*b*c" backtracks over a hostile 100 KB value.
    flags = re.DOTALL if cased else re.DOTALL | re.IGNORECASE
    # Python's \Z is PCRE's \z: the very end, not before a final newline.
    return regex_search(rf"\A(?:{text})\Z", flags, hs or HyperscanCache(), rf"\A(?:{text})\z")


def _field(name: str, m: tuple[Any, ...], hs: HyperscanCache) -> Check:
    kind = m[0]
    if kind == "str":
        test = _string_test(m, hs)
        if m[3] or m[1] == "glob":  # cased, or a regex that folds case itself
            return _each(lambda c: c.strs(name), test)
        return _each(lambda c: c.lows(name), test)
    if kind == "re":
        return _each(lambda c: c.strs(name), regex_search(m[1], m[2], hs))
    if kind == "num":
        return _number_in(name, frozenset([float(m[1])]))
    if kind == "bool":
        text = "true" if m[1] else "false"
        return lambda c: text in c.lows(name)
    if kind == "null":
        return lambda c: not any(c.strs(name))
    if kind == "exists":
        present = bool(m[1])
        return lambda c: (name in c.fields and c.fields[name] is not None) == present
    if kind == "cidr":
        net = ipaddress.ip_network(m[1])
        return lambda c: any(_in_network(v, net) for v in c.strs(name))
    if kind == "cmp":
        op, want = _CMP[m[1]], float(m[2])
        return lambda c: any(
            (n := _as_number(v)) is not None and op(n, want) for v in _values(c.fields.get(name))
        )
    if kind == "ref":
        other, mode = m[1], m[2]
        return lambda c: any(_ref_test(mode, v, o) for v in c.lows(name) for o in c.lows(other))
    if kind == "ts":
        part, want = m[1], int(m[2])
        return lambda c: any(_time_part(v, part) == want for v in c.strs(name))
    raise ValueError(f"unknown matcher {kind!r}")


def _stop(*_: Any) -> bool:
    return True  # the first match answers the question; stop scanning


def regex_search(
    pattern: str, flags: int, hs: HyperscanCache, hs_pattern: str | None = None
) -> Callable[[str], bool]:
    """``re.search`` semantics, run by Hyperscan where it can compile the pattern.

    Hyperscan scans in linear time, so an attacker's 100 KB command line cannot make a
    backtracking rule regex (``\\w+`...``) take seconds. Patterns Hyperscan refuses
    (back-references, look-arounds) and text that is not valid UTF-8 use ``re``.
    Compiled on first use: most rules never get that far.
    """
    rx = re.compile(pattern, flags)
    compiled: list[Any] = []

    def database() -> Any:
        if not compiled:
            compiled.append(hs.regex(hs_pattern or pattern, flags))
        return compiled[0]

    def search(v: str) -> bool:
        db = database()
        if db is None:
            return rx.search(v) is not None
        try:
            data = v.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: Hyperscan's UTF-8 mode needs valid text
            return rx.search(v) is not None
        try:
            db.scan(data, match_event_handler=_stop)
        except hyperscan.ScanTerminated:
            return True
        return False

    return search


def _ref_test(mode: str, value: str, other: str) -> bool:
    if mode == "eq":
        return value == other
    if mode == "sw":
        return value.startswith(other)
    if mode == "ew":
        return value.endswith(other)
    return other in value


def _in_network(value: str, net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    try:
        return ipaddress.ip_address(value.strip()) in net
    except ValueError:
        return False


def _time_part(value: str, part: str) -> int | None:
    try:
        t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if part == "week":
        return t.isocalendar().week
    return int(getattr(t, part))
