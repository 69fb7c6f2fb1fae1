"""The YARA adapter and detector: bundled rules that must and must not fire, the cache,
files that do not compile, and hostile data that must not hang a scan."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import attachment_cases as cases
import pytest

from floodwall.detect.mail import yara_rules
from floodwall.detect.mail.yara_match import YaraDetector
from floodwall.detect.mail.yara_rules import YaraRules, YaraScanTimeout

att, message = cases.att, cases.message

BUNDLED = Path(__file__).parents[3] / "floodwall" / "data" / "yara"
# Built from two halves so the repository holds no EICAR file that scanners would flag.
EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*").encode()
# The bundled rules have no EICAR rule, so the EICAR case brings its own.
EICAR_RULE = """rule EICAR_Test_File {
  meta:
    author = "Floodwall tests"
    reference = "https://www.eicar.org/download-anti-malware-testfile/"
  strings:
    $e = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!"
  condition:
    $e at 0 or ($e and filesize < 128)
}
"""
# An Excel web query (the first line says WEB, then a URL): InQuest IQY_File and
# signature-base SUSP_Excel_IQY_RemoteURI_Syntax.
IQY = b"WEB\r\n1\r\nhttps://example.com/report.txt\r\n"
# signature-base SUSP_Email_Redirection_Spoofing_Feb25: padding that hides a link's host.
REDIRECT = (
    b"Subject: Your video\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
    b"https://www.youtube.com%20%20%20%20%20%20%20%20@example.org/watch\r\n"
)
PNG = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89"


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> YaraRules:
    return YaraRules.compile(BUNDLED, tmp_path_factory.mktemp("yara-cache"))


@pytest.fixture(scope="module")
def eicar_rules(tmp_path_factory: pytest.TempPathFactory) -> YaraRules:
    folder = tmp_path_factory.mktemp("rules")
    (folder / "test").mkdir()
    (folder / "test" / "eicar.yar").write_text(EICAR_RULE)
    return YaraRules.compile(folder)


def test_bundled_rules_compile(bundled: YaraRules) -> None:
    # Everything compiles under yara-x but the one file left out on purpose.
    assert [p for p, _ in bundled.problems] == ["inquest/NTLM_Credentials_Theft_via_PDF_Files.yar"]
    assert bundled.count >= 280


@pytest.mark.parametrize(
    ("rules", "name", "data", "expected"),
    [
        ("eicar", "eicar.com", EICAR, ["test:EICAR_Test_File"]),
        (
            "bundled",
            "report.iqy",
            IQY,
            ["inquest:IQY_File", "signature-base:SUSP_Excel_IQY_RemoteURI_Syntax"],
        ),
        (
            "bundled",
            "video.eml",
            REDIRECT,
            ["signature-base:SUSP_Email_Redirection_Spoofing_Feb25"],
        ),
        ("bundled", "notes.txt", b"Hello, the minutes of Monday's meeting are below.\n" * 50, []),
        ("bundled", "photo.png", PNG, []),
        ("bundled", "empty.txt", b"", []),
        ("eicar", "notes.txt", b"an EICAR mention is not the file", []),
    ],
)
def test_detector(request: Any, rules: str, name: str, data: bytes, expected: list[str]) -> None:
    detector = YaraDetector(
        request.getfixturevalue(f"{rules}_rules" if rules == "eicar" else rules)
    )
    findings = detector.detect(message(att(name, "text", data)))
    assert [f"{f.evidence['namespace']}:{f.evidence['rule']}" for f in findings] == expected
    for f in findings:
        assert (f.id, f.detector, f.severity, f.attack) == (
            detector.id,
            detector.id,
            detector.severity,
            detector.attack,
        )
        assert f.evidence["attachment"] == name


def test_drl_attribution_is_kept(bundled: YaraRules) -> None:
    (finding,) = YaraDetector(bundled).detect(message(att("video.eml", "text", REDIRECT)))
    ev = finding.evidence
    assert ev["license"] == "DRL-1.1"
    assert ev["author"] == "Jonathan Peters (cod3nym)"
    assert ev["reference"].startswith("https://any.run/")
    assert ev["author"] in ev["reason"] and ev["reference"] in ev["reason"]
    (iqy,) = [
        f
        for f in YaraDetector(bundled).detect(message(att("a.iqy", "text", IQY)))
        if f.evidence["namespace"] == "inquest"
    ]
    assert (iqy.evidence["author"], iqy.evidence["license"]) == ("InQuest Labs", "MIT")


def test_hostile_random_data_finishes_in_time(bundled: YaraRules) -> None:
    data = os.urandom(50 << 20)
    start = time.perf_counter()
    assert bundled.scan(data, filename="blob.bin") == []
    assert time.perf_counter() - start < bundled.timeout


def test_timeout_raises_so_the_message_is_held() -> None:
    # A rule that is slow on purpose stands in for hostile data against a costly rule.
    rules = YaraRules.compile(BUNDLED, timeout=1)
    slow = b"<w:fldChar w:fldCharType='begin'/> DDEAUTO " * 200_000
    start = time.perf_counter()
    with pytest.raises(YaraScanTimeout):
        YaraDetector(rules).detect(message(att("doc.xml", "text", slow)))
    assert time.perf_counter() - start < 5


def _no_compiler(*args: object, **kwargs: object) -> None:
    raise AssertionError("compiled again instead of read from the cache")


def test_cache_round_trip(tmp_path: Path) -> None:
    first = YaraRules.compile(BUNDLED, tmp_path)
    cached = sorted(p.name for p in tmp_path.iterdir())
    assert len(cached) == 2 and cached[0].endswith(".problems.json")
    with pytest.MonkeyPatch.context() as mp:  # read back, never compiled again
        mp.setattr(yara_rules.yara_x, "Compiler", _no_compiler)
        second = YaraRules.compile(BUNDLED, tmp_path)
    assert second.problems == first.problems and second.count == first.count
    assert second.scan(IQY, filename="a.iqy") == first.scan(IQY, filename="a.iqy")
    # A damaged cache is not an error: the rules are compiled again.
    next(tmp_path.glob("*.rules")).write_bytes(b"garbage")
    again = YaraRules.compile(BUNDLED, tmp_path)
    assert again.count == first.count


def test_bad_files_are_reported_not_dropped(tmp_path: Path) -> None:
    (tmp_path / "good.yar").write_text('rule Good { strings: $a = "floodwall" condition: $a }')
    (tmp_path / "bad.yar").write_text("rule Bad { condition: nosuchthing }")
    (tmp_path / "latin1.yar").write_bytes(b'rule L { strings: $a = "\xe9" condition: $a }')
    rules = YaraRules.compile(tmp_path)
    assert [p for p, _ in rules.problems] == ["bad.yar", "latin1.yar"]
    assert "nosuchthing" in rules.problems[0][1]
    assert [m.rule for m in rules.scan(b"floodwall", filename="x")] == ["Good"]
    assert rules.scan(b"floodwall", filename="x")[0].namespace == "default"
