"""The anchor filter: one Hyperscan database of many rules' anchors, and where its hits go.

A rule's anchors are in conjunctive form (``CompiledRule.clauses``, see ``anchors.py``):
a rule is a candidate once every one of its clauses has a pattern found. The engine
keeps one filter of field anchors (scanned in a field's tagged text, ``scantext.py``)
and one of keyword literals, in two spellings: as the values hold them, and as a JSON
line writes them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from floodwall.detect.sigma import scantext
from floodwall.detect.sigma.prefilter import HyperscanCache
from floodwall.detect.sigma.scantext import pcre_literal

Route = tuple[tuple[int, ...], tuple[tuple[int, int], ...]]

#: What Python's text of a float is made of (digits, point, exponent, sign).
FLOAT_CHARS = frozenset("0123456789.e+-")

#: Patterns after the literals of the JSON keyword filter: where one is found, the text
#: does not spell every value's characters as the literals do. A backslash that starts an
#: escape (the odd one of a run) before ``u`` or ``/``; KELVIN SIGN and LATIN CAPITAL
#: LETTER I WITH DOT ABOVE, the only characters whose lowercase holds ASCII letters.
JSON_SENTINELS = (
    rb"(?:^|[^\\])(?:\\\\)*\\[u/]",
    pcre_literal("\u212a"),
    pcre_literal("\u0130"),
)


class AnchorFilter:
    """One Hyperscan database of the rules' anchors; for each pattern, the (rule,
    clause bit) pairs it satisfies. A rule is a candidate once every clause has a hit."""

    def __init__(self, db: Any, pattern_rules: list[tuple[tuple[int, int], ...]],
                 full: dict[int, int]) -> None:  # fmt: skip
        self.db = db
        self.pattern_rules = pattern_rules
        self.full = full
        #: Patterns from here on are sentinels, not anchors (see ``_compile_prefilter``).
        self.sentinels = len(pattern_rules)

    def scan(self, text: bytes) -> list[int]:
        """The patterns found in ``text``, each once."""
        hits: list[int] = []
        self.db.scan(text, match_event_handler=collect, context=hits)
        return hits

    def candidates(
        self, text: bytes, allowed: frozenset[int], routes: dict[int, Route]
    ) -> list[int]:
        hits = self.scan(text)
        return self.route(hits, allowed, routes) if hits else []

    def route(
        self, hits: Sequence[int], allowed: frozenset[int], routes: dict[int, Route]
    ) -> list[int]:
        """The rules of ``allowed`` that ``hits`` make candidates."""
        out: list[int] = []
        seen: dict[int, int] = {}
        for h in hits:
            single, multi = routes.get(h) or self._route(allowed, routes, h)
            out.extend(single)
            for r, bit in multi:
                seen[r] = seen.get(r, 0) | bit
        if seen:
            full = self.full
            out.extend(r for r, m in seen.items() if m == full[r])
        return list(dict.fromkeys(out)) if len(hits) > 1 else out

    def _route(self, allowed: frozenset[int], routes: dict[int, Route], pattern: int) -> Route:
        """Where a pattern's hit goes in a bucket: rules of other log sources dropped,
        rules with one clause straight to the candidates."""
        pairs = [(r, bit) for r, bit in self.pattern_rules[pattern] if r in allowed]
        full = self.full
        route = (
            tuple(r for r, _ in pairs if full[r] == 1),
            tuple((r, bit) for r, bit in pairs if full[r] != 1),
        )
        routes[pattern] = route
        return route


def compile_filter(
    hs: HyperscanCache,
    kind: str,
    clauses: dict[int, tuple[frozenset[Any], ...]],
    pattern_of: Callable[[Any], bytes],
    caseless: bool = False,
    sentinels: Sequence[bytes] = (),
) -> AnchorFilter | None:
    by_item: dict[Any, list[tuple[int, int]]] = {}
    for i, rule_clauses in clauses.items():
        for bit, clause in enumerate(rule_clauses):
            # A clause is a frozenset, whose order changes with the string hash seed:
            # sorted, the patterns are numbered the same way every run (the cache key).
            for item in sorted(clause, key=_item_order) if len(clause) > 1 else clause:
                by_item.setdefault(item, []).append((i, 1 << bit))
    if not by_item:
        return None
    # Rules come in a fixed order (by path) and clauses are sorted, so insertion order
    # numbers the patterns the same way every run: sorting all 20,000 anchors instead
    # cost 40 ms of start-up.
    items = list(by_item)
    # Turning 30,000 anchors into patterns takes a tenth of a second, every run: the
    # cached database is found by the anchors and the code that makes patterns instead.
    key = f"{kind}\0{_pattern_fingerprint()}\0{items!r}\0{sentinels!r}"
    db = hs.keyed_patterns(
        key, lambda: [*(pattern_of(item) for item in items), *sentinels], caseless
    )
    full = {i: (1 << len(c)) - 1 for i, c in clauses.items()}
    return AnchorFilter(db, [tuple(by_item[item]) for item in items], full)


def keyword_clauses(
    clauses: tuple[frozenset[tuple[str | None, str, str]], ...],
) -> tuple[frozenset[str], ...]:
    """A keyword rule's clauses as literals to find anywhere in the event's values.

    A field anchor's text occurs in that field's value, so it also occurs among all the
    values: the literal is a weaker but sound condition. A clause with a number anchor
    (which may be written "025" or "2.5e1") or an empty text has no such literal and is
    left out.
    """
    out = []
    for clause in clauses:
        if all(mode != "num" and text for _, mode, text in clause):
            out.append(frozenset(text for _, _, text in clause))
    return tuple(out)


def _item_order(item: Any) -> Any:
    if isinstance(item, tuple):
        return (item[0] or "", item[1], item[2])
    return item


@cache
def _pattern_fingerprint() -> str:
    """The code that turns anchors into patterns: a cached database built by other code
    is not reused."""
    return hashlib.sha256(Path(scantext.__file__).read_bytes()).hexdigest()


def collect(pattern: int, start: int, end: int, flags: int, hits: list[int]) -> None:
    hits.append(pattern)
