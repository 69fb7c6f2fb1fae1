"""``floodwall mail scan`` end to end: real messages, a real process, the jsonl contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "detect" / "mail"
ATTACHMENT_SAMPLES = [
    "double_extension", "rtlo_filename", "dangerous_attachment", "file_type_mismatch",
    "encrypted_archive", "html_smuggling", "html_credential_form",
    "macro_autoexec", "macro_suspicious", "office_dde", "remote_template", "rtf_object",
    "pdf_active", "onenote_embedded", "yara",
]  # fmt: skip


def scan(
    tmp_path: Path, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "FLOODWALL_DATA": str(tmp_path / "data")}
    return subprocess.run(
        [sys.executable, "-m", "floodwall", "mail", "scan", *args],
        input=stdin, capture_output=True, env=env, timeout=300,
    )  # fmt: skip


def objects(out: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.decode().splitlines()]


@pytest.mark.parametrize("name", ATTACHMENT_SAMPLES)
def test_harmless_attack_samples_are_held(tmp_path: Path, name: str) -> None:
    r = scan(tmp_path, "--format", "jsonl", str(SAMPLES / name / "sample.eml"))
    assert r.returncode == 1, r.stderr
    (obj,) = objects(r.stdout)
    assert obj["verdict"] in ("quarantine", "reject")
    assert f"mail.{name}" in {s["id"] for s in obj["symbols"]}  # type: ignore[index,union-attr]
    assert {"path", "message_id", "verdict", "score", "symbols", "attachments"} <= set(obj)
    for a in obj["attachments"]:  # type: ignore[union-attr]
        assert {"name", "true_type", "sha256", "findings"} <= set(a)


def test_plain_message_is_accepted(tmp_path: Path) -> None:
    msg = EmailMessage()
    msg["From"] = "Alice <alice@example.org>"
    msg["To"] = "bob@example.org"
    msg["Subject"] = "Lunch"
    msg.set_content("Shall we meet at noon?")
    r = scan(tmp_path, "--format", "jsonl", "-", stdin=bytes(msg))
    assert r.returncode == 0, r.stderr
    (obj,) = objects(r.stdout)
    assert obj["verdict"] == "accept" and obj["symbols"] == []


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (
            b"From: a@b.c\nContent-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/plain\n\nhi",
            "truncated MIME",
        ),
        (b"", "empty message"),
        (b"\x00\xff" * 100, "no header fields"),
    ],
)
def test_unscannable_is_held_by_default(tmp_path: Path, raw: bytes, reason: str) -> None:
    r = scan(tmp_path, "--format", "jsonl", "-", stdin=raw)
    (obj,) = objects(r.stdout)
    assert obj["verdict"] == "quarantine"
    assert any(reason in u for u in obj["unscannable"])  # type: ignore[union-attr]
    assert "Traceback" not in r.stderr.decode()


def test_missing_path_and_bad_policy_exit_two(tmp_path: Path) -> None:
    assert scan(tmp_path, "/nonexistent/mail").returncode == 2
    bad = tmp_path / "policy.toml"
    bad.write_text("[thresholds]\ntag = 9\nquarantine = 1\n")
    r = scan(tmp_path, "--policy", str(bad), str(SAMPLES))
    assert r.returncode == 2 and b"thresholds must rise" in r.stderr


def test_table_lists_every_sample(tmp_path: Path) -> None:
    r = scan(tmp_path, str(SAMPLES))
    assert r.returncode == 1
    assert b"Floodwall mail scan" in r.stdout and b"quarantine" in r.stdout
    assert b"message(s):" in r.stderr


def test_verdicts_are_stored_once_per_recipient(tmp_path: Path) -> None:
    import sqlite3

    msg = EmailMessage()
    msg["From"] = "Alice <alice@example.org>"
    msg["To"] = "bob@example.org, carol@example.org"
    msg["Cc"] = "dave@example.org"
    msg["Subject"] = "Minutes \udcff"  # a lone surrogate, as undecodable input can carry
    msg.set_content("See you.")
    r = scan(tmp_path, "--format", "jsonl", "-", stdin=bytes(msg))
    assert r.returncode == 0, r.stderr
    scan(tmp_path, "--format", "jsonl", str(SAMPLES / "html_smuggling" / "sample.eml"))
    with sqlite3.connect(tmp_path / "data" / "floodwall.db") as db:
        rows = dict(db.execute("SELECT verdict, SUM(recipients) FROM messages GROUP BY verdict"))
    assert rows == {"accept": 3, "reject": 1} or rows == {"accept": 3, "quarantine": 1}
