"""STIX 2.1 bundles: indicator patterns to values, with every unrepresentable part reported."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from floodwall.enrich.intel import stix
from floodwall.enrich.intel.indicator import FeedError, FeedItem, Indicator, Skipped
from floodwall.enrich.intel.stixpattern import MAX_PATTERN, PatternSyntaxError, comparisons

EXAMPLES = [
    ("apt1.json", {"cidr": 4, "domain": 3, "md5": 3}, 2),
    ("poisonivy.json", {"ip": 40, "domain": 24}, 3),
    ("indicator-for-c2-ip-address.json", {"ip": 1}, 0),
    ("indicators-for-C2-with-COA.json", {"ip": 1, "sha256": 1}, 0),
    ("malicious-email-indicator-with-attachment.json", {}, 2),
    ("infrastructure.json", {}, 0),  # observables but no indicator
    ("interop-objectmarking-test.json", {}, 0),  # a lone campaign object
]


def _split(items: list[FeedItem]) -> tuple[list[Indicator], list[Skipped]]:
    return [i for i in items if isinstance(i, Indicator)], [
        i for i in items if isinstance(i, Skipped)
    ]


@pytest.mark.parametrize(("name", "types", "skipped"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_examples(intel_samples: Path, name: str, types: dict[str, int], skipped: int) -> None:
    found, skips = _split(list(stix.read_file(intel_samples / "stix21_examples" / name, "stix")))
    assert Counter(i.type for i in found) == types
    assert len(skips) == skipped
    assert all(i.origin_id.startswith("indicator--") for i in found)


def test_example_fields(intel_samples: Path) -> None:
    path = intel_samples / "stix21_examples" / "indicator-for-c2-ip-address.json"
    (ind,) = _split(list(stix.read_file(path, "stix")))[0]
    assert (ind.type, ind.value) == ("ip", "10.0.0.0")
    assert ind.first_seen is not None and ind.first_seen.isoformat() == "2014-05-08T09:00:00+00:00"
    assert ind.origin_info == "IP Address for known C2 channel"
    assert "malicious-activity" in ind.tags


def _bundle(*indicators: dict[str, Any]) -> dict[str, Any]:
    return {"type": "bundle", "id": "bundle--1", "objects": list(indicators)}


def _ind(pattern: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "indicator", "spec_version": "2.1", "id": "indicator--1", "pattern": pattern,
        "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z", **extra,
    }  # fmt: skip


PATTERNS = [
    ("[ipv4-addr:value = '1.2.3.4']", [("ip", "1.2.3.4")], []),
    ("[ipv6-addr:value = '2001:DB8::1']", [("ip", "2001:db8::1")], []),
    ("[ipv4-addr:value = '10.0.0.0/8']", [("cidr", "10.0.0.0/8")], []),
    ("[ipv4-addr:value ISSUBSET '10.0.0.0/8']", [("cidr", "10.0.0.0/8")], []),
    (
        "[domain-name:value = 'Evil.com'] OR [url:value = 'http://evil.com/x']",
        [("domain", "evil.com"), ("url", "http://evil.com/x")],
        [],
    ),
    (
        "[ipv4-addr:value = '1.1.1.1' OR ipv4-addr:value = '2.2.2.2']",
        [("ip", "1.1.1.1"), ("ip", "2.2.2.2")],
        [],
    ),
    ("[ipv4-addr:value IN ('1.1.1.1', '2.2.2.2')]", [("ip", "1.1.1.1"), ("ip", "2.2.2.2")], []),
    (
        "[file:hashes.MD5 = 'D41D8CD98F00B204E9800998ECF8427E' AND file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']",
        [
            ("md5", "d41d8cd98f00b204e9800998ecf8427e"),
            ("sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ],
        [],
    ),
    ("[email-addr:value = 'Bad@Evil.com']", [("email", "bad@evil.com")], []),
    ("[email-message:from_ref.value = 'bad@evil.com']", [("email", "bad@evil.com")], []),
    ("[network-traffic:dst_ref.value = '5.6.7.8']", [("ip", "5.6.7.8")], []),
    (
        "[ipv4-addr:value = '1.1.1.1' OR file:name = 'x.exe']",
        [("ip", "1.1.1.1")],
        ["object path file:name names no indicator type"],
    ),
    (
        "[ipv4-addr:value = '1.1.1.1'] AND [domain-name:value = 'evil.com']",
        [],
        ["AND of observations (needs several events)"],
    ),
    (
        "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e' AND file:name = 'x']",
        [],
        ["AND of comparisons (needs all of them on one object)"],
    ),
    (
        "[email-message:subject MATCHES '^x']",
        [],
        ["comparison operator MATCHES is not =, IN or ISSUBSET"],
    ),
    ("[domain-name:value LIKE 'evil%']", [], ["comparison operator LIKE is not =, IN or ISSUBSET"]),
    ("[ipv4-addr:value != '1.1.1.1']", [], ["negated comparison (NOT / !=)"]),
    (
        "[url:value = 'http://x.com/'] REPEATS 5 TIMES",
        [],
        ["REPEAT qualifier (needs event timing)"],
    ),
    (
        "[url:value = 'http://x.com/'] WITHIN 5 SECONDS",
        [],
        ["WITHIN qualifier (needs event timing)"],
    ),
    (
        "[file:hashes.'SHA-512' = 'ab']",
        [],
        ["hash algorithm 'sha-512' is not MD5, SHA-1 or SHA-256"],
    ),
]


@pytest.mark.parametrize(
    ("pattern", "values", "reasons"), PATTERNS, ids=[p[0][:50] for p in PATTERNS]
)
def test_patterns(pattern: str, values: list[tuple[str, str]], reasons: list[str]) -> None:
    found, skips = _split(list(stix.parse_document(_bundle(_ind(pattern)), "s")))
    assert [(i.type, i.value) for i in found] == values
    assert [s.reason.removeprefix("pattern part not representable: ") for s in skips] == reasons


def test_validity_and_confidence() -> None:
    obj = _ind(
        "[domain-name:value = 'evil.com']",
        valid_until="2025-01-01T00:00:00Z",
        confidence=15,
        name="n",
    )
    (ind,), _ = _split(list(stix.parse_document(_bundle(obj), "s")))
    assert ind.valid_until is not None and ind.valid_until.year == 2025
    assert ind.confidence == 15 and ind.origin_info == "n"


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        (_ind("[ipv4-addr:value = '1.2.3.4'"), "invalid STIX pattern"),
        (_ind("garbage"), "invalid STIX pattern"),
        (_ind("[ipv4-addr:value = '999.1.1.1']"), "invalid ip in pattern: not an IP address"),
        (_ind("alert tcp any any", pattern_type="snort"), "pattern_type 'snort' is not stix"),
        (_ind("[ipv4-addr:value = '1.2.3.4']", revoked=True), "indicator is revoked"),
        ({"type": "indicator", "id": "indicator--x"}, "indicator has no pattern"),
        (
            _ind("[ipv4-addr:value = '" + "1" * (MAX_PATTERN + 1) + "']"),
            "pattern part not representable: pattern longer than",
        ),
        (_ind("[" + "(" * 300 + "ipv4-addr:value = '1.2.3.4'" + ")" * 300 + "]"), ""),
    ],
)
def test_malformed_indicator_is_one_counted_skip(obj: dict[str, Any], reason: str) -> None:
    good = _ind("[domain-name:value = 'ok.example.com']")
    found, skips = _split(list(stix.parse_document(_bundle(obj, good), "s")))
    assert "ok.example.com" in [i.value for i in found]  # the rest of the bundle imports
    if reason:
        assert len(skips) == 1 and skips[0].reason.startswith(reason), skips


def test_pattern_syntax_error_is_typed() -> None:
    with pytest.raises(PatternSyntaxError):
        comparisons("[ipv4-addr:value = ")


@pytest.mark.parametrize(
    "content",
    [
        b'{"type": "bundle", "objects": [',
        b'{"type": "bundle", "objects": 5}',
        b"\xff\xfe\x00",
        b'{"a": 1}',
    ],
)
def test_broken_bundles_are_clear_errors(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "b.json"
    path.write_bytes(content)
    with pytest.raises(FeedError):
        list(stix.read_file(path, "s"))


def test_non_object_entries_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text(json.dumps(_bundle(_ind("[ipv4-addr:value = '1.2.3.4']"), [[[]]], "x")))  # type: ignore[arg-type]
    found, skips = _split(list(stix.read_file(path, "s")))
    assert len(found) == 1 and [s.reason for s in skips] == ["STIX object is not a JSON object"] * 2
