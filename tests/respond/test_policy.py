"""The mail policy: weights and thresholds from TOML decide; detectors only name."""

from __future__ import annotations

from pathlib import Path

import pytest

from floodwall.records import Finding, Severity
from floodwall.respond.policy import Policy, PolicyError


def finding(fid: str, severity: Severity = Severity.MEDIUM) -> Finding:
    return Finding(fid, fid, severity, evidence={"reason": f"because {fid}"})


@pytest.mark.parametrize(
    ("findings", "unscannable", "action", "score"),
    [
        ([], (), "accept", 0.0),
        ([finding("mail.credential_wording")], (), "accept", 1.5),
        ([finding("mail.reply_to_mismatch"), finding("mail.credential_wording")], (), "tag", 4.5),
        ([finding("mail.double_extension")], (), "quarantine", 8.0),
        (
            [finding("mail.double_extension"), finding("mail.double_extension")],
            (),
            "quarantine",
            8.0,
        ),
        ([finding("mail.html_smuggling"), finding("mail.lookalike_domain")], (), "reject", 18.0),
        # an id the policy does not name weighs by its severity
        ([finding("mail.something_new", Severity.HIGH)], (), "tag", 6.0),
        # unscannable mail is held by default, but a worse verdict stands
        ([], ("zip bomb: ratio 1000:1",), "quarantine", 0.0),
        (
            [finding("mail.html_smuggling"), finding("mail.lookalike_domain")],
            ("zip bomb",),
            "reject",
            18.0,
        ),
    ],
)
def test_decide(
    findings: list[Finding], unscannable: tuple[str, ...], action: str, score: float
) -> None:
    verdict = Policy.load().decide(findings, unscannable)
    assert (verdict.action, verdict.score) == (action, score)
    ids = [s.id for s in verdict.symbols]
    assert len(ids) == len(set(ids))
    if unscannable:
        assert "mail.unscannable" in ids


def test_symbols_carry_reasons_and_sort_by_weight() -> None:
    verdict = Policy.load().decide([finding("mail.url_shortener"), finding("mail.html_smuggling")])
    assert [(s.id, s.score, s.reason) for s in verdict.symbols] == [
        ("mail.html_smuggling", 10.0, "because mail.html_smuggling"),
        ("mail.url_shortener", 2.0, "because mail.url_shortener"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[thresholds]\ntag = 9\nquarantine = 8\n", "thresholds must rise"),
        ("[unscannable]\naction = 'deliver'\n", "unscannable.action"),
        ("[weights\n", "policy.toml"),
        ("[weights]\n'mail.x' = 'heavy'\n", "policy.toml"),
    ],
)
def test_bad_policy_files_are_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(PolicyError, match=message):
        Policy.load(path)


def test_unscannable_can_be_delivered_by_choice(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text("[unscannable]\naction = 'tag'\n")
    assert Policy.load(path).decide([], ("truncated MIME",)).action == "tag"
