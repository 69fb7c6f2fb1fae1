"""``floodwall intel import`` runs the retro-hunt; ``floodwall intel retrohunt`` on its own;
real processes, a real archive and a real store."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from floodwall.store.archive import ArchivedObservable, ObservableArchive

pytestmark = pytest.mark.timeout(300)


def floodwall(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "floodwall", *args],
        capture_output=True, text=True, env=env, timeout=240,
    )  # fmt: skip


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    with ObservableArchive(folder / "archive" / "observables").writer() as writer:
        writer.add_many([
            ArchivedObservable("2026-04-02T10:00:00Z", "logs", "pc1", "ip", "45.155.205.77",
                               "/logs/sysmon.evtx#17"),
            ArchivedObservable("2026-04-05T11:00:00Z", "mail", "gw", "url",
                               "https://cdn.evil-retro.top/a.js", "message:m1"),
            ArchivedObservable("2026-04-09T12:00:00Z", "logs", "pc2", "ip", "45.155.205.77",
                               "/logs/sysmon.evtx#99"),
            ArchivedObservable("2026-04-09T12:00:00Z", "logs", "pc2", "ip", "8.8.8.8",
                               "/logs/sysmon.evtx#100"),
        ])  # fmt: skip
    return folder


@pytest.fixture
def env(data: Path) -> dict[str, str]:
    return {**os.environ, "FLOODWALL_DATA": str(data), "COLUMNS": "200"}


def alerts(data: Path) -> list[tuple[str, int, str]]:
    with sqlite3.connect(data / "floodwall.db") as conn:
        rows = conn.execute(
            "SELECT rule_id, retrospective, timestamp FROM alerts ORDER BY rule_id"
        ).fetchall()
    return [tuple(r) for r in rows]


def test_import_runs_the_retrohunt_and_a_rerun_adds_nothing(
    env: dict[str, str], data: Path, tmp_path: Path
) -> None:
    feed = tmp_path / "feed.txt"
    feed.write_text("45.155.205.77\nevil-retro.top\n8.8.8.0/24\n")
    done = floodwall(env, "intel", "import", str(feed), "--source", "testfeed")
    assert done.returncode == 0, done.stderr
    assert "retro-hunt: 3 indicators in 4 archived observables" in done.stdout
    assert "2 hits, 2 new alerts" in done.stdout
    assert "suppressed: 8.8.8.8 (ip) on public-dns-v4" in done.stdout
    assert alerts(data) == [
        ("intel.domain", 1, "2026-04-05T11:00:00Z"), ("intel.ip", 1, "2026-04-02T10:00:00Z")
    ]  # fmt: skip

    again = floodwall(env, "intel", "retrohunt", "--all", "--format", "json")
    assert again.returncode == 0, again.stderr
    doc = json.loads(again.stdout)
    assert (doc["alerts_new"], doc["alerts_updated"], doc["rows"]) == (0, 2, 4)
    ip = next(h for h in doc["hits"] if h["kind"] == "ip")
    assert (ip["first_seen"], ip["last_seen"], ip["count"]) == (
        "2026-04-02T10:00:00Z", "2026-04-09T12:00:00Z", 2
    )  # fmt: skip
    assert ip["hosts"] == ["pc1", "pc2"] and ip["indicator"]["sources"] == ["testfeed"]
    assert ip["refs"] == ["/logs/sysmon.evtx#17", "/logs/sysmon.evtx#99"]
    assert [s["value"] for s in doc["suppressed"]] == ["8.8.8.8"]
    assert len(alerts(data)) == 2


def test_no_retrohunt_skips_it_and_the_command_runs_later(
    env: dict[str, str], data: Path, tmp_path: Path
) -> None:
    feed = tmp_path / "feed.txt"
    feed.write_text("45.155.205.0/24\n")
    done = floodwall(env, "intel", "import", str(feed), "--no-retrohunt")
    assert done.returncode == 0, done.stderr
    assert "retro-hunt" not in done.stdout and alerts(data) == []
    later = floodwall(env, "intel", "retrohunt")  # default: the latest import
    assert later.returncode == 0, later.stderr
    assert "1 hits, 1 new alerts" in later.stdout
    assert "45.155.205.77" in later.stdout and "2026-04-09T12:00:00Z" in later.stdout
    none = floodwall(env, "intel", "retrohunt", "--source", "no-such-feed")
    assert none.returncode == 0 and "0 indicators" in none.stdout


def test_bad_arguments_and_a_damaged_archive_exit_2(env: dict[str, str], data: Path) -> None:
    bad = floodwall(env, "intel", "retrohunt", "--since", "last tuesday")
    assert bad.returncode == 2 and "not ISO 8601" in bad.stderr
    bad = floodwall(env, "intel", "retrohunt", "--memory-limit", "1'; DROP")
    assert bad.returncode == 2 and "not a memory size" in bad.stderr
    (path,) = ObservableArchive(data / "archive" / "observables").files()[:1]
    path.write_bytes(b"PAR1" + b"\x00" * 64)
    feed = data.parent / "feed.txt"
    feed.write_text("45.155.205.77\n")
    done = floodwall(env, "intel", "import", str(feed))
    assert done.returncode == 2
    assert "archive not searched" in done.stderr
    assert "Traceback" not in done.stderr
