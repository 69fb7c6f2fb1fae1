"""``floodwall intel`` end to end, and intel in line in ``hunt`` and ``mail scan``: real
processes, the real feed samples, a real store.

Known answers for ``intel lookup`` were checked against the registries' public records:
8.8.8.8 and 2001:4860:4860::8888 are Google (ARIN, AS15169, US); 77.88.8.8 is Yandex
(RIPE, AS13238, RU).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
RULE_DIR = SAMPLES / "detect" / "sigma"
SHA256 = "c" * 64


def run(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "floodwall", *args],
        input=stdin, capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip


def make_env(cache: Path, data: Path) -> dict[str, str]:
    return {**os.environ, "XDG_CACHE_HOME": str(cache), "FLOODWALL_DATA": str(data)}


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def samples_env(
    intel_samples: Path, rule_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, str], subprocess.CompletedProcess[str]]:
    env = make_env(rule_cache, tmp_path_factory.mktemp("intel-samples"))
    paths = [
        intel_samples / "misp_events_eset", intel_samples / "stix21_examples",
        intel_samples / "ipsum" / "ipsum.txt.gz", intel_samples / "signature_base_iocs",
    ]  # fmt: skip
    return env, run(env, "intel", "import", *map(str, paths))


@pytest.fixture(scope="module")
def intel_samples(shared_data: Path) -> Path:
    return shared_data / "threat_intel"


def test_real_samples_import(samples_env: tuple[dict[str, str], Any]) -> None:
    env, r = samples_env
    assert r.returncode == 0, r.stderr
    stats = json.loads(run(env, "intel", "stats", "--format", "json").stdout)
    assert set(stats["by_source"]) == {
        "misp_events_eset", "stix21_examples", "ipsum", "signature_base_iocs",
    }  # fmt: skip
    assert stats["by_source"]["ipsum"]["ip"] > 100_000
    assert stats["by_type"]["sha256"] > 0 and stats["by_type"]["domain"] > 0
    assert stats["suppressed"] > 0  # some IPsum addresses are on warninglists


def test_stix_domain_with_a_stray_word_is_reported_and_its_or_partner_imports(
    samples_env: tuple[dict[str, str], Any],
) -> None:
    # poisonivy.json writes [domain-name:value = 'domain autuo.xicp.net' OR ...]: the
    # value holds a space, so it is not a domain name (RFC 1035 §2.3.1); guessing the
    # intended name would import a value no feed gave. The other side of the OR stays.
    env, r = samples_env
    assert "invalid domain in pattern" in r.stderr and "domain autuo.xicp.net" in r.stderr
    (obj,) = lines(run(env, "intel", "lookup", "60.10.1.115", "--format", "json").stdout)
    assert any("stix21_examples" in [s["source"] for s in i["sources"]] for i in obj["indicators"])
    (name,) = lines(run(env, "intel", "lookup", "autuo.xicp.net", "--format", "json").stdout)
    assert not any(i["value"] == "autuo.xicp.net" for i in name["indicators"])


def test_broken_feeds_give_one_error_per_entry_and_the_rest_imports(
    tmp_path: Path, rule_cache: Path
) -> None:
    env = make_env(rule_cache, tmp_path / "data")
    stix = tmp_path / "bundle.json"
    good = {
        "type": "indicator", "spec_version": "2.1", "id": "indicator--1", "created": "2026-01-01T00:00:00Z",
        "modified": "2026-01-01T00:00:00Z", "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z",
        "pattern": "[ipv4-addr:value = '203.0.113.50']",
    }  # fmt: skip
    bad = {**good, "id": "indicator--2", "pattern": "[ipv4-addr:value = '203.0.113.51'"}
    stix.write_text(json.dumps({"type": "bundle", "id": "bundle--1", "objects": [bad, good]}))
    misp = tmp_path / "event.json"
    attrs = [
        {"type": "domain", "value": "bad-misp.example.com", "to_ids": True},
        {"type": "no-such-type", "value": "whatever", "to_ids": True},
        {"type": "ip-dst", "value": "not an ip", "to_ids": True},
    ]
    misp.write_text(json.dumps({"Event": {"uuid": "e1", "info": "test", "Attribute": attrs}}))
    huge = tmp_path / "huge.txt"
    with huge.open("w") as fh:
        for i in range(150_000):
            fh.write(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}\n" if i % 50_000 else "junk\n")
    broken = tmp_path / "broken.json"
    broken.write_text('{"Event": {"Attribute": [')
    r = run(env, "intel", "import", str(stix), str(misp), str(huge), str(broken))
    assert r.returncode == 2  # one path could not be read at all
    assert "broken.json: not imported" in r.stderr.replace("\n", "")
    assert "no-such-type" in r.stderr and "not an ip" in r.stderr
    assert "skipped 3: not an indicator" in r.stderr  # the three junk lines of the list
    assert "pattern" in r.stderr and "indicator--2" in r.stderr
    assert "Traceback" not in r.stderr
    stats = json.loads(run(env, "intel", "stats", "--format", "json").stdout)
    assert stats["by_source"]["bundle"] == {"ip": 1}
    assert stats["by_source"]["event"] == {"domain": 1}
    assert stats["by_source"]["huge"]["ip"] == 150_000 - 3


def test_lookup_known_answers(tmp_path: Path, rule_cache: Path) -> None:
    env = make_env(rule_cache, tmp_path / "data")
    feed = tmp_path / "feed.txt"
    feed.write_text("evil-lookup.com;c2 server\n45.148.10.0/24;open proxy farm\n")
    assert run(env, "intel", "import", str(feed)).returncode == 0
    r = run(
        env, "intel", "lookup", "8.8.8.8", "77.88.8.8", "2001:4860:4860::8888",
        "a.evil-lookup.com", "45.148.10.20", "--format", "json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    google, yandex, google6, name, proxy = lines(r.stdout)
    assert (google["country"], google["asn"], google["type"]) == ("US", 15169, "ip")
    assert (yandex["country"], yandex["asn"]) == ("RU", 13238)
    assert (google6["country"], google6["asn"]) == ("US", 15169)
    assert google["origin"] in {"obscured", "unknown", "abroad", "domestic"}
    assert isinstance(google["origin_reason"], str) and google["origin_reason"]
    assert "public-dns-v4" in google["warninglists"]
    assert name["type"] == "domain" and name["country"] is None
    (hit,) = name["indicators"]
    assert (hit["value"], hit["sources"][0]["source"], hit["sources"][0]["comment"]) == (
        "evil-lookup.com", "feed", "c2 server",
    )  # fmt: skip
    assert (proxy["origin"], proxy["origin_reason"]) == ("obscured", "open proxy (intel)")
    table = run(env, "intel", "lookup", "77.88.8.8")
    assert "RU" in table.stdout and "AS13238" in table.stdout
    bad = run(env, "intel", "lookup", "nonsense@@", "--format", "json")
    assert bad.returncode == 2 and "error" in lines(bad.stdout)[0]


@pytest.fixture
def hunt_env(tmp_path: Path, rule_cache: Path) -> dict[str, str]:
    env = make_env(rule_cache, tmp_path / "data")
    feed = tmp_path / "feed.txt"
    feed.write_text(
        "# test feed\n"
        "45.148.10.0/24;scanner net\n"
        "8.8.8.0/24;covers a public resolver\n"
        "evil-c2.com;c2\n"
        f"{SHA256};dropper\n"
        "phisher@bad-mail.net;phishing sender\n"
    )
    assert run(env, "intel", "import", str(feed)).returncode == 0
    return env


EVENTS = [
    {"EventID": 3, "Image": "C:\\a.exe", "DestinationIp": "45.148.10.7", "Initiated": "true"},
    {"EventID": 22, "Image": "C:\\b.exe", "QueryName": "beacon.evil-c2.com"},
    {"EventID": 1, "Image": "C:\\c.exe", "Hashes": f"MD5=00,SHA256={SHA256.upper()}"},
    {"EventID": 3, "Image": "C:\\d.exe", "DestinationIp": "8.8.8.8"},  # warninglisted
    {"EventID": 3, "Image": "C:\\e.exe", "DestinationIp": "45.148.11.7"},  # outside the /24
    {"EventID": 22, "Image": "C:\\f.exe", "QueryName": "notevil-c2.com"},
]


def test_hunt_matches_intel_in_line(hunt_env: dict[str, str], tmp_path: Path) -> None:
    events = tmp_path / "events.ndjson"
    events.write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    args = ["hunt", "--no-default-rules", "--rules", str(RULE_DIR), "--format", "jsonl"]
    r = run(hunt_env, *args, str(events))
    assert r.returncode == 1, r.stderr
    hits = [o for o in lines(r.stdout) if o["rule"]["id"].startswith("intel.")]
    got = {(o["source"]["record_id"], o["rule"]["id"], o["evidence"]["indicator"]) for o in hits}
    assert got == {
        (1, "intel.cidr", "45.148.10.0/24"),
        (2, "intel.domain", "evil-c2.com"),
        (3, "intel.hash", SHA256),
    }
    first = next(o for o in hits if o["source"]["record_id"] == 1)
    assert first["evidence"]["sources"] == ["feed"] and first["evidence"]["confidence"] == 70
    assert first["source"]["ip"] == "45.148.10.7" and first["origin"]["class"] != ""
    with sqlite3.connect(Path(hunt_env["FLOODWALL_DATA"]) / "floodwall.db") as db:
        stored = {row[0] for row in db.execute("SELECT rule_id FROM alerts")}
    assert {"intel.cidr", "intel.domain", "intel.hash"} <= stored
    off = run(hunt_env, *args, "--no-intel", "--no-store", str(events))
    assert not [o for o in lines(off.stdout) if o["rule"]["id"].startswith("intel.")]


def test_hunt_without_intel_says_nothing_about_it(tmp_path: Path, rule_cache: Path) -> None:
    env = make_env(rule_cache, tmp_path / "data")
    events = tmp_path / "events.ndjson"
    events.write_text(json.dumps(EVENTS[0]) + "\n")
    r = run(env, "hunt", "--no-default-rules", "--rules", str(RULE_DIR), "--no-store", str(events))
    assert r.returncode == 0 and "Threat intel" not in r.stderr + r.stdout


MESSAGE = """\
Received: from mx.bad-mail.net (mx.bad-mail.net [45.148.10.9]) by mx.corp.example; Mon, 2 Nov 2026 10:00:00 +0000
Received: from mx.corp.example (10.0.0.2) by inbox.corp.example; Mon, 2 Nov 2026 10:00:01 +0000
From: Phisher <phisher@bad-mail.net>
To: alice@corp.example
Subject: invoice
Message-ID: <intel-1@bad-mail.net>
Content-Type: text/plain

