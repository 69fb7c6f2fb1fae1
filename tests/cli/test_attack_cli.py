"""``floodwall attack``: coverage of a small rule set plus the mail detectors, techniques
seen in the hand-built store, a valid Navigator layer, info and an offline update."""

from __future__ import annotations

import gzip
import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

from floodwall.cli.main import main
from floodwall.plugins import MAIL_DETECTORS

if "figures_store" not in sys.modules:
    _spec = importlib.util.spec_from_file_location(
        "figures_store", Path(__file__).resolve().parents[1] / "store" / "figures_store.py"
    )
    assert _spec is not None and _spec.loader is not None
    sys.modules["figures_store"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["figures_store"])

import figures_store as fs

SAMPLE_RULE = Path(__file__).resolve().parents[1] / "samples" / "detect" / "sigma" / "rule.yml"
PERIOD = ["--since", "2026-03-09", "--until", "2026-03-11"]


def rule(text: str, title: str, rule_id: str, tags: list[str]) -> str:
    head, _, rest = text.partition("tags:")
    _, _, tail = rest.partition("logsource:")
    lines = "".join(f"    - {t}\n" for t in tags)
    head = head.replace("Whoami Executed By A Service Account (sample)", title)
    head = head.replace("2b3a8c0e-6a51-4d7e-9d6f-0c4e1f6b9a11", rule_id)
    return f"{head}tags:\n{lines}logsource:{tail}"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """The figures store, and a rule set of three rules in place of the bundled one."""
    data = tmp_path / "data"
    fs.build_store(data).close()
    rules = data / "sigma" / "rules"
    rules.mkdir(parents=True)
    text = SAMPLE_RULE.read_text("utf-8")
    for name, rid, tags in [
        ("PowerShell", "00000000-0000-4000-8000-000000000001", ["attack.t1059.001"]),
        ("Lsass", "00000000-0000-4000-8000-000000000002",
         ["attack.credential-access", "attack.t1003.001", "attack.t1066"]),
        ("Future", "00000000-0000-4000-8000-000000000003", ["attack.t1685"]),
    ]:  # fmt: skip
        (rules / f"{name}.yml").write_text(rule(text, name, rid, tags), "utf-8")
    (data / "floodwall.toml").write_text(f'cache_dir = "{tmp_path / "cache"}"\n')
    return data


def coverage(data: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, object]:
    argv = ["attack", "coverage", "--data", str(data), "--format", "json", *PERIOD, *extra]
    assert main(argv) == 0
    doc: dict[str, object] = json.loads(capsys.readouterr().out)
    return doc


