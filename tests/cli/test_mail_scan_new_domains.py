"""``floodwall mail scan`` with the store: each message's domains go into its history,
``mail.newly_seen_domain`` stays silent (and says it is learning) until the history is
long enough, then flags links to domains the organisation's mail never named."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(300)
SID = "mail.newly_seen_domain"


def mail(path: Path, link: str) -> Path:
    path.write_text(
        "From: Billing <billing@supplier.example>\r\nTo: ap@corp.example\r\n"
        f"Subject: Statement\r\nMessage-ID: <{path.stem}@supplier.example>\r\n"
        "Content-Type: text/html\r\n\r\n"
        f'<p>Your statement: <a href="{link}">view</a></p>\r\n'
    )
    return path


def scan(data: Path, *paths: Path) -> tuple[dict[str, dict[str, Any]], str]:
    done = subprocess.run(
        [sys.executable, "-m", "floodwall", "mail", "scan", "--data", str(data),
         "--format", "jsonl", "--no-intel", *map(str, paths)],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    objs = [json.loads(line) for line in done.stdout.splitlines()]
    return {Path(o["path"]).name: o for o in objs}, done.stderr


def fired(obj: dict[str, Any]) -> bool:
    return any(s["id"] == SID for s in obj["symbols"])


def test_history_is_learned_then_new_domains_are_flagged(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    usual = mail(tmp_path / "usual.eml", "https://portal.supplier.example/statement")
    fresh = mail(tmp_path / "fresh.eml", "https://statement-view.example/login")
    got, err = scan(data, usual)
    assert "Newly seen domains: learning (0.0 of 14 days" in err
    assert not fired(got["usual.eml"])
    # Three weeks pass: the history now covers more than the 14 days it needs.
    db = sqlite3.connect(data / "floodwall.db")
    with db:
        db.execute("UPDATE mail_domains SET first_seen = first_seen - 21 * 86400,"
                   " last_seen = last_seen - 21 * 86400")  # fmt: skip
    db.close()
    got, err = scan(data, usual, fresh)
    assert "learning" not in err
    assert not fired(got["usual.eml"])
    (symbol,) = [s for s in got["fresh.eml"]["symbols"] if s["id"] == SID]
    assert "statement-view.example (never seen)" in symbol["reason"]
    # The next run finds it seen minutes ago: still new, for the week the window lasts.
    got, _ = scan(data, fresh)
    assert "statement-view.example (first seen 0 min ago)" in str(got["fresh.eml"]["symbols"])
    db = sqlite3.connect(data / "floodwall.db")
    counts = dict(db.execute("SELECT domain, messages FROM mail_domains").fetchall())
    db.close()
    assert counts == {"supplier.example": 4, "statement-view.example": 2}


def test_without_the_store_there_is_no_history(tmp_path: Path) -> None:
    msg = mail(tmp_path / "a.eml", "https://statement-view.example/login")
    done = subprocess.run(
        [sys.executable, "-m", "floodwall", "mail", "scan", "--data", str(tmp_path / "d"),
         "--format", "jsonl", "--no-intel", "--no-store", str(msg)],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert "Newly seen domains" not in done.stderr
    assert SID not in done.stdout
    assert not (tmp_path / "d" / "floodwall.db").exists()