Pay here: http://pay.evil-c2.com/invoice.php
"""


def test_mail_scan_weighs_intel_and_stores_the_origin(hunt_env: dict[str, str]) -> None:
    r = run(hunt_env, "mail", "scan", "--format", "jsonl", "-", stdin=MESSAGE)
    (obj,) = lines(r.stdout)
    symbols = {s["id"]: s for s in obj["symbols"]}
    assert {"intel.sender", "intel.link", "intel.source_ip"} <= set(symbols)
    assert "listed by feed" in symbols["intel.sender"]["reason"]  # cites the source
    assert obj["verdict"] != "accept"
    assert obj["source"]["ip"] == "45.148.10.9"
    assert obj["source"]["geo"]["country_iso_code"] == "RO"
    assert obj["source"]["as"]["number"] == 48090
    assert set(obj["origin"]) == {"class", "reason"}
    with sqlite3.connect(Path(hunt_env["FLOODWALL_DATA"]) / "floodwall.db") as db:
        row = db.execute(
            "SELECT source_ip, country, asn, origin, origin_reason, enrichment FROM messages"
        ).fetchone()
    assert row[:4] == ("45.148.10.9", "RO", 48090, obj["origin"]["class"])
    assert row[4] == obj["origin"]["reason"]
    assert json.loads(row[5])["source"]["ip"] == "45.148.10.9"
    plain = run(hunt_env, "mail", "scan", "--no-intel", "--no-store", "--format", "jsonl", "-",
                stdin=MESSAGE)  # fmt: skip
    assert not [s for s in lines(plain.stdout)[0]["symbols"] if s["id"].startswith("intel.")]


def test_hunt_and_mail_scan_archive_their_observables(
    hunt_env: dict[str, str], tmp_path: Path
) -> None:
    archive = pytest.importorskip("floodwall.store.archive", reason="archive not in this build")
    data = Path(hunt_env["FLOODWALL_DATA"])
    events = tmp_path / "events.ndjson"
    stamped = [{**e, "@timestamp": "2026-11-02T10:00:00Z", "Computer": "ws1"} for e in EVENTS]
    events.write_text("".join(json.dumps(e) + "\n" for e in stamped))
    args = ["hunt", "--no-default-rules", "--rules", str(RULE_DIR), "--format", "jsonl"]
    run(hunt_env, *args, "--no-store", str(events))
    root = data / "archive" / "observables"
    assert not root.exists()  # --no-store keeps nothing
    run(hunt_env, *args, str(events))
    run(hunt_env, "mail", "scan", "--format", "jsonl", "-", stdin=MESSAGE)
    rows = list(archive.ObservableArchive(root).read())
    logs = {(o.kind, o.value, o.host, o.ts) for o in rows if o.source == "logs"}
    assert ("ip", "45.148.10.7", "ws1", "2026-11-02T10:00:00Z") in {
        (k, v, h, t.replace("+00:00", "Z")) for k, v, h, t in logs
    }
    assert ("domain", "beacon.evil-c2.com") in {(o.kind, o.value) for o in rows}
    assert ("sha256", SHA256) in {(o.kind, o.value) for o in rows}
    mail = {(o.kind, o.value) for o in rows if o.source == "mail"}
    assert {("email", "phisher@bad-mail.net"), ("ip", "45.148.10.9")} <= mail
    assert all(o.ref for o in rows)


def test_intel_findings_carry_the_techniques_their_indicators_name(
    rule_cache: Path, tmp_path: Path
) -> None:
    """A MISP event tagged with an ATT&CK galaxy cluster: hits on its attributes carry
    that technique; a feed entry with no such tag gives a finding without one."""
    env = make_env(rule_cache, tmp_path / "data")
    event = {
        "Event": {
            "uuid": "5f3c1a2b-1111-4222-8333-444455556666",
            "info": "C2 servers",
            "date": "2026-11-01",
            "Tag": [{"name": 'misp-galaxy:mitre-attack-pattern="Application Layer Protocol - T1071"'}],
            "Attribute": [
                {"type": "ip-dst", "value": "45.148.20.5", "category": "Network activity",
                 "to_ids": True, "uuid": "5f3c1a2b-1111-4222-8333-444455556667"},
            ],
        }
    }  # fmt: skip
    misp = tmp_path / "event.json"
    misp.write_text(json.dumps(event))
    feed = tmp_path / "feed.txt"
    feed.write_text("evil-c2.com;c2\n")
    for path in (misp, feed):
        assert run(env, "intel", "import", str(path)).returncode == 0
    events = tmp_path / "events.ndjson"
    events.write_text(
        json.dumps({"EventID": 3, "Image": "C:\\a.exe", "DestinationIp": "45.148.20.5"}) + "\n"
        + json.dumps({"EventID": 22, "Image": "C:\\b.exe", "QueryName": "evil-c2.com"}) + "\n"
    )  # fmt: skip
    args = ["hunt", "--no-default-rules", "--rules", str(RULE_DIR), "--format", "jsonl"]
    r = run(env, *args, str(events))
    assert r.returncode == 1, r.stderr
    attack = {o["rule"]["id"]: o["attack"] for o in lines(r.stdout)}
    assert attack["intel.ip"] == ["T1071"]
    assert attack["intel.domain"] == []
    with sqlite3.connect(Path(env["FLOODWALL_DATA"]) / "floodwall.db") as db:
        stored = dict(db.execute("SELECT rule_id, attack FROM alerts WHERE rule_id LIKE 'intel.%'"))
    assert "T1071" in stored["intel.ip"]
