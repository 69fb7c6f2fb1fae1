#!/usr/bin/env python3
"""Rebuild floodwall/data/attack/ from the staged MITRE ATT&CK data (../shared/data).

    .venv/bin/python scripts/build_attack_data.py [--source ../shared/data/mitre_attack]

Writes the compact table (floodwall/enrich/attack_build.py says what it keeps), its
VERSION note, and MITRE's license into floodwall/data/licenses/. The output is committed;
users update it with ``floodwall attack update BUNDLE`` instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from floodwall.enrich.attack_build import build, copy_license  # noqa: E402

BUNDLE = "enterprise-attack-18.1.stix21.json.gz"
SOURCE = (
    "mitre/cti @421deacb77191b38bdd1bf63268954e93da91365 (ATT&CK v18.1 Enterprise), "
    "re-bundled as STIX 2.1 (" + BUNDLE + ")"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source", type=Path, default=ROOT.parent / "shared" / "data" / "mitre_attack"
    )
    args = parser.parse_args()
    result = build(
        args.source / BUNDLE, ROOT / "floodwall" / "data" / "attack",
        attack_version="18.1", source=SOURCE,
    )  # fmt: skip
    lic = copy_license(args.source / "LICENSE.txt", ROOT / "floodwall" / "data" / "licenses")
    print(
        f"{result.path}: {result.tactics} tactics, {result.techniques} techniques "
        f"({result.revoked} revoked, {result.deprecated} deprecated); license {lic}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
