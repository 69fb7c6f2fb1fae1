"""ATT&CK names, links and tactics from the bundled data; unknown and revoked ids said."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from floodwall.enrich.attack import (
    AttackEnricher,
    AttackError,
    AttackProblem,
    default_attack_dir,
    load_attack_data,
    technique_ids_in,
)
from floodwall.enrich.attack_build import AttackBuildError, build, derive, read_bundle
from floodwall.records import Finding, Observable, Severity


@pytest.fixture(scope="module")
def enricher() -> AttackEnricher:
    return AttackEnricher(load_attack_data(default_attack_dir()))


def test_bundled_data_is_enterprise_18_1(enricher: AttackEnricher) -> None:
    data = enricher.data
    assert (data.version, data.domain) == ("18.1", "enterprise-attack")
    assert len(data.tactics) == 14 and len(data.techniques) == 835
    assert [t.shortname for t in data.tactics[:3]] == [
        "reconnaissance", "resource-development", "initial-access",
    ]  # fmt: skip
    assert sum(t.revoked for t in data.techniques.values()) == 132
    assert sum(t.deprecated for t in data.techniques.values()) == 12


def test_names_links_and_tactics(enricher: AttackEnricher) -> None:
    m = enricher.resolve(["T1566.001", "t1059.001", "T1566.001"])
    assert m.ids == ("T1566.001", "T1059.001")  # order kept, duplicates once
    phish, ps = m.techniques
    assert phish.name == "Spearphishing Attachment"
    assert phish.url == "https://attack.mitre.org/techniques/T1566/001"
    assert (phish.is_subtechnique, phish.parent) == (True, "T1566")
    assert ps.name == "PowerShell"
    assert [t.shortname for t in m.tactics] == ["initial-access", "execution"]  # matrix order
    assert m.tactics[0].url == "https://attack.mitre.org/tactics/TA0001"
    assert m.problems == ()


def test_unknown_revoked_and_deprecated_ids_are_reported(enricher: AttackEnricher) -> None:
    m = enricher.resolve(["T9999", "T1066", "T1064", "nonsense", "T1059"])
    # T1066 was revoked by T1027.005; T1064 (Scripting) is deprecated.
    assert m.ids == ("T1027.005", "T1064", "T1059")
    assert AttackProblem("T9999", "unknown in ATT&CK Enterprise 18.1") in m.problems
    assert AttackProblem("T1066", "revoked by MITRE; replaced by T1027.005") in m.problems
    assert AttackProblem("T1064", "deprecated by MITRE; kept under its old name") in m.problems
    assert any(p.id == "nonsense" and "not an ATT&CK" in p.reason for p in m.problems)
    assert len(m.problems) == 4


def test_sigma_tags(enricher: AttackEnricher) -> None:
    tags = ("attack.execution", "attack.t1059.001", "attack.g0007", "attack.s0002",
            "attack.T1003.001", "cve.2021-44228")  # fmt: skip
    m = enricher.from_sigma_tags(tags)
    assert m.ids == ("T1059.001", "T1003.001")
    assert [t.shortname for t in m.tactics] == ["execution", "credential-access"]


def test_mail_findings_get_delivery_and_user_execution(enricher: AttackEnricher) -> None:
    att = Finding("mail.double_extension", "x", Severity.HIGH, ("T1036.007",),
                  evidence={"attachment": "a.pdf.exe", "reason": "r"})  # fmt: skip
    assert enricher.for_finding(att).ids == ("T1036.007", "T1566.001", "T1204.002")
    link = Finding("mail.ip_literal_url", "x", Severity.MEDIUM, (),
                   observables=(Observable("url", "http://198.51.100.7/login"),))  # fmt: skip
    assert enricher.for_finding(link).ids == ("T1566.002", "T1204.001")
    named = Finding("mail.macro_autoexec", "x", Severity.HIGH, ("T1204.002", "T1566.001"),
                    evidence={"attachment": "a.docm"})  # fmt: skip
    assert enricher.for_finding(named).ids == ("T1204.002", "T1566.001")
    sender = Finding("mail.reply_to_mismatch", "x", Severity.LOW, ("T1566",))
    assert enricher.for_finding(sender).ids == ("T1566",)
    log = Finding("sigma.x", "x", Severity.HIGH, ("T1059.001",), evidence={"attachment": "y"})
    assert enricher.for_finding(log).ids == ("T1059.001",)  # only mail gets delivery added


def test_intel_tags(enricher: AttackEnricher) -> None:
    tags = ['misp-galaxy:mitre-attack-pattern="Spearphishing Attachment - T1566.001"',
            "tlp:white", "attack.t1071.001"]  # fmt: skip
    assert enricher.for_intel(tags).ids == ("T1566.001", "T1071.001")
    none = enricher.for_intel(["tlp:amber", "type:OSINT"], ["C2 server"])
    assert none.techniques == () and none.problems[0].reason == "the indicator names no technique"
    assert technique_ids_in(["T1234567", "xT1059", "T1059.001.5", "(T1105)"]) == ["T1105"]


def test_to_json_is_plain(enricher: AttackEnricher) -> None:
    doc = enricher.resolve(["T1105", "T9999"]).to_json()
    assert json.loads(json.dumps(doc)) == doc
    assert doc["techniques"][0]["url"] == "https://attack.mitre.org/techniques/T1105"
    assert doc["problems"] == [{"id": "T9999", "reason": "unknown in ATT&CK Enterprise 18.1"}]


def test_matches_the_shipped_csv(enricher: AttackEnricher, shared_data: Path) -> None:
    import csv

    text = (shared_data / "mitre_attack" / "techniques.csv").read_text("utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    assert len(rows) == len(enricher.data.techniques)
    for r in rows:
        t = enricher.data.techniques[r["technique_id"]]
        assert t.name == r["name"]
        assert t.revoked == (r["revoked"] == "true")
        assert t.deprecated == (r["deprecated"] == "true")
        assert set(t.tactics) == set(r["tactics"].replace(";", " ").split())
        assert t.url == r["url"]


def test_build_from_a_small_bundle_and_update_dir(tmp_path: Path) -> None:
    ext = "external_references"
    bundle = {"type": "bundle", "id": "bundle--1", "objects": [
        {"type": "x-mitre-tactic", "id": "x-mitre-tactic--1", "name": "Execution",
         "x_mitre_shortname": "execution",
         ext: [{"source_name": "mitre-attack", "external_id": "TA0002"}]},
        {"type": "attack-pattern", "id": "attack-pattern--1", "name": "New",
         "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": "execution"}],
         ext: [{"source_name": "mitre-attack", "external_id": "T1000"}]},
        {"type": "attack-pattern", "id": "attack-pattern--2", "name": "Old", "revoked": True,
         ext: [{"source_name": "mitre-attack", "external_id": "T1001"}]},
        {"type": "relationship", "relationship_type": "revoked-by",
         "source_ref": "attack-pattern--2", "target_ref": "attack-pattern--1"},
        "not an object",
    ]}  # fmt: skip
    path = tmp_path / "b.json.gz"
    path.write_bytes(gzip.compress(json.dumps(bundle).encode()))
    result = build(path, tmp_path / "out", attack_version="0.1", source="test")
    assert (result.techniques, result.revoked, result.tactics) == (2, 1, 1)
    e = AttackEnricher(load_attack_data(tmp_path / "out"))
    m = e.resolve(["T1001"])
    assert m.ids == ("T1000",) and m.problems[0].reason == "revoked by MITRE; replaced by T1000"
    assert "MITRE ATT&CK Enterprise 0.1" in (tmp_path / "out" / "VERSION").read_text()


@pytest.mark.parametrize(
    "content",
    [b"", b"\x1f\x8b\x08\x00garbage", b"\xff\xfe not utf-8", b"[1, 2]", b'{"type": "bundle"}',
     b'{"type": "bundle", "objects": [' + b"[" * 100_000, b"{" * 5000],
)  # fmt: skip
def test_hostile_bundles_give_a_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(AttackBuildError, match=r"bad\.json"):
        read_bundle(path)


def test_a_bundle_without_techniques_is_refused() -> None:
    with pytest.raises(AttackBuildError, match="no ATT&CK techniques"):
        derive([{"type": "identity"}], attack_version="x")


@pytest.mark.parametrize("content", ["", "{", '{"tactics": []}', "[]", '{"format": 1}'])
def test_damaged_data_file_is_a_clear_error(tmp_path: Path, content: str) -> None:
    (tmp_path / "enterprise-attack.json").write_text(content)
    with pytest.raises(AttackError, match="cannot read ATT&CK data"):
        load_attack_data(tmp_path)
    with pytest.raises(AttackError, match="cannot read"):
        load_attack_data(tmp_path / "missing")


def test_a_gzip_bomb_stops_at_the_size_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import floodwall.enrich.attack_build as ab

    monkeypatch.setattr(ab, "MAX_BUNDLE", 1 << 20)  # the real cap is 256 MiB
    path = tmp_path / "bomb.json.gz"
    path.write_bytes(gzip.compress(b" " * (4 << 20)))
    with pytest.raises(AttackBuildError, match="larger than 1 MiB"):
        read_bundle(path)
