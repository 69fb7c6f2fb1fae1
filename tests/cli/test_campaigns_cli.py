"""``floodwall campaigns`` end to end: a store filled by a real ``mail scan`` of
phishing_pot messages, three of which come from one sender domain."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

# Three messages From social*@social.helwan.edu.eg, and one unrelated (CoinDesk lure).
SAME_SENDER = ("sample-1661.eml", "sample-1833.eml", "sample-1879.eml")
UNRELATED = "sample-1003.eml"

pytestmark = pytest.mark.timeout(300)


def floodwall(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FLOODWALL_DATA": str(data)}
    return subprocess.run(
        [sys.executable, "-m", "floodwall", *args],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


@pytest.fixture(scope="module")
def scanned(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("campaigns")
    inbox = root / "in"
    inbox.mkdir()
    for name in (*SAME_SENDER, UNRELATED):
        shutil.copy(shared_data / "mail" / "phishing_pot" / name, inbox / name)
    data = root / "data"
    scan = floodwall(data, "mail", "scan", "--format", "jsonl", "--no-intel", str(inbox))
    assert scan.returncode in (0, 1), scan.stderr
    assert len(scan.stdout.splitlines()) == 4
    return data


def test_build_groups_the_messages_of_one_sender_domain(scanned: Path) -> None:
    built = floodwall(scanned, "campaigns", "build", "--format", "json")
    assert built.returncode == 0, built.stderr
    summary = json.loads(built.stdout)
    assert summary["items"] == 4 and summary["campaigns"] == 1

    listed = floodwall(scanned, "campaigns", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    (campaign,) = json.loads(listed.stdout)
    assert campaign["message_count"] == 3 and campaign["alert_count"] == 0
    assert {"key": "dom:helwan.edu.eg", "members": 3} in campaign["shared_keys"]
    assert campaign["origin_confidence"] in ("high", "medium", "low")
    assert abs(sum(o["share"] for o in campaign["origins"]) - 1) < 0.01
    assert campaign["target_count"] >= 1 and campaign["targets"]["recipients"]

    with sqlite3.connect(scanned / "floodwall.db") as db:
        rows = dict(db.execute("SELECT path, campaign_id FROM messages").fetchall())
    assert {Path(p).name: c for p, c in rows.items()} == {
        **{name: campaign["id"] for name in SAME_SENDER}, UNRELATED: None,
    }  # fmt: skip

    again = floodwall(scanned, "campaigns", "build")
    assert again.returncode == 0 and "1 campaign(s)" in again.stdout
    (same,) = json.loads(floodwall(scanned, "campaigns", "--format", "json").stdout)
    assert same["id"] == campaign["id"]


def test_show_gives_keys_timeline_targets_origins_and_members(scanned: Path) -> None:
    floodwall(scanned, "campaigns", "build")
    (campaign,) = json.loads(floodwall(scanned, "campaigns", "--format", "json").stdout)
    shown = floodwall(scanned, "campaigns", "show", campaign["id"], "--format", "json")
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert detail["id"] == campaign["id"]
    assert sum(d["members"] for d in detail["timeline"]) == 3
    assert len(detail["members"]) == 3
    assert all(m["kind"] == "message" and "helwan" in m["who"] for m in detail["members"])
    table = floodwall(scanned, "campaigns", "show", campaign["id"])
    assert table.returncode == 0
    for word in ("shared keys", "dom:helwan.edu.eg", "timeline", "recipients", "origins"):
        assert word in table.stdout


def test_since_unknown_ids_and_an_empty_store(scanned: Path, tmp_path: Path) -> None:
    floodwall(scanned, "campaigns", "build")
    later = floodwall(scanned, "campaigns", "--since", "2999-01-01", "--format", "json")
    assert later.returncode == 0 and json.loads(later.stdout) == []
    missing = floodwall(scanned, "campaigns", "show", "Cnope")
    assert missing.returncode == 1 and "no campaign" in missing.stderr
    empty = floodwall(tmp_path / "empty", "campaigns", "build")
    assert empty.returncode == 0 and "0 campaign(s)" in empty.stdout
    table = floodwall(tmp_path / "empty", "campaigns")
    assert table.returncode == 0 and "campaigns (0)" in table.stdout
