"""MITRE ATT&CK: technique and tactic names and links for findings, rules and intel.

The data is the compact table built from the Enterprise STIX bundle
(``floodwall/enrich/attack_build.py``), bundled in ``floodwall/data/attack`` and
replaceable with ``floodwall attack update``. Nothing is downloaded.

An id that the data does not know, or that MITRE revoked or deprecated, is reported as
an ``AttackProblem`` next to the techniques, never dropped silently: a revoked id is
mapped to the techniques that replaced it (the STIX ``revoked-by`` relationship, STIX
2.1 §3.2), a deprecated one keeps its name but says it is deprecated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floodwall.records import Finding

if TYPE_CHECKING:
    from floodwall.settings import Settings

__all__ = [
    "AttackData",
    "AttackEnricher",
    "AttackError",
    "AttackMapping",
    "AttackProblem",
    "Tactic",
    "Technique",
    "default_attack_dir",
    "load_attack_data",
    "technique_ids_in",
]

DATA_FILE = "enterprise-attack.json"
SITE = "https://attack.mitre.org"
# T1234 or T1234.567, as ATT&CK writes technique and sub-technique ids.
_TECHNIQUE_ID = re.compile(r"^T\d{4}(?:\.\d{3})?$")
# Ids inside free text: MISP galaxy tags ("...Attachment - T1566.001"), STIX names.
_ID_IN_TEXT = re.compile(r"(?<![A-Za-z0-9])[Tt](\d{4}(?:\.\d{3})?)(?![0-9.])")

# Mail delivery techniques, inferred when a mail finding names no sub-technique.
SPEARPHISHING_ATTACHMENT = "T1566.001"
SPEARPHISHING_LINK = "T1566.002"
MALICIOUS_LINK = "T1204.001"
MALICIOUS_FILE = "T1204.002"


class AttackError(ValueError):
    """The ATT&CK data file is missing or unreadable."""


@dataclass(frozen=True, slots=True)
class Tactic:
    """One ATT&CK tactic (a matrix column), e.g. TA0001 initial-access."""

    id: str
    shortname: str
    name: str

    @property
    def url(self) -> str:
        return f"{SITE}/tactics/{self.id}"


@dataclass(frozen=True, slots=True)
class Technique:
    """One ATT&CK technique or sub-technique, with its tactics' short names."""

    id: str
    name: str
    tactics: tuple[str, ...]
    platforms: tuple[str, ...] = ()
    deprecated: bool = False
    revoked: bool = False
    revoked_by: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"{SITE}/techniques/{self.id.replace('.', '/')}"

    @property
    def is_subtechnique(self) -> bool:
        return "." in self.id

    @property
    def parent(self) -> str:
        return self.id.split(".", 1)[0]


@dataclass(frozen=True, slots=True)
class AttackProblem:
    """An id that could not be mapped as given, and why (unknown, revoked, deprecated)."""

    id: str
    reason: str


@dataclass(frozen=True, slots=True)
class AttackMapping:
    """Techniques (current, in the order first named) and their tactics, plus problems."""

    techniques: tuple[Technique, ...]
    tactics: tuple[Tactic, ...]
    problems: tuple[AttackProblem, ...] = ()

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.techniques)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values, as stored in an alert's enrichment."""
        return {
            "techniques": [
                {"id": t.id, "name": t.name, "url": t.url, "tactics": list(t.tactics)}
                for t in self.techniques
            ],
            "tactics": [{"id": t.id, "name": t.name, "url": t.url} for t in self.tactics],
            "problems": [{"id": p.id, "reason": p.reason} for p in self.problems],
        }


@dataclass(frozen=True, slots=True)
class AttackData:
    """The whole table: tactics in matrix order and every technique by id."""

    version: str
    domain: str
    tactics: tuple[Tactic, ...]
    techniques: Mapping[str, Technique]

    def tactic(self, shortname: str) -> Tactic | None:
        for t in self.tactics:
            if t.shortname == shortname:
                return t
        return None

    def current(self) -> list[Technique]:
        """Techniques neither revoked nor deprecated, by id."""
        return sorted(
            (t for t in self.techniques.values() if not t.revoked and not t.deprecated),
            key=lambda t: t.id,
        )


def default_attack_dir(settings: Settings | None = None) -> Path:
    """The copy ``floodwall attack update`` wrote in the data directory, else the bundled."""
    from floodwall.settings import bundled_data

    if settings is not None and (settings.data_dir / "attack" / DATA_FILE).is_file():
        return settings.data_dir / "attack"
    return bundled_data() / "attack"


def load_attack_data(directory: Path) -> AttackData:
    """Read ``enterprise-attack.json`` from ``directory`` (about 10 ms)."""
    path = directory / DATA_FILE
    try:
        doc = json.loads(path.read_text("utf-8"))
        tactics = tuple(
            Tactic(str(t["id"]), str(t["shortname"]), str(t["name"])) for t in doc["tactics"]
        )
        techniques = {
            str(tid): Technique(
                str(tid),
                str(t["name"]),
                tuple(str(x) for x in t.get("tactics", ())),
                tuple(str(x) for x in t.get("platforms", ())),
                bool(t.get("deprecated", False)),
                bool(t.get("revoked", False)),
                tuple(str(x) for x in t.get("revoked_by", ())),
            )
            for tid, t in doc["techniques"].items()
        }
        return AttackData(str(doc["attack_version"]), str(doc["domain"]), tactics, techniques)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
        raise AttackError(f"{path}: cannot read ATT&CK data ({type(e).__name__}: {e})") from e


