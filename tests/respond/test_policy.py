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
        ("[groups.w]\nmax_score = 3\n", "symbols"),
        ("[groups.w]\nsymbols = 'mail.x'\nmax_score = 3\n", "list of finding ids"),
        ("[groups.w]\nsymbols = ['mail.x']\nmax_score = -1\n", "must not be negative"),
        ("[groups.w]\nsymbols = ['mail.x']\n", "max_score"),
        ("groups = 3\n", "groups must be tables"),
        ("[groups]\nw = 3\n", r"\[groups.w\] needs symbols"),
        (
            "[groups.a]\nsymbols = ['mail.x']\nmax_score = 1\n"
            "[groups.b]\nsymbols = ['mail.x']\nmax_score = 1\n",
            "shares a finding id",
        ),
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


WORDING = ("mail.credential_wording", "mail.prize_lure", "mail.crypto_lure")


@pytest.mark.parametrize(
    ("ids", "action", "score", "scores"),
    [
        # every wording signal at once stays below the tag threshold
        # (equal weights: the first id keeps its weight)
        (
            WORDING,
            "accept",
            3.5,
            {"mail.crypto_lure": 2.0, "mail.prize_lure": 1.5, "mail.credential_wording": 0.0},
        ),
        (WORDING[1:], "accept", 3.5, {"mail.crypto_lure": 2.0, "mail.prize_lure": 1.5}),
        (WORDING[:2], "accept", 3.5, {"mail.prize_lure": 2.0, "mail.credential_wording": 1.5}),
        (WORDING[2:], "accept", 2.0, {"mail.crypto_lure": 2.0}),
        # ... but adds its capped weight to a real signal
        (
            (*WORDING, "mail.reply_to_mismatch"),
            "tag",
            6.5,
            {
                "mail.reply_to_mismatch": 3.0,
                "mail.crypto_lure": 2.0,
                "mail.prize_lure": 1.5,
                "mail.credential_wording": 0.0,
            },
        ),
    ],
)
def test_wording_group_is_capped(
    ids: tuple[str, ...], action: str, score: float, scores: dict[str, float]
) -> None:
    verdict = Policy.load().decide([finding(i) for i in ids])
    assert (verdict.action, verdict.score) == (action, score)
    assert {s.id: s.score for s in verdict.symbols} == scores
    assert round(sum(s.score for s in verdict.symbols), 2) == verdict.score
    for s in verdict.symbols:
        cut = s.score < Policy.load().weights[s.id]
        assert ("wording capped at 3.5" in s.reason) is cut


def test_group_of_a_custom_policy(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(
        "[weights]\n'mail.a' = 3.0\n'mail.b' = 3.0\n'mail.c' = 1.0\n"
        "[groups.pair]\nsymbols = ['mail.a', 'mail.b']\nmax_score = 4\n"
    )
    verdict = Policy.load(path).decide([finding("mail.a"), finding("mail.b"), finding("mail.c")])
    assert (verdict.action, verdict.score) == ("tag", 5.0)
    assert [(s.id, s.score) for s in verdict.symbols] == [
        ("mail.a", 3.0),
        ("mail.b", 1.0),
        ("mail.c", 1.0),
    ]
