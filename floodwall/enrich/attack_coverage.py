"""ATT&CK coverage: which techniques have rules or detectors, and which were seen.

Pure functions over plain inputs (the rule set's tags, the mail detectors' class
metadata, the attacks per technique from ``store/figures.py``), so the command line,
the console and the tests share them. ``navigator_layer`` writes an ATT&CK Navigator
layer in layer format 4.5 (github.com/mitre-attack/attack-navigator,
layers/spec/v4.5/layerformat.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from floodwall.enrich.attack import AttackEnricher, AttackProblem, Tactic, Technique

# Navigator 4.9.0 is the oldest that reads layer format 4.5 (the spec's Version object).
NAVIGATOR_VERSION = "5.1.0"
LAYER_VERSION = "4.5"
COLOR_COVERED = "#8ec843"  # a rule or detector exists, nothing seen
COLOR_SEEN = "#ffb000"  # seen, and a rule or detector exists
COLOR_SEEN_UNCOVERED = "#ff6666"  # seen, but no current rule names it


@dataclass(frozen=True, slots=True)
class TechniqueCoverage:
    """One technique: how many rules and mail detectors name it, how often it was seen."""

    technique: Technique
    rules: int
    detectors: tuple[str, ...]
    seen: int

    @property
    def is_covered(self) -> bool:
        return self.rules > 0 or bool(self.detectors)


@dataclass(frozen=True, slots=True)
class TacticCoverage:
    """One tactic column: its current techniques, how many are covered and seen."""

    tactic: Tactic
    techniques: int
    covered: int
    seen: int
    seen_uncovered: int


@dataclass(frozen=True, slots=True)
class Coverage:
    """The whole picture, plus ids that could not be mapped (with whose they were)."""

    attack_version: str
    tactics: tuple[TacticCoverage, ...]
    techniques: tuple[TechniqueCoverage, ...]  # covered or seen, by id
    problems: tuple[tuple[str, AttackProblem], ...]  # (rule or detector, problem)


def build_coverage(
    enricher: AttackEnricher,
    rule_tags: Iterable[tuple[str, tuple[str, ...]]],
    detectors: Iterable[tuple[str, tuple[str, ...]]],
    seen: Mapping[str, int],
) -> Coverage:
    """``rule_tags``: (rule title, Sigma tags); ``detectors``: (detector id, technique
    ids); ``seen``: attacks per technique id in the period."""
    rules: defaultdict[str, int] = defaultdict(int)
    by_detector: defaultdict[str, list[str]] = defaultdict(list)
    problems: list[tuple[str, AttackProblem]] = []
    for title, tags in rule_tags:
        m = enricher.from_sigma_tags(tags)
        for t in m.techniques:
            rules[t.id] += 1
        problems.extend((f"rule {title}", p) for p in m.problems)
    for det, ids in detectors:
        m = enricher.resolve(ids)
        for t in m.techniques:
            by_detector[t.id].append(det)
        problems.extend((f"detector {det}", p) for p in m.problems)
    seen_now: defaultdict[str, int] = defaultdict(int)
    for tid, n in seen.items():
        m = enricher.resolve([tid])
        for t in m.techniques:  # a revoked id seen counts under its replacement
            seen_now[t.id] += n
        problems.extend(("seen in the store", p) for p in m.problems)
    data = enricher.data
    items = {
        tid: TechniqueCoverage(
            data.techniques[tid], rules[tid], tuple(sorted(set(by_detector[tid]))), seen_now[tid]
        )
        for tid in sorted(set(rules) | set(by_detector) | set(seen_now))
    }
    tactics: list[TacticCoverage] = []
    for tactic in data.tactics:
        column = [t for t in data.current() if tactic.shortname in t.tactics]
        cov = [items[t.id] for t in column if t.id in items]
        tactics.append(
            TacticCoverage(
                tactic,
                len(column),
                sum(1 for c in cov if c.is_covered),
                sum(1 for c in cov if c.seen),
                sum(1 for c in cov if c.seen and not c.is_covered),
            )
        )
    return Coverage(data.version, tuple(tactics), tuple(items.values()), tuple(problems))


def coverage_json(c: Coverage, period: Mapping[str, str]) -> dict[str, Any]:
    """Stable keys and plain values for ``attack coverage --format json``."""
    return {
        "attack_version": c.attack_version,
        "period": dict(period),
        "tactics": [
            {"id": t.tactic.id, "shortname": t.tactic.shortname, "name": t.tactic.name,
             "techniques": t.techniques, "covered": t.covered, "seen": t.seen,
             "seen_uncovered": t.seen_uncovered}
            for t in c.tactics
        ],
        "techniques": [
            {"id": t.technique.id, "name": t.technique.name, "url": t.technique.url,
             "tactics": list(t.technique.tactics), "rules": t.rules,
             "detectors": list(t.detectors), "seen": t.seen}
            for t in c.techniques
        ],
        "problems": [{"where": w, "id": p.id, "reason": p.reason} for w, p in c.problems],
    }  # fmt: skip


def navigator_layer(c: Coverage, *, name: str, description: str) -> dict[str, Any]:
    """An ATT&CK Navigator layer (format 4.5): every covered or seen technique, scored
    with the attacks seen, coloured covered / seen / seen without a rule."""
    techniques = []
    for t in c.techniques:
        color = COLOR_COVERED
        if t.seen:
            color = COLOR_SEEN if t.is_covered else COLOR_SEEN_UNCOVERED
        dets = f", mail detectors: {', '.join(t.detectors)}" if t.detectors else ""
        techniques.append({
            "techniqueID": t.technique.id,
            "score": t.seen,
            "color": color,
            "comment": f"{t.rules} Sigma rule(s){dets}; {t.seen} attack(s) seen",
            "enabled": True,
            "showSubtechniques": False,
        })  # fmt: skip
    return {
        "name": name,
        "versions": {
            "attack": c.attack_version.split(".")[0],
            "navigator": NAVIGATOR_VERSION,
            "layer": LAYER_VERSION,
        },
        "domain": "enterprise-attack",
        "description": description,
        "sorting": 3,  # descending score: the most seen first
        "layout": {
            "layout": "side",
            "showID": True,
            "showName": True,
            "expandedSubtechniques": "annotated",
        },
        "hideDisabled": False,
        "techniques": techniques,
        "gradient": {
            "colors": ["#ffffff", "#ff6666"],
            "minValue": 0,
            "maxValue": max([t.seen for t in c.techniques] + [1]),
        },
        "legendItems": [
            {"label": "rule or detector, not seen", "color": COLOR_COVERED},
            {"label": "seen, rule or detector", "color": COLOR_SEEN},
            {"label": "seen, no rule or detector", "color": COLOR_SEEN_UNCOVERED},
        ],
        "metadata": [{"name": "generator", "value": "floodwall attack coverage"}],
    }
