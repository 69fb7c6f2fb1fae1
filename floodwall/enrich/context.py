"""The enrich stage for alerts: where each finding's remote address comes from.

Every alert carries ``source.ip``, ``source.geo``, ``source.as`` and ``origin`` (class
and reason), the same for a log detection and for a message; the keys follow the
Elastic Common Schema where it has them. An alert without a public remote address
gets ``origin: unknown`` with that reason, never a guess.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from floodwall.enrich.addresses import as_public_ip, event_remote_ip
from floodwall.records import Finding

if TYPE_CHECKING:
    from floodwall.enrich.origin import OriginEnricher, SourceOrigin

NO_ADDRESS = "no public remote address in the event"
NO_DATA = "origin data not loaded"


def context_object(
    ip: str | None, origin: SourceOrigin | None, *, reason: str = ""
) -> dict[str, Any]:
    """The enrichment of one alert as plain JSON values (stored and written as is)."""
    source: dict[str, Any] = {"ip": ip}
    if origin is None:
        return {"source": source, "origin": {"class": "unknown", "reason": reason or NO_ADDRESS}}
    if origin.country_code:
        source["geo"] = {
            "country_iso_code": origin.country_code,
            "country_name": origin.country_name,
        }
    if origin.asn:
        source["as"] = {"number": origin.asn, "organization": {"name": origin.as_org}}
    return {"source": source, "origin": {"class": origin.origin.value, "reason": origin.reason}}


def finding_remote_ip(f: Finding) -> str | None:
    """The remote address a finding is about: its event's, else one its evidence names."""
    if f.event is not None:
        found = event_remote_ip(f.event)
        if found:
            return found
    for key in ("source_ip", "client_ip", "ip"):
        found = as_public_ip(f.evidence.get(key))
        if found:
            return found
    for obs in f.observables:
        if obs.kind == "ip":
            found = as_public_ip(obs.value)
            if found:
                return found
    return None


class AlertContextEnricher:
    """Adds origin (GeoIP, ASN, domestic / abroad / internal / obscured / unknown) to
    findings, in batches: each distinct address is classified once per batch."""

    name = "alert_context"

    def __init__(
        self,
        origin: OriginEnricher | None = None,
        *,
        loader: Callable[[], OriginEnricher] | None = None,
    ) -> None:
        """Give the ``origin`` enricher, or a ``loader`` that builds it the first time an
        address needs it (most hunts find no public address, and its tables and numpy
        take a fifth of a second to load). With neither, or when loading fails, every
        alert with an address says so in its reason instead of failing the run."""
        self._origin = origin
        self._loader = loader
        self._failed = "" if origin is not None or loader is not None else NO_DATA

    def _enricher(self) -> OriginEnricher | None:
        if self._origin is None and self._loader is not None and not self._failed:
            try:
                self._origin = self._loader()
            except (OSError, ValueError) as exc:
                self._failed = f"{NO_DATA}: {exc}"
        return self._origin

    def contexts(
        self,
        findings: Sequence[Finding],
        remote_ip: Callable[[Finding], str | None] = finding_remote_ip,
    ) -> list[Mapping[str, Any]]:
        """One enrichment object per finding, in order."""
        ips = [remote_ip(f) for f in findings]
        return self.for_addresses(ips)

    def for_addresses(self, ips: Sequence[str | None]) -> list[Mapping[str, Any]]:
        """One enrichment object per address (None: no remote address known)."""
        distinct = sorted({ip for ip in ips if ip})
        origin = self._enricher() if distinct else None
        if origin is None:
            return [context_object(ip, None, reason=self._failed if ip else "") for ip in ips]
        answers = dict(zip(distinct, origin.classify_many(distinct), strict=True))
        return [context_object(ip, answers[ip]) if ip else context_object(None, None) for ip in ips]
