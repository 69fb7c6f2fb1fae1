"""``floodwall stats``: the hand-built store's day, as JSON and as tables."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from floodwall.cli.main import main

if "figures_store" not in sys.modules:
    _spec = importlib.util.spec_from_file_location(
        "figures_store", Path(__file__).resolve().parents[1] / "store" / "figures_store.py"
    )
    assert _spec is not None and _spec.loader is not None
    sys.modules["figures_store"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["figures_store"])

import figures_store as fs


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    fs.build_store(tmp_path).close()
    (tmp_path / "floodwall.toml").write_text('[origin]\nhome_country = "CN"\n')
    return tmp_path


def test_json_gives_the_exact_figures(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["stats", "--day", "2026-03-10", "--format", "json", "--data", str(data_dir)])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["seen"], doc["blocked"], doc["got_through"]) == (10, 4, 6)
    assert doc["home_country"] == "CN"  # from floodwall.toml
    assert doc["by_source"] == [
        {"key": "mail", "seen": 6, "blocked": 4, "got_through": 2},
        {"key": "logs", "seen": 4, "blocked": 0, "got_through": 4},
    ]
    origins = {r["key"]: r["seen"] for r in doc["by_origin"]}
    assert origins == {"domestic": 3, "abroad": 3, "internal": 1, "obscured": 0, "unknown": 3}
    assert doc["losses"] == [
        {"source": "mail:gateway", "received": 4, "unparseable": 0, "dropped": None,
         "late": None},
        {"source": "mail:scan", "received": 1, "unparseable": 1, "dropped": None, "late": None},
    ]  # fmt: skip


def test_home_and_fold_options(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["stats", "--day", "2026-03-10", "--format", "json", "--data", str(data_dir)]
    assert main([*argv, "--home", "de", "--fold-minutes", "1440"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["home_country"] == "DE" and doc["fold_minutes"] == 1440
    assert doc["seen"] == 9  # rule A on h1 folds into one attack for the whole day
    assert {r["key"]: r["seen"] for r in doc["by_origin"]}["domestic"] == 1


def test_table_shows_the_figures_and_names(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stats", "--day", "2026-03-10", "--data", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "10 attacks seen, 4 blocked, 6 got through" in out
    assert "T1566.001 Spearphishing Attachment" in out
    assert "T1059.001 PowerShell" in out
    assert "not recorded" in out  # dropped and late have no source yet


def test_losses_of_today_and_unfinished_hunts(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stats", "--data", str(data_dir)]) == 0  # today: the hunts ran today
    out = capsys.readouterr().out

    # Several hunted files: a total row names their folder, each file follows by name.
    def cells(text: str) -> list[str]:
        (line,) = [line for line in out.splitlines() if text in line]
        return [c.strip() for c in line.split("│")[1:4]]

    assert cells("logs: 2 inputs in /logs") == ["logs: 2 inputs in /logs", "160", "2"]
    assert cells("y.json") == ["y.json", "40", "2"]
    assert cells("x.evtx") == ["x.evtx", "120", "0"]
    assert "1 hunt(s) started that day never finished" in out


@pytest.mark.parametrize(
    "argv",
    [["--day", "2026-13-01"], ["--day", "yesterday"], ["--fold-minutes", "7"],
     ["--format", "xml"], ["--day", "0001-01-01"], ["--day", "9999-12-31"]],
)  # fmt: skip
def test_bad_arguments_exit_2(
    data_dir: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = main(["stats", "--data", str(data_dir), *argv])
    except SystemExit as e:  # argparse's own usage errors
        code = int(e.code or 0)
    assert code == 2
    assert "Traceback" not in capsys.readouterr().err
