"""MISP events: single, wrapped in an API response, and feed directories; hostile input."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from floodwall.enrich.intel import misp
from floodwall.enrich.intel.indicator import FeedError, FeedItem, Indicator, Skipped

# Per ESET sample: indicators by type, and skips by attribute type (types that are not
# indicators: filename, text, regkey, link, vulnerability).
ESET = [
    (
        "sednit_2018-11-20_Zebrocy.json",
        {"sha1": 5, "md5": 5, "sha256": 5, "url": 2, "email": 11},
        {"text": 4},
    ),
    ("glupteba_glupteba.misp-event.json", {"ip": 44, "domain": 274, "sha1": 6}, {"regkey": 1}),
    (
        "machete_misp-machete-event.json",
        {"md5": 104, "sha1": 104, "sha256": 104, "url": 12, "domain": 3, "ip": 6},
        {"filename": 56, "text": 7},
    ),
    (
        "dukes_misp-dukes-operation-ghost-event.json",
        {"sha1": 18, "url": 49, "domain": 20},
        {"text": 13, "link": 1},
    ),
    (
        "signsight_signsight-misp-event.json",
        {"sha1": 5, "domain": 2, "url": 2},
        {"link": 1, "text": 3},
    ),
]


def _split(items: list[FeedItem]) -> tuple[list[Indicator], list[Skipped]]:
    return [i for i in items if isinstance(i, Indicator)], [
        i for i in items if isinstance(i, Skipped)
    ]


@pytest.mark.parametrize(("name", "types", "skipped"), ESET, ids=[e[0].split("_")[0] for e in ESET])
def test_eset_events(
    intel_samples: Path, name: str, types: dict[str, int], skipped: dict[str, int]
) -> None:
    found, skips = _split(list(misp.read_file(intel_samples / "misp_events_eset" / name, "eset")))
    assert Counter(i.type for i in found) == types
    by_attr = Counter(s.reason.split("'")[1] for s in skips)
    assert by_attr == skipped
    assert all(i.origin_id and i.origin_info for i in found)


def test_every_eset_event_imports(intel_samples: Path) -> None:
    files = sorted((intel_samples / "misp_events_eset").glob("*.json"))
    assert len(files) == 11
    total = Counter[str]()
    for path in files:
        found, _ = _split(list(misp.read_file(path, "eset")))
        assert found, path.name
        total.update(i.type for i in found)
    assert total["domain"] >= 318 and total["email"] == 11 and total["ip"] == 51


def test_eset_values_are_normalized_and_attributed(intel_samples: Path) -> None:
    path = intel_samples / "misp_events_eset" / "sednit_2018-11-20_Zebrocy.json"
    found, _ = _split(list(misp.read_file(path, "eset", confidence=80)))
    email = next(i for i in found if i.value == "karakos3232@seznam.cz")
    assert email.origin_info == "Zebrocy blogpost November 2018"
    assert email.origin_id == "5be1e65d-8198-497b-bdf5-5ec20a016219"
    assert email.confidence == 40  # to_ids false halves the confidence
    assert "misp:to_ids=false" in email.tags
    assert email.first_seen is not None and email.last_seen is not None
    hashed = next(i for i in found if i.type == "sha256")
    assert hashed.comment.startswith("filename ")  # filename|sha256 keeps the name


def _event(
    *attributes: dict[str, Any], objects: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "Event": {
            "uuid": "e1", "info": "test event", "date": "2024-01-02",
            "Tag": [{"name": "tlp:white"}],
            "Attribute": list(attributes), "Object": objects or [],
        }
    }  # fmt: skip


def _attr(type_: str, value: Any, **extra: Any) -> dict[str, Any]:
    return {"type": type_, "value": value, "to_ids": True, "uuid": f"a-{type_}", **extra}


INLINE = [
    (_attr("ip-dst", "1.2.3.4"), [("ip", "1.2.3.4")]),
    (_attr("ip-src", "10.0.0.0/8"), [("cidr", "10.0.0.0/8")]),
    (_attr("ip-dst|port", "1.2.3.4|443"), [("ip", "1.2.3.4")]),
    (_attr("domain|ip", "Evil.com|5.6.7.8"), [("domain", "evil.com"), ("ip", "5.6.7.8")]),
    (_attr("hostname", "c2.evil.com."), [("domain", "c2.evil.com")]),
    (_attr("url", "HTTP://evil.com:80/x#y"), [("url", "http://evil.com/x")]),
    (_attr("url", "djcaps.gotdns.ch"), [("domain", "djcaps.gotdns.ch")]),
    (_attr("filename|sha256", "a|b.exe|" + "A" * 64), [("sha256", "a" * 64)]),
    (_attr("malware-sample", "x.exe|" + "b" * 32), [("md5", "b" * 32)]),
    (_attr("email-src", "Bad@Evil.com"), [("email", "bad@evil.com")]),
]


@pytest.mark.parametrize(
    ("attr", "expected"), INLINE, ids=[a["type"] + ":" + str(a["value"])[:20] for a, _ in INLINE]
)
def test_attribute_types(attr: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    found, skips = _split(list(misp.parse_document(_event(attr), "t")))
    assert not skips
    assert [(i.type, i.value) for i in found] == expected
    assert all("tlp:white" in i.tags for i in found)


@pytest.mark.parametrize(
    ("attr", "reason"),
    [
        (_attr("regkey", "HKLM\\x"), "attribute type 'regkey' is not an indicator type"),
        (_attr("ip-dst", "999.1.1.1"), "invalid ip-dst: not an IP address"),
        (_attr("ip-dst", {"nested": 1}), "attribute value is not a string"),
        (_attr("ip-dst", "1.2.3.4", deleted=True), "attribute is deleted"),
        (_attr("domain|ip", "evil.com"), "composite 'domain|ip' value without its '|' parts"),
        (
            _attr("sha1", "d41d8cd98f00b204e9800998ecf8427e"),
            "invalid sha1: a 32-digit hash is not sha1",
        ),
        (_attr("", "x"), "attribute type '(none)' is not an indicator type"),
    ],
)
def test_bad_attributes_are_counted_skips(attr: dict[str, Any], reason: str) -> None:
    good = _attr("domain", "ok.example.com")
    found, skips = _split(list(misp.parse_document(_event(attr, good), "t")))
    assert [s.reason for s in skips] == [reason]
    assert [i.value for i in found] == ["ok.example.com"]  # the rest still imports


def test_object_attributes_and_ids_only() -> None:
    obj = {"name": "file", "Attribute": [_attr("sha256", "c" * 64), _attr("filename", "x.exe")]}
    doc = _event(_attr("domain", "a.example.com", to_ids=False), objects=[obj])
    found, skips = _split(list(misp.parse_document(doc, "t")))
    assert {(i.type, i.value) for i in found} == {("domain", "a.example.com"), ("sha256", "c" * 64)}
    assert "misp-object:file" in next(i for i in found if i.type == "sha256").tags
    found, skips = _split(list(misp.parse_document(doc, "t", ids_only=True)))
    assert [i.value for i in found] == ["c" * 64]
    assert "to_ids is false (not meant for detection)" in [s.reason for s in skips]


def test_wrapped_and_listed_events() -> None:
    one = _event(_attr("domain", "a.example.com"))
    for doc in ({"response": [one, one]}, [one, one]):
        found, _ = _split(list(misp.parse_document(doc, "t")))
        assert len(found) == 2


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_feed_directory(tmp_path: Path) -> None:
    _write(tmp_path / "u1.json", _event(_attr("domain", "one.example.com")))
    (tmp_path / "u2.json").write_text('{"Event": {"Attribute": [', encoding="utf-8")
    _write(tmp_path / "manifest.json", {"u1": {"info": "a"}, "u2": {}, "u3": {}, "../etc": {}})
    found, skips = _split(list(misp.read_feed(tmp_path, "feed")))
    assert [i.value for i in found] == ["one.example.com"]
    reasons = sorted(s.reason.split(":")[0] for s in skips)
    assert reasons == [
        "event file unreadable", "event listed in manifest.json has no file",
        "event listed in manifest.json has no file",
    ]  # fmt: skip


# -- hostile input -------------------------------------------------------------------


def test_truncated_json_is_a_clear_error(tmp_path: Path) -> None:
    text = json.dumps(_event(_attr("domain", "a.example.com")))
    path = tmp_path / "t.json"
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(FeedError, match="truncated"):
        list(misp.read_file(path, "t"))


@pytest.mark.parametrize("depth", [50, 100_000])
def test_deep_nesting(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"Event": {"info": "x", "Attribute": [' + "[" * depth + "]" * depth + "]}}")
    if depth == 50:
        found, skips = _split(list(misp.read_file(path, "t")))
        assert not found and [s.reason for s in skips] == ["attribute is not an object"]
    else:
        with pytest.raises(FeedError, match="nested too deeply"):
            list(misp.read_file(path, "t"))


def test_invalid_utf8_skips_only_the_bad_value(tmp_path: Path) -> None:
    doc = json.dumps(_event(_attr("domain", "BAD"), _attr("domain", "good.example.com")))
    path = tmp_path / "u.json"
    path.write_bytes(doc.encode().replace(b"BAD", b"bad\xff\xfe.com"))
    found, skips = _split(list(misp.read_file(path, "t")))
    assert [i.value for i in found] == ["good.example.com"]
    assert [s.reason for s in skips] == ["invalid domain: not valid UTF-8"]


def test_huge_value_is_skipped(tmp_path: Path) -> None:
    path = _write(tmp_path / "h.json", _event(_attr("url", "http://x.com/" + "a" * 100_000_000)))
    found, skips = _split(list(misp.read_file(path, "t")))
    assert not found and skips[0].reason.startswith("invalid url: longer than")


@pytest.mark.parametrize("content", [b"", b"null", b"[1, 2]", b'{"Event": 5}', b"\x00\x01garbage"])
def test_not_misp_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "g.json"
    path.write_bytes(content)
    with pytest.raises(FeedError):
        list(misp.read_file(path, "t"))