def test_coverage_counts_rules_detectors_and_seen(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = coverage(data_dir, capsys)
    assert doc["rules"] == {"loaded": 3, "not_loaded": 0}
    techs = {t["id"]: t for t in doc["techniques"]}  # type: ignore[attr-defined]
    assert techs["T1059.001"]["rules"] == 1 and techs["T1059.001"]["seen"] == 4
    # T1066 was revoked by T1027.005: the rule counts there, and the problem is said.
    assert techs["T1027.005"]["rules"] == 1
    assert techs["T1003.001"]["rules"] == 1 and techs["T1003.001"]["seen"] == 1
    assert techs["T1566.001"]["rules"] == 0 and techs["T1566.001"]["seen"] == 4
    mail_ids = {d.id for d in MAIL_DETECTORS if "T1566.001" in d.attack}
    assert set(techs["T1566.001"]["detectors"]) == mail_ids
    assert techs["T1078"]["seen"] == 1 and techs["T1078"]["rules"] == 0
    assert techs["T1078"]["detectors"] == []
    problems = {(p["id"], p["reason"]) for p in doc["problems"]}  # type: ignore[attr-defined]
    assert ("T1685", "unknown in ATT&CK Enterprise 18.1") in problems
    assert ("T1066", "revoked by MITRE; replaced by T1027.005") in problems
    tactics = {t["shortname"]: t for t in doc["tactics"]}  # type: ignore[attr-defined]
    # T1078 Valid Accounts was seen with no rule or detector: a gap in four tactics.
    for name in ("initial-access", "persistence", "privilege-escalation", "defense-evasion"):
        assert tactics[name]["seen_uncovered"] == 1, name
    assert tactics["execution"]["seen"] == 2  # T1059.001 and T1204.002
    assert tactics["execution"]["seen_uncovered"] == 0
    assert doc["period"] == {"since": "2026-03-09", "until": "2026-03-11"}


def test_seen_depends_on_the_period(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = coverage(data_dir, capsys, "--since", "2026-03-11", "--until", "2026-03-11")
    seen = {t["id"]: t["seen"] for t in doc["techniques"] if t["seen"]}  # type: ignore[attr-defined]
    assert seen == {"T1566.001": 1}  # m5, the only attack on the 11th


def test_navigator_layer_is_valid(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layer_path = tmp_path / "layer.json"
    coverage(data_dir, capsys, "--layer", str(layer_path))
    layer = json.loads(layer_path.read_text("utf-8"))
    # Required by layer format 4.5: name, domain, versions.navigator and versions.layer.
    assert layer["domain"] == "enterprise-attack"
    assert layer["versions"] == {"attack": "18", "navigator": "5.1.0", "layer": "4.5"}
    assert isinstance(layer["name"], str) and layer["name"]
    nav = tuple(int(x) for x in layer["versions"]["navigator"].split("."))
    assert nav >= (4, 9, 0)
    by_id = {t["techniqueID"]: t for t in layer["techniques"]}
    assert len(by_id) == len(layer["techniques"])  # one entry per technique
    for t in layer["techniques"]:
        assert set(t) <= {"techniqueID", "tactic", "comment", "enabled", "score", "color",
                          "metadata", "links", "showSubtechniques"}  # fmt: skip
        assert isinstance(t["score"], int) and t["color"].startswith("#")
    assert by_id["T1059.001"]["score"] == 4 and by_id["T1059.001"]["color"] == "#ffb000"
    assert by_id["T1078"]["color"] == "#ff6666"  # seen, nothing covers it
    assert by_id["T1027.005"]["score"] == 0 and by_id["T1027.005"]["color"] == "#8ec843"
    assert "T1685" not in by_id  # unknown ids never reach the layer
    g = layer["gradient"]
    assert len(g["colors"]) >= 2 and g["maxValue"] > g["minValue"]
    assert all({"label", "color"} == set(x) for x in layer["legendItems"])


def test_table_output(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["attack", "coverage", "--data", str(data_dir), *PERIOD]) == 0
    out = capsys.readouterr().out
    assert "3 Sigma rules loaded" in out
    assert "TA0001 Initial Access" in out
    assert "T1059.001 PowerShell" in out
    assert "T1685: unknown in ATT&CK Enterprise 18.1" in out


def test_until_before_since_exit_2(data_dir: Path) -> None:
    argv = ["attack", "coverage", "--data", str(data_dir)]
    assert main([*argv, "--since", "2026-03-11", "--until", "2026-03-01"]) == 2


def test_info_and_offline_update(
    tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert main(["attack", "info", "--data", str(data)]) == 0
    assert "enterprise-attack 18.1: 14 tactics, 835 techniques" in capsys.readouterr().out
    bundle = tmp_path / "enterprise-attack.json.gz"
    shutil.copy(shared_data / "mitre_attack" / "enterprise-attack-18.1.stix20.json.gz", bundle)
    assert main(["attack", "update", str(bundle), "--version", "18.1", "--data", str(data)]) == 0
    assert "835 techniques (132 revoked, 12 deprecated)" in capsys.readouterr().err
    assert main(["attack", "info", "--data", str(data)]) == 0
    assert str(data / "attack") in capsys.readouterr().out


def test_update_refuses_a_broken_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(gzip.compress(b'{"type": "bundle", "objects": [{"type": "identity"}]}'))
    argv = ["attack", "update", str(bad), "--version", "1", "--data", str(tmp_path / "d")]
    assert main(argv) == 2
    assert "no ATT&CK techniques" in capsys.readouterr().err
    assert not (tmp_path / "d" / "attack").exists()
