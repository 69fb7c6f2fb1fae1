"""Build the compact ATT&CK table Floodwall ships from a MITRE ATT&CK STIX bundle.

The Enterprise bundle is 15 MB of STIX (techniques with their descriptions, groups,
software, relationships...). Naming and placing a technique needs a few fields of it:
the ATT&CK id (``external_references[source_name=mitre-attack].external_id``), the name,
the tactics (``kill_chain_phases`` of the ``mitre-attack`` chain), the platforms, and
whether it is deprecated (``x_mitre_deprecated``) or revoked (STIX 2.1 §3.2 ``revoked``,
with the replacement named by a ``revoked-by`` relationship). Those go into one JSON
file of about 100 kB. Tactics keep the order of the ``x-mitre-matrix`` object, which
is the order of the ATT&CK matrix columns.

Both STIX 2.0 and 2.1 bundles (gzip or plain JSON) are read with the standard library:
only these few fields are needed, and the ``stix2`` library would cost seconds to
parse every object of the bundle.
"""

from __future__ import annotations

import gzip
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FORMAT = 1
DATA_FILE = "enterprise-attack.json"
VERSION_FILE = "VERSION"
# The Enterprise 18.1 bundle is 45 MB unpacked; a gzip bomb stops here.
MAX_BUNDLE = 256 << 20


class AttackBuildError(ValueError):
    """The file is not an ATT&CK STIX bundle Floodwall can read."""


@dataclass(frozen=True, slots=True)
class BuildResult:
    """What a build wrote."""

    path: Path
    attack_version: str
    tactics: int
    techniques: int
    revoked: int
    deprecated: int


def _attack_id(obj: dict[str, Any]) -> str | None:
    for ref in obj.get("external_references") or ():
        if isinstance(ref, dict) and ref.get("source_name") == "mitre-attack":
            ext = ref.get("external_id")
            return str(ext) if ext else None
    return None


def read_bundle(path: Path) -> list[dict[str, Any]]:
    """The objects of a STIX bundle (``.json`` or ``.json.gz``)."""
    try:
        with path.open("rb") as fh:
            gz = fh.read(2) == b"\x1f\x8b"
        with gzip.open(path, "rb") if gz else path.open("rb") as fh:
            raw = fh.read(MAX_BUNDLE + 1)
        if len(raw) > MAX_BUNDLE:
            raise AttackBuildError(f"{path}: larger than {MAX_BUNDLE >> 20} MiB unpacked")
        doc = json.loads(raw)
    except (OSError, EOFError, gzip.BadGzipFile, ValueError, RecursionError) as e:
        raise AttackBuildError(f"{path}: cannot read a STIX bundle ({e})") from e
    if not isinstance(doc, dict) or doc.get("type") != "bundle":
        raise AttackBuildError(f"{path}: not a STIX bundle (no top-level type 'bundle')")
    objects = doc.get("objects")
    if not isinstance(objects, list):
        raise AttackBuildError(f"{path}: the bundle has no objects list")
    return [o for o in objects if isinstance(o, dict)]


def derive(objects: list[dict[str, Any]], *, attack_version: str) -> dict[str, Any]:
    """The compact table (see the module docstring) from a bundle's objects."""
    by_stix: dict[str, str] = {}
    tactics: dict[str, dict[str, str]] = {}
    matrix_order: list[str] = []
    patterns: list[dict[str, Any]] = []
    for o in objects:
        kind = o.get("type")
        if kind == "x-mitre-tactic":
            tid = _attack_id(o)
            if tid:
                tactics[str(o.get("id"))] = {
                    "id": tid,
                    "shortname": str(o.get("x_mitre_shortname", "")),
                    "name": str(o.get("name", "")),
                }
        elif kind == "x-mitre-matrix" and not matrix_order:
            matrix_order = [str(r) for r in o.get("tactic_refs") or ()]
        elif kind == "attack-pattern":
            tid = _attack_id(o)
            if tid:
                by_stix[str(o.get("id"))] = tid
                patterns.append(o)
    if not patterns or not tactics:
        raise AttackBuildError("no ATT&CK techniques or tactics in the bundle")
    replaced: dict[str, list[str]] = {}
    for o in objects:
        if o.get("type") == "relationship" and o.get("relationship_type") == "revoked-by":
            old, new = by_stix.get(str(o.get("source_ref"))), by_stix.get(str(o.get("target_ref")))
            if old and new:
                replaced.setdefault(old, []).append(new)
    order = [t for t in matrix_order if t in tactics] or sorted(tactics, key=lambda t: t)
    order += [t for t in tactics if t not in order]
    techniques: dict[str, dict[str, Any]] = {}
    for o in sorted(patterns, key=lambda p: _attack_id(p) or ""):
        tid = _attack_id(o) or ""
        phases = [
            str(k.get("phase_name"))
            for k in o.get("kill_chain_phases") or ()
            if isinstance(k, dict) and k.get("kill_chain_name") == "mitre-attack"
        ]
        entry: dict[str, Any] = {
            "name": str(o.get("name", "")),
            "tactics": phases,
            "platforms": [str(p) for p in o.get("x_mitre_platforms") or ()],
        }
        if o.get("x_mitre_deprecated"):
            entry["deprecated"] = True
        if o.get("revoked"):
            entry["revoked"] = True
            entry["revoked_by"] = sorted(set(replaced.get(tid, [])))
        # Two objects can carry one id (a revoked copy beside the live one): keep the live.
        if tid not in techniques or techniques[tid].get("revoked"):
            techniques[tid] = entry
    return {
        "format": FORMAT,
        "domain": "enterprise-attack",
        "attack_version": attack_version,
        "tactics": [tactics[t] for t in order],
        "techniques": techniques,
    }


def build(bundle: Path, out_dir: Path, *, attack_version: str, source: str) -> BuildResult:
    """Write ``enterprise-attack.json`` and ``VERSION`` into ``out_dir`` (atomically)."""
    table = derive(read_bundle(bundle), attack_version=attack_version)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / (DATA_FILE + ".tmp")
    tmp.write_text(json.dumps(table, separators=(",", ":"), sort_keys=True) + "\n", "utf-8")
    tmp.replace(out_dir / DATA_FILE)
    techs = table["techniques"]
    revoked = sum(1 for t in techs.values() if t.get("revoked"))
    deprecated = sum(1 for t in techs.values() if t.get("deprecated"))
    built = datetime.now(UTC).date().isoformat()
    (out_dir / VERSION_FILE).write_text(
        f"MITRE ATT&CK Enterprise {attack_version}, built {built} with "
        f"floodwall.enrich.attack_build (format {FORMAT})\n"
        f"source: {source}\n"
        f"{len(table['tactics'])} tactics, {len(techs)} techniques "
        f"({revoked} revoked, {deprecated} deprecated)\n"
        "kept: id, name, tactics, platforms, deprecated, revoked (and revoked-by)\n"
        "license: ../licenses/mitre-attack-LICENSE.txt\n",
        "utf-8",
    )
    return BuildResult(
        out_dir / DATA_FILE,
        attack_version,
        len(table["tactics"]),
        len(techs),
        revoked,
        deprecated,
    )


def copy_license(license_file: Path, licenses_dir: Path) -> Path:
    """MITRE's terms ask every copy to reproduce the copyright and license."""
    target = licenses_dir / "mitre-attack-LICENSE.txt"
    shutil.copyfile(license_file, target)
    return target
