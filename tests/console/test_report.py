"""``floodwall report``: the day's figures as md, html and pdf, checked against the shared
daily figures; the PDF is rendered with pdftoppm and must not be a blank page."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from floodwall.cli.main import main
from floodwall.console.report import gather, render
from floodwall.store.db import open_store
from floodwall.store.figures import daily_figures

DAY = date(2026, 11, 20)


def seed(data: Path) -> None:
    """Three held/rejected/tagged messages and two log alerts on DAY."""
    with open_store(data) as store, store.write() as conn:
        for i, (verdict, rcpts, country, origin) in enumerate(
            [("quarantine", 2, "CN", "abroad"), ("reject", 1, "DE", "domestic"),
             ("tag", 3, None, "unknown")]
        ):  # fmt: skip
            conn.execute(
                "INSERT INTO messages (id, scanned, source, path, sha256, verdict, score,"
                " recipients, country, origin, attack) VALUES (?, ?, 'gateway', 'p', 'h', ?,"
                " 9.0, ?, ?, ?, '[\"T1566.001\"]')",
                (f"m{i}", f"{DAY}T0{i}:00:00+00:00", verdict, rcpts, country, origin),
            )
        for i, host in enumerate(["ws1", "ws2"]):
            conn.execute(
                "INSERT INTO alerts (id, created, timestamp, host, level, severity, rule_id,"
                " rule_title, attack, finding, origin) VALUES (?, ?, ?, ?, 'high', 4,"
                " 'sigma.x', 'Rule X', '[\"T1059.001\"]', '{}', 'internal')",
                (f"a{i}", f"{DAY}T05:00:00+00:00", f"{DAY}T05:00:00Z", host),
            )


@pytest.fixture
def data(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    seed(d)
    return d


def test_markdown_has_the_figures(data: Path) -> None:
    with open_store(data) as store:
        want = daily_figures(store, DAY)
        text = render(gather(store, DAY, home_country=""), "md").decode()
    assert (want.seen, want.blocked, want.got_through) == (8, 3, 5)
    assert "- **Attacks seen**: 8" in text
    assert "- **Blocked**: 3" in text
    assert "- **Got through**: 5" in text
    assert "| CN | 2 | 2 | 0 |" in text
    assert "T1059.001" in text and "Intake losses" in text
    assert "| ws1 | 1 |" in text


def test_html_embeds_png_charts(data: Path) -> None:
    with open_store(data) as store:
        page = render(gather(store, DAY, home_country=""), "html").decode()
    images = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    assert len(images) == 3
    assert all(base64.b64decode(i).startswith(b"\x89PNG\r\n\x1a\n") for i in images)
    assert "<script" not in page and "http" not in page.split("<body>", 1)[1].split("T1059")[0]


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils is not installed")
def test_pdf_renders_and_is_not_blank(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "day.pdf"
    assert main(["report", "--data", str(data), "--day", DAY.isoformat(), "--format", "pdf",
                 "--out", str(out)]) == 0  # fmt: skip
    assert out.read_bytes().startswith(b"%PDF-")
    subprocess.run(
        ["pdftoppm", "-r", "40", "-gray", "-f", "1", "-l", "1", str(out), str(tmp_path / "p")],
        check=True, timeout=60,
    )  # fmt: skip
    (page,) = tmp_path.glob("p*.pgm")
    raw = page.read_bytes()
    # PGM (P5): header of three whitespace-separated fields after the magic, then pixels.
    fields = raw.split(maxsplit=4)
    assert fields[0] == b"P5"
    pixels = fields[4]
    dark = sum(1 for b in pixels if b < 128)
    assert dark > len(pixels) * 0.005, "the first page is blank"


def test_cli_md_to_stdout_and_bad_day(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--data", str(data), "--day", DAY.isoformat()]) == 0
    assert "Floodwall daily report, 2026-11-20" in capsys.readouterr().out
    with pytest.raises(SystemExit) as bad:
        main(["report", "--data", str(data), "--day", "2026-13-45"])
    assert bad.value.code == 2
    assert "not a date (YYYY-MM-DD)" in capsys.readouterr().err
    unwritable = data / "no-such-folder" / "day.md"
    assert main(["report", "--data", str(data), "--day", DAY.isoformat(), "--out",
                 str(unwritable)]) == 2  # fmt: skip
    assert f"cannot write {unwritable}" in capsys.readouterr().err


def test_empty_day_reports_zeros(tmp_path: Path) -> None:
    with open_store(tmp_path / "d") as store:
        text = render(gather(store, datetime.now(UTC).date(), home_country=""), "md").decode()
    assert "- **Attacks seen**: 0" in text
