"""``floodwall rules``: the rule set's version, and updating it from a local checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "detect" / "sigma"


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "floodwall", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def test_update_from_a_checkout_then_hunt_with_it(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "FLOODWALL_DATA": str(tmp_path / "data"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    checkout = tmp_path / "sigma-main"
    (checkout / "rules" / "windows").mkdir(parents=True)
    shutil.copy(SAMPLE / "rule.yml", checkout / "rules" / "windows" / "whoami.yml")
    (checkout / "LICENSE").write_text("DRL 1.1")

    up = run(env, "rules", "update", str(checkout))
    assert up.returncode == 0, up.stderr
    assert "1 rules" in up.stderr

    info = run(env, "rules", "info")
    assert info.returncode == 0 and "copied from" in info.stdout and "1 rules" in info.stdout

    hunt = run(env, "hunt", "--format", "jsonl", "--no-store", str(SAMPLE / "events.ndjson"))
    assert hunt.returncode == 1
    assert {json.loads(x)["rule"]["title"] for x in hunt.stdout.splitlines()} == {
        "Whoami Executed By A Service Account (sample)"
    }


def test_update_refuses_a_folder_without_rules(tmp_path: Path) -> None:
    env = {**os.environ, "FLOODWALL_DATA": str(tmp_path / "data")}
    r = run(env, "rules", "update", str(tmp_path))
    assert r.returncode == 2 and "no rules/ folder" in r.stderr
    assert not (tmp_path / "data" / "sigma").exists()
