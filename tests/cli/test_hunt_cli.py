"""``floodwall hunt`` end to end, as a user runs it: a real process, real files.

The bundled rule set is compiled once per session into a shared cache directory."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
EVTX = SAMPLES / "ingest" / "evtx" / "sysmon_process_creation.evtx"
RULE_DIR = SAMPLES / "detect" / "sigma"
EVENTS = RULE_DIR / "events.ndjson"
JSONL_KEYS = {"rule", "source", "timestamp", "host", "event", "attack"}


@pytest.fixture(scope="session")
def env(rule_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    data = tmp_path_factory.mktemp("data")
    return {**os.environ, "XDG_CACHE_HOME": str(rule_cache), "FLOODWALL_DATA": str(data)}


def hunt(
    env: dict[str, str], *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "floodwall", "hunt", *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def only_sample_rule(*args: str) -> list[str]:
    return ["--no-default-rules", "--rules", str(RULE_DIR), *args]


def test_help_lists_hunt() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "floodwall", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "hunt" in out.stdout


def test_jsonl_contract_and_exit_code(env: dict[str, str]) -> None:
    r = hunt(env, *only_sample_rule("--format", "jsonl", "--no-store", str(EVENTS)))
    assert r.returncode == 1, r.stderr
    objs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o["source"]["record_id"] for o in objs] == [1, 3]
    for o in objs:
        assert set(o) >= JSONL_KEYS
        assert {"id", "title", "level", "author", "tags"} <= set(o["rule"])
        assert o["rule"]["id"] == "2b3a8c0e-6a51-4d7e-9d6f-0c4e1f6b9a11"
        assert o["source"]["path"] == str(EVENTS)
        assert o["event"]["EventID"] in (1, 4688)
    assert objs[0]["host"] == "ws1" and objs[0]["attack"] == ["T1033"]


def test_no_match_exits_zero(env: dict[str, str], tmp_path: Path) -> None:
    quiet = tmp_path / "quiet.ndjson"
    quiet.write_text('{"EventID": 1, "Channel": "Security", "Image": "C:\\\\x.exe"}\n')
    r = hunt(env, *only_sample_rule("--format", "jsonl", "--no-store", str(quiet)))
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nonexistent/logs"], "not found"),
        (["--rules", "/nonexistent/rules", str(EVENTS)], "rule directory not found"),
        (["--workers", "0", str(EVENTS)], "--workers"),
        (["--format", "xml", str(EVENTS)], "invalid choice"),
    ],
)
def test_usage_and_input_errors_exit_two(
    env: dict[str, str], args: list[str], message: str
) -> None:
    r = hunt(env, "--no-store", *args)
    assert r.returncode == 2
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_stdin_gz_csv_and_json(env: dict[str, str], tmp_path: Path) -> None:
    r = hunt(
        env, *only_sample_rule("--format", "jsonl", "--no-store", "-"), stdin=EVENTS.read_bytes()
    )
    assert r.returncode == 1 and len(r.stdout.splitlines()) == 2
    gz = tmp_path / "events.json.gz"
    gz.write_bytes(gzip.compress(EVENTS.read_bytes()))
    r = hunt(env, *only_sample_rule("--format", "csv", "--no-store", str(gz)))
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert r.returncode == 1 and [row["record_id"] for row in rows] == ["1", "3"]
    r = hunt(env, *only_sample_rule("--format", "json", "--no-store", str(EVENTS)))
    assert r.returncode == 1 and len(json.loads(r.stdout)) == 2


def test_damaged_input_is_counted_with_line_numbers(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.ndjson"
    lines = EVENTS.read_bytes().splitlines()
    bad.write_bytes(b"\n".join([lines[0], b"{not json", b"\xff\xfe\xfa", lines[2]]) + b"\n")
    r = hunt(env, *only_sample_rule("--format", "jsonl", "--no-store", str(bad)))
    assert r.returncode == 1
    assert [json.loads(x)["source"]["record_id"] for x in r.stdout.splitlines()] == [1, 4]
    assert "2 damaged record(s)" in r.stderr
    assert "line 2" in r.stderr and "line 3" in r.stderr


def test_truncated_evtx_still_hunts_readable_records(env: dict[str, str], tmp_path: Path) -> None:
    data = EVTX.read_bytes()
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(data[: len(data) - 3000])
    r = hunt(env, "--format", "jsonl", "--no-store", "--min-level", "informational", str(cut))
    assert r.returncode in (0, 1), r.stderr
    assert "damaged record" in r.stderr and "cut.evtx" in r.stderr
    assert "Traceback" not in r.stderr


def test_default_rules_on_real_evtx_table_and_store(env: dict[str, str]) -> None:
    r = hunt(env, str(EVTX))
    assert r.returncode == 1, r.stderr
    assert "By level" in r.stdout and "Top rules" in r.stdout and "By ATT&CK tactic" in r.stdout
    # DRL 1.1: each match shown carries its rule's author and link
    assert "https://github.com/SigmaHQ/sigma/blob/master/rules" in r.stdout
    assert "rule(s) not loaded" in r.stdout  # placeholders without values are listed
    db = Path(env["FLOODWALL_DATA"]) / "floodwall.db"
    assert db.exists()
    import sqlite3

    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM alerts").fetchone()[0] > 0


def test_workers_give_the_same_output(env: dict[str, str], tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"part{i}.ndjson").write_bytes(EVENTS.read_bytes())
    one = hunt(env, *only_sample_rule("--format", "jsonl", "--no-store", str(tmp_path)))
    two = hunt(
        env, *only_sample_rule("--format", "jsonl", "--no-store", "--workers", "2", str(tmp_path))
    )
    assert one.returncode == two.returncode == 1
    assert one.stdout == two.stdout and len(one.stdout.splitlines()) == 6


def test_workers_share_one_large_evtx_file(
    env: dict[str, str], tmp_path: Path, many_chunk_evtx: Callable[[int], bytes]
) -> None:
    """A 5 MiB EVTX file is cut into chunk ranges for two workers: same output, in order."""
    big = tmp_path / "big.evtx"
    big.write_bytes(many_chunk_evtx(80))
    args = ("--format", "jsonl", "--no-store", "--no-intel", "--min-level", "informational")
    one = hunt(env, *args, "--workers", "1", str(big))
    two = hunt(env, *args, "--workers", "2", str(big))
    assert one.returncode == two.returncode == 1, two.stderr
    assert one.stdout == two.stdout
    assert len(one.stdout.splitlines()) % 80 == 0 and one.stdout  # each copy matches alike
    assert "Hunted 480 events" in two.stderr


def test_verbose_lists_rules_not_loaded(env: dict[str, str], tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "broken.yml").write_text("title: broken\ndetection: [\n")
    (rules / "good.yml").write_text((RULE_DIR / "rule.yml").read_text())
    r = hunt(
        env, "--no-default-rules", "--rules", str(rules), "--verbose", "--no-store", str(EVENTS)
    )
    assert r.returncode == 1
    assert "1 rule(s) not loaded" in r.stdout
    assert "broken.yml" in r.stdout


def test_correlation_rule_end_to_end(env: dict[str, str], tmp_path: Path) -> None:
    """Ten failed logons for alice within five minutes fire the brute-force correlation;
    nine for bob do not; the base rule itself stays silent (generate: false)."""
    rules = SAMPLES / "detect" / "sigma_correlation"
    lines = []
    for user, count in (("alice", 10), ("bob", 9)):
        for i in range(count):
            lines.append(json.dumps({
                "EventID": 4625, "Channel": "Security", "Computer": "dc1",
                "TargetUserName": user, "IpAddress": "203.0.113.7",
                "@timestamp": f"2026-11-24T08:0{i // 6}:{(i % 6) * 10:02d}Z",
            }))  # fmt: skip
    logs = tmp_path / "logons.ndjson"
    logs.write_text("\n".join(lines) + "\n")
    r = hunt(
        env,
        "--no-default-rules",
        "--rules",
        str(rules),
        "--format",
        "jsonl",
        "--no-store",
        str(logs),
    )
    assert r.returncode == 1, r.stderr
    objs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o["rule"]["title"] for o in objs] == ["Brute Force Against One Account"]
    assert objs[0]["evidence"]["group"] == {"TargetUserName": "alice"}
    assert objs[0]["evidence"]["count"] == 10
    assert objs[0]["attack"] == ["T1110", "T1110.001"]


def test_alerts_carry_origin_in_jsonl_and_store(env: dict[str, str], tmp_path: Path) -> None:
    line = json.loads(EVENTS.read_text().splitlines()[0])
    events = tmp_path / "remote.ndjson"
    events.write_text(
        "\n".join(json.dumps({**line, "IpAddress": ip}) for ip in ("24.0.0.1", "10.0.0.5")) + "\n"
    )
    data = tmp_path / "data"
    r = hunt(
        {**env, "FLOODWALL_DATA": str(data)}, *only_sample_rule("--format", "jsonl", str(events))
    )
    assert r.returncode == 1, r.stderr
    public, private = (json.loads(x) for x in r.stdout.splitlines())
    assert public["source"]["ip"] == "24.0.0.1"
    assert public["source"]["geo"]["country_iso_code"] == "US"
    assert public["source"]["as"]["number"] == 7922
    assert "Comcast" in public["source"]["as"]["organization"]["name"]
    assert public["origin"]["class"] in {"abroad", "unknown"} and public["origin"]["reason"]
    assert private["source"]["ip"] is None and private["origin"]["class"] == "unknown"
    import sqlite3

    with sqlite3.connect(data / "floodwall.db") as db:
        rows = db.execute(
            "SELECT source_ip, country, asn, origin FROM alerts ORDER BY record_id"
        ).fetchall()
    assert rows == [
        ("24.0.0.1", "US", 7922, public["origin"]["class"]),
        (None, None, None, "unknown"),
    ]