def technique_ids_in(texts: Iterable[str]) -> list[str]:
    """Technique ids named anywhere in free text (MISP galaxy tags, Sigma tags, names)."""
    out: list[str] = []
    for text in texts:
        for m in _ID_IN_TEXT.finditer(text):
            tid = "T" + m.group(1)
            if tid not in out:
                out.append(tid)
    return out


class AttackEnricher:
    """Maps ATT&CK technique ids (Sigma ``attack.tXXXX`` tags, mail findings, intel
    tags) to techniques with names, links and tactics; unknown, revoked and deprecated
    ids come back as problems next to the result."""

    def __init__(self, data: AttackData) -> None:
        self._data = data
        self._tactics = {t.shortname: t for t in data.tactics}
        self._order = {t.shortname: i for i, t in enumerate(data.tactics)}

    @property
    def data(self) -> AttackData:
        return self._data

    def resolve(self, ids: Iterable[str]) -> AttackMapping:
        """Techniques for ``ids``; revoked ids are replaced, unknown ones reported."""
        found: list[Technique] = []
        problems: list[AttackProblem] = []
        for raw in ids:
            tid = raw.strip().upper()
            if not _TECHNIQUE_ID.match(tid):
                problems.append(
                    AttackProblem(raw, "not an ATT&CK technique id (T#### or T####.###)")
                )
                continue
            tech = self._data.techniques.get(tid)
            if tech is None:
                problems.append(
                    AttackProblem(tid, f"unknown in ATT&CK Enterprise {self._data.version}")
                )
                continue
            if tech.revoked:
                if tech.revoked_by:
                    problems.append(
                        AttackProblem(
                            tid, f"revoked by MITRE; replaced by {', '.join(tech.revoked_by)}"
                        )
                    )
                    found.extend(self._data.techniques[r] for r in tech.revoked_by
                                 if r in self._data.techniques)  # fmt: skip
                else:
                    problems.append(AttackProblem(tid, "revoked by MITRE, with no replacement"))
                continue
            if tech.deprecated:
                problems.append(AttackProblem(tid, "deprecated by MITRE; kept under its old name"))
            found.append(tech)
        unique = tuple(dict.fromkeys(found))
        return AttackMapping(unique, self._tactics_of(unique), tuple(dict.fromkeys(problems)))

    def from_sigma_tags(self, tags: Sequence[str]) -> AttackMapping:
        """Techniques from a Sigma rule's tags (``attack.t1059.001``); tactic tags
        (``attack.execution``), groups (``attack.g0007``) and software (``attack.s0002``)
        name no technique and are skipped, as the Sigma tags spec defines them."""
        ids = [
            t.removeprefix("attack.")
            for t in tags
            if t.lower().startswith("attack.t") and t[8:9].isdigit()
        ]
        return self.resolve(ids)

    def for_finding(self, finding: Finding) -> AttackMapping:
        """The finding's own techniques. A mail finding about an attachment also gets
        T1566.001 (spearphishing attachment) and one about a link T1566.002 (spearphishing
        link) when it does not name them, and the user execution the payload waits for
        (T1204.002 malicious file, T1204.001 malicious link) when it names no T1204."""
        ids = list(finding.attack)
        if finding.id.startswith("mail."):
            execution = any(i.startswith("T1204") for i in ids)
            if "attachment" in finding.evidence:
                ids += [] if SPEARPHISHING_ATTACHMENT in ids else [SPEARPHISHING_ATTACHMENT]
                ids += [] if execution else [MALICIOUS_FILE]
            elif any(o.kind == "url" for o in finding.observables):
                ids += [] if SPEARPHISHING_LINK in ids else [SPEARPHISHING_LINK]
                ids += [] if execution else [MALICIOUS_LINK]
        return self.resolve(ids)

    def for_intel(self, tags: Iterable[str], names: Iterable[str] = ()) -> AttackMapping:
        """Techniques an indicator's tags or names cite (MISP galaxy
        ``misp-galaxy:mitre-attack-pattern="... - T1566.001"``, ``attack.t1071``). An
        indicator that cites none maps to nothing, which is said as a problem: the
        kind of value alone (an address, a hash) does not tell the technique."""
        texts = [*tags, *names]
        ids = technique_ids_in(texts)
        if not ids:
            empty = AttackMapping((), (), (AttackProblem("", "the indicator names no technique"),))
            return empty
        return self.resolve(ids)

    def for_intel_ids(self, tags: Iterable[str]) -> tuple[str, ...]:
        """The technique ids of ``for_intel`` (current ones only)."""
        return self.for_intel(tags).ids

    def _tactics_of(self, techniques: Iterable[Technique]) -> tuple[Tactic, ...]:
        names = {s for t in techniques for s in t.tactics if s in self._tactics}
        return tuple(self._tactics[s] for s in sorted(names, key=self._order.__getitem__))
