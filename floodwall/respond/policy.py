"""The mail policy: findings in, a verdict out. Weights and thresholds live in TOML
(``policy.toml``), never in detectors, as rspamd keeps them in its metrics."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from floodwall.records import Finding, Severity

ACTIONS = ("accept", "tag", "quarantine", "reject")
UNSCANNABLE = "mail.unscannable"


class PolicyError(ValueError):
    """The policy file is not valid; the message says where."""


@dataclass(frozen=True, slots=True)
class Symbol:
    """One named finding of a verdict, as rspamd shows symbols: id, weight, reason."""

    id: str
    score: float
    reason: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the policy decided for one message."""

    action: str  # accept | tag | quarantine | reject
    score: float
    symbols: tuple[Symbol, ...] = ()
    unscannable: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Group:
    """Findings whose weights add up to at most ``max_score`` together, as an rspamd
    symbol group's ``max_score`` caps it: several weak signals of one kind (wording) must
    not pass for a strong one."""

    name: str
    members: frozenset[str]
    max_score: float


@dataclass(frozen=True)
class Policy:
    """Weights per finding id, fallbacks per severity, thresholds per action, and the
    groups whose total is capped."""

    weights: Mapping[str, float]
    severity_weights: Mapping[Severity, float]
    groups: tuple[Group, ...] = ()
    tag: float = 4.0
    quarantine: float = 8.0
    reject: float = 15.0
    unscannable_action: str = "quarantine"
    source: str = field(default="(built in)", compare=False)

    @classmethod
    def load(cls, path: Path | None = None) -> Policy:
        """Read ``path``, or the policy shipped with Floodwall."""
        if path is None:
            text = resources.files("floodwall.respond").joinpath("policy.toml").read_text()
            source = "(built in)"
        else:
            text, source = path.read_text(encoding="utf-8"), str(path)
        try:
            doc: dict[str, Any] = tomllib.loads(text)
            th = doc.get("thresholds", {})
            policy = cls(
                weights={str(k): float(v) for k, v in doc.get("weights", {}).items()},
                severity_weights={
                    Severity.parse(k): float(v) for k, v in doc.get("severity_weights", {}).items()
                },
                groups=_groups(doc.get("groups", {})),
                tag=float(th.get("tag", 4.0)),
                quarantine=float(th.get("quarantine", 8.0)),
                reject=float(th.get("reject", 15.0)),
                unscannable_action=str(doc.get("unscannable", {}).get("action", "quarantine")),
                source=source,
            )
        except (tomllib.TOMLDecodeError, TypeError, ValueError, AttributeError) as exc:
            raise PolicyError(f"{source}: {exc}") from exc
        if policy.unscannable_action not in ACTIONS:
            raise PolicyError(f"{source}: unscannable.action must be one of {ACTIONS}")
        if not policy.tag <= policy.quarantine <= policy.reject:
            raise PolicyError(f"{source}: thresholds must rise: tag <= quarantine <= reject")
        return policy

    def weight(self, finding: Finding) -> float:
        """The score a finding adds."""
        if finding.id in self.weights:
            return self.weights[finding.id]
        return self.severity_weights.get(finding.severity, 0.0)

    def decide(self, findings: Iterable[Finding], unscannable: Iterable[str] = ()) -> Verdict:
        """Sum the weights; the highest threshold reached decides. A finding id counts
        once per message, whatever the number of attachments that raised it."""
        symbols: dict[str, Symbol] = {}
        for f in findings:
            if f.id not in symbols:
                reason = str(f.evidence.get("reason", f.title))
                symbols[f.id] = Symbol(f.id, self.weight(f), reason)
        for group in self.groups:
            _cap(group, symbols)
        score = round(sum(s.score for s in symbols.values()), 2)
        action = "accept"
        for name, threshold in (("tag", self.tag), ("quarantine", self.quarantine),
                                ("reject", self.reject)):  # fmt: skip
            if score >= threshold:
                action = name
        problems = tuple(unscannable)
        if problems:
            symbols[UNSCANNABLE] = Symbol(UNSCANNABLE, 0.0, "; ".join(problems))
            # Unscannable mail is held by default; a score that already says worse wins.
            if ACTIONS.index(self.unscannable_action) > ACTIONS.index(action):
                action = self.unscannable_action
        ordered = tuple(sorted(symbols.values(), key=lambda s: (-s.score, s.id)))
        return Verdict(action, score, ordered, problems)


def _groups(table: Mapping[str, Any]) -> tuple[Group, ...]:
    """``[groups.NAME]`` tables: ``symbols = [ids]`` and ``max_score``."""
    if not isinstance(table, dict):
        raise ValueError("groups must be tables: [groups.NAME] with symbols and max_score")
    groups = []
    for name, spec in table.items():
        if not isinstance(spec, dict) or not {"symbols", "max_score"} <= spec.keys():
            raise ValueError(f"[groups.{name}] needs symbols = [finding ids] and max_score")
        members = spec["symbols"]
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise ValueError(f"groups.{name}.symbols must be a list of finding ids")
        cap = float(spec["max_score"])
        if cap < 0:
            raise ValueError(f"groups.{name}.max_score must not be negative")
        groups.append(Group(str(name), frozenset(members), cap))
    seen: set[str] = set()
    for g in groups:
        if seen & g.members:
            raise ValueError(f"groups.{g.name} shares a finding id with another group")
        seen |= g.members
    return tuple(groups)


def _cap(group: Group, symbols: dict[str, Symbol]) -> None:
    """Cut the group's symbols to ``max_score`` in all: the heaviest keep their weight,
    the rest are cut down (to 0 if need be) and say so, so the symbols still add up to
    the verdict's score."""
    members = sorted(
        (s for s in symbols.values() if s.id in group.members), key=lambda s: (-s.score, s.id)
    )
    left = group.max_score
    for s in members:
        if s.score > left:
            note = f"{s.reason} (cut from {s.score:g}: {group.name} capped at {group.max_score:g})"
            symbols[s.id] = Symbol(s.id, round(max(left, 0.0), 2), note)
        left -= s.score
