"""Intel in line: event observables to findings, message observables to policy symbols,
severity from confidence, the observable archive's values, and the gateway recording
each message's origin."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from floodwall.enrich.intel.indicator import Indicator, IndicatorType
from floodwall.enrich.intel.inline import (
    EventIntelMatcher,
    IntelMailDetector,
    intel_severity,
    message_observables,
)
from floodwall.enrich.intel.loading import (
    load_open_proxies,
    load_run_intel,
    origin_context_enricher,
)
from floodwall.enrich.intel.matcher import IntelMatcher
from floodwall.enrich.intel.tables import IndicatorTables
from floodwall.hunt.observed import archive_value, utc_stamp
from floodwall.ingest.mail_source import RawMail
from floodwall.mail.recorder import GatewayRecorder
from floodwall.mail.scan import scan_message
from floodwall.normalize.mime import parse_message
from floodwall.records import Event, Origin, Severity
from floodwall.respond.policy import Policy
from floodwall.settings import Settings
from floodwall.store.db import open_store
from floodwall.store.intel import IntelStore

SHA = "d" * 64


def matcher_of(*pairs: tuple[IndicatorType, str, int]) -> IntelMatcher:
    return IntelMatcher(
        IndicatorTables.from_indicators([Indicator(t, v, "feed", c) for t, v, c in pairs])
    )


def event(n: int, **fields: str) -> Event:
    return Event(Origin("log.ndjson", n), fields=fields, source_ip=fields.get("source.ip"))


@pytest.mark.parametrize(
    ("confidence", "file_hash", "level"),
    [
        (100, False, Severity.HIGH), (80, False, Severity.HIGH), (79, False, Severity.MEDIUM),
        (50, False, Severity.MEDIUM), (49, False, Severity.LOW), (0, False, Severity.LOW),
        (90, True, Severity.CRITICAL), (60, True, Severity.HIGH),
    ],
)  # fmt: skip
def test_severity_from_confidence(confidence: int, file_hash: bool, level: Severity) -> None:
    assert intel_severity(confidence, file_hash=file_hash) is level


def test_event_findings_cite_the_indicator_and_keep_event_order() -> None:
    intel = EventIntelMatcher(
        matcher_of(
            ("cidr", "198.51.100.0/24", 90), ("domain", "evil.com", 40), ("sha256", SHA, 60)
        ),
        min_level=Severity.INFORMATIONAL,
    )
    events = [
        event(1, DestinationIp="198.51.100.9", QueryName="ok.example"),
        event(2, QueryName="x.evil.com"),
        event(3, Hashes=f"SHA1=ab,SHA256={SHA.upper()}"),
        event(4, **{"source.ip": "198.51.100.200"}),  # the normalized address is matched too
        event(5, DestinationIp="203.0.113.1"),
    ]
    batch = [(e, intel.observables(e)) for e in events]
    found = intel.findings(batch)
    assert [(f.event.origin.record_id if f.event else 0, f.id) for f in found] == [
        (1, "intel.cidr"), (2, "intel.domain"), (3, "intel.hash"), (4, "intel.cidr"),
    ]  # fmt: skip
    first = found[0]
    assert first.severity is Severity.HIGH and first.detector == "intel"
    assert first.evidence["indicator"] == "198.51.100.0/24"
    assert first.evidence["sources"] == ["feed"] and first.evidence["confidence"] == 90
    assert "198.51.100.9" in str(first.evidence["reason"])
    assert found[1].severity is Severity.LOW
    high_only = EventIntelMatcher(intel.matcher, min_level=Severity.HIGH)
    assert [f.id for f in high_only.findings(batch)] == ["intel.cidr", "intel.hash", "intel.cidr"]


def test_without_a_matcher_it_only_extracts() -> None:
    intel = EventIntelMatcher(None)
    e = event(1, DestinationIp="198.51.100.9")
    assert intel.observables(e) == [("ip", "198.51.100.9")]
    assert intel.findings([(e, intel.observables(e))]) == []


MESSAGE = (
    b"Received: from mx.bad.example (mx.bad.example [45.148.10.9]) by mx.corp.example;"
    b" Mon, 2 Nov 2026 10:00:00 +0000\r\n"
    b"From: Boss <boss@fraud.example>\r\nReply-To: pay@fraud.example\r\nTo: a@corp.example\r\n"
    b"Subject: urgent\r\nMessage-ID: <1@fraud.example>\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/plain\r\n\r\nPay at https://login.phish.example/a?b=1 today\r\n"
)


def test_message_observables() -> None:
    msg = parse_message(RawMail(Origin("m.eml", 1), MESSAGE))
    got = message_observables(msg)
    assert ("email", "boss@fraud.example") in got and ("email", "pay@fraud.example") in got
    assert ("ip", "45.148.10.9") in got
    assert any(k == "url" and "login.phish.example" in v for k, v in got)


def test_mail_detector_symbols_are_weighed_by_the_policy() -> None:
    msg = parse_message(RawMail(Origin("m.eml", 1), MESSAGE))
    detector = IntelMailDetector(
        matcher_of(
            ("domain", "fraud.example", 90), ("domain", "phish.example", 60),
            ("ip", "45.148.10.9", 30),
        )
    )  # fmt: skip
    result = scan_message(msg, [detector], Policy.load())
    symbols = {s.id: s for s in result.verdict.symbols}
    assert set(symbols) == {"intel.sender", "intel.link", "intel.source_ip"}
    assert symbols["intel.sender"].score == 6.0  # high: the built-in weight of high
    assert "fraud.example" in symbols["intel.sender"].reason
    assert result.verdict.action in {"quarantine", "reject"}
    clean = IntelMailDetector(matcher_of(("domain", "other.example", 90)))
    assert clean.detect(msg) == []


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("ip", "2001:DB8::1", ("ip", "2001:db8::1")),
        ("hostname", "WWW.Example.COM.", ("domain", "www.example.com")),
        ("url", "HTTP://a.example:80/x", ("url", "http://a.example/x")),
        ("sha256", SHA.upper(), ("sha256", SHA)),
        ("ip", "999.1.1.1", None),
        ("ip", "\udcff", None),
        ("md5", "zz", None),
        ("registry", "HKLM", None),
    ],
)
def test_archive_values_are_normalized_or_left_out(
    kind: str, value: str, expected: tuple[str, str] | None
) -> None:
    assert archive_value(kind, value) == expected


def test_archive_timestamps() -> None:
    assert utc_stamp("2026-11-02T10:00:00+02:00", "x") == "2026-11-02T08:00:00Z"
    assert utc_stamp("2026-11-02 10:00:00", "x") == "2026-11-02T10:00:00Z"
    assert utc_stamp("yesterday", "fallback") == "fallback"
    assert utc_stamp(None, "fallback") == "fallback"


def test_no_store_or_no_indicators_loads_nothing(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache")
    assert load_run_intel(settings) is None  # no store at all: none is created
    assert not (tmp_path / "data").exists()
    with open_store(settings.data_dir):
        pass
    assert load_run_intel(settings) is None  # a store without intel
    with open_store(settings.data_dir) as store:
        IntelStore(store).add([Indicator("ip", "198.51.100.1", "f")])
    loaded: list[tuple[int, bool]] = []
    first = load_run_intel(settings, on_load=lambda n, c: loaded.append((n, c)))
    assert first is not None and first.match_ip("198.51.100.1")
    load_run_intel(settings, on_load=lambda n, c: loaded.append((n, c)))
    assert loaded == [(1, False), (1, True)]


def test_gateway_records_the_origin_of_each_message(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache")
    result = scan_message(
        parse_message(RawMail(Origin("gateway/1", 1), MESSAGE)), [], Policy.load()
    )

    async def record() -> None:
        recorder = GatewayRecorder(settings.data_dir, enricher=origin_context_enricher(settings))
        await recorder.open()
        await recorder.record(result, 1, peer="77.88.8.8")  # a public client: it is the source
        await recorder.record(result, 1, peer="127.0.0.1")  # behind a relay: Received says
        await recorder.close()

    asyncio.run(record())
    with sqlite3.connect(settings.data_dir / "floodwall.db") as db:
        rows = db.execute(
            "SELECT source_ip, country, asn, origin FROM messages ORDER BY rowid"
        ).fetchall()
    assert rows[0][:3] == ("77.88.8.8", "RU", 13238)
    assert rows[1][:3] == ("45.148.10.9", "RO", 48090)


def test_open_proxies_are_cached_until_the_intel_changes(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache")
    assert load_open_proxies(settings) == []
    with open_store(settings.data_dir) as store:
        IntelStore(store).add([Indicator("ip", "203.0.113.5", "f", comment="open proxy")])
    assert load_open_proxies(settings) == ["203.0.113.5"]
    (cached,) = (tmp_path / "cache" / "intel").glob("proxies-*.json")
    assert "203.0.113.5" in cached.read_text()
    with open_store(settings.data_dir) as store:
        IntelStore(store).add([Indicator("cidr", "198.51.100.0/24", "g", tags=("proxy",))])
    assert load_open_proxies(settings) == ["198.51.100.0/24", "203.0.113.5"]
    cached.write_text("{broken")
    assert load_open_proxies(settings) == ["198.51.100.0/24", "203.0.113.5"]
