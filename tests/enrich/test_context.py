"""AlertContextEnricher: every finding gets source.ip / geo / as and an origin with its
reason, from the bundled GeoIP/ASN tables; no address or no data says so, never guesses."""

from __future__ import annotations

from typing import Any

import pytest

from floodwall.enrich.context import NO_ADDRESS, NO_DATA, AlertContextEnricher, context_object
from floodwall.enrich.geoip import GeoIPEnricher, load_geo_data
from floodwall.enrich.origin import OriginEnricher, load_anonymizers
from floodwall.records import Event, Finding, Observable, Origin, Severity
from floodwall.settings import bundled_data

GEO_DIR = bundled_data() / "geo"


@pytest.fixture(scope="module")
def origin() -> OriginEnricher:
    return OriginEnricher(
        GeoIPEnricher(load_geo_data(GEO_DIR)),
        home_country="DE",
        anonymizers=load_anonymizers(GEO_DIR),
        hosting_asns={},
    )


def _finding(
    *, fields: dict[str, Any] | None = None, source_ip: str | None = None, **kw: Any
) -> Finding:
    event = Event(origin=Origin("x.json", 1), source_ip=source_ip, fields=fields or {})
    return Finding(id="t", title="t", severity=Severity.HIGH, event=event, **kw)


@pytest.mark.parametrize(
    ("finding", "ip", "origin_class", "country"),
    [
        # 24.0.0.1: Comcast (AS7922), US: abroad from a German home
        (_finding(source_ip="24.0.0.1"), "24.0.0.1", "abroad", "US"),
        # a Deutsche Telekom address (AS3320) is domestic
        (_finding(fields={"IpAddress": "80.146.0.1"}), "80.146.0.1", "domestic", "DE"),
        # outbound connection: the destination is the remote end
        (
            _finding(fields={"Initiated": "true", "DestinationIp": "12.0.0.1"}),
            "12.0.0.1",
            "abroad",
            "US",
        ),
        # private sources are not a remote address: unknown, with the reason
        (_finding(source_ip="10.1.2.3"), None, "unknown", None),
        (_finding(source_ip="-"), None, "unknown", None),
        (_finding(source_ip="not an ip \udcff"), None, "unknown", None),
        # the evidence or the observables can name it (correlations, mail findings)
        (
            Finding(id="t", title="t", severity=Severity.LOW, evidence={"source_ip": "24.0.0.1"}),
            "24.0.0.1",
            "abroad",
            "US",
        ),
        (
            Finding(
                id="t",
                title="t",
                severity=Severity.LOW,
                observables=(Observable("ip", "192.168.0.1"), Observable("ip", "1.1.1.1")),
            ),
            "1.1.1.1",
            None,
            None,
        ),
    ],
)
def test_context_of_a_finding(
    origin: OriginEnricher,
    finding: Finding,
    ip: str | None,
    origin_class: str | None,
    country: str | None,
) -> None:
    (ctx,) = AlertContextEnricher(origin).contexts([finding])
    assert ctx["source"]["ip"] == ip
    assert ctx["origin"]["reason"]
    if origin_class is not None:
        assert ctx["origin"]["class"] == origin_class
    if country is not None:
        assert ctx["source"]["geo"]["country_iso_code"] == country
        assert isinstance(ctx["source"]["as"]["number"], int)
    if ip is None:
        assert ctx["origin"] == {"class": "unknown", "reason": NO_ADDRESS}


def test_each_address_is_classified_once_per_batch(origin: OriginEnricher) -> None:
    calls: list[list[str]] = []

    class Counting(OriginEnricher):
        def classify_many(self, ips: Any) -> Any:
            calls.append(list(ips))
            return super().classify_many(ips)

    counting = Counting(
        origin.geo, home_country="DE", anonymizers=load_anonymizers(GEO_DIR), hosting_asns={}
    )
    found = AlertContextEnricher(counting).for_addresses(["24.0.0.1", None, "24.0.0.1", "1.1.1.1"])
    assert calls == [["1.1.1.1", "24.0.0.1"]]
    assert found[0] == found[2] and found[1]["source"]["ip"] is None


def test_loader_runs_only_when_an_address_needs_it(origin: OriginEnricher) -> None:
    loads: list[int] = []

    def load() -> OriginEnricher:
        loads.append(1)
        return origin

    enricher = AlertContextEnricher(loader=load)
    enricher.contexts([_finding(source_ip="10.0.0.1")])
    assert loads == []
    enricher.contexts([_finding(source_ip="24.0.0.1"), _finding(source_ip="1.1.1.1")])
    assert loads == [1]


def test_missing_data_is_said_not_guessed() -> None:
    def broken() -> OriginEnricher:
        raise OSError("geo tables unreadable")

    (ctx,) = AlertContextEnricher(loader=broken).contexts([_finding(source_ip="24.0.0.1")])
    assert ctx == {
        "source": {"ip": "24.0.0.1"},
        "origin": {"class": "unknown", "reason": f"{NO_DATA}: geo tables unreadable"},
    }
    (ctx,) = AlertContextEnricher().contexts([_finding(source_ip="24.0.0.1")])
    assert ctx["origin"] == {"class": "unknown", "reason": NO_DATA}


def test_context_object_shape_is_plain_json() -> None:
    assert context_object(None, None) == {
        "source": {"ip": None},
        "origin": {"class": "unknown", "reason": NO_ADDRESS},
    }
