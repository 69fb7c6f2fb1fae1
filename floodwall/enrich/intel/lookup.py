"""Everything known about one value: ``floodwall intel lookup``.

For an IP address: country (RIR data), AS number and organisation, origin class and its
reason (``enrich/origin.py``); for any value: the indicators that name it (the value
itself, a CIDR holding the address, a bad parent domain) with their sources, and the
MISP warninglists it is on.

The answer is plain JSON values; the keys below are a contract read by outside checks:
``value``, ``type``, ``normalized``, ``country``, ``country_name``, ``asn``, ``as_org``,
``origin``, ``origin_reason``, ``indicators``, ``warninglists``, ``suppressing``, and
``error`` for a value that cannot be read. Keys that do not apply to a type are null.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from floodwall.enrich.intel.normalize import NormalizeError, normalize_domain, normalize_url, sniff

if TYPE_CHECKING:
    from floodwall.enrich.intel.warninglists import WarninglistIndex
    from floodwall.enrich.origin import OriginEnricher
    from floodwall.store.intel import IntelStore
    from floodwall.store.intel_records import IndicatorRecord


def record_object(rec: IndicatorRecord) -> dict[str, Any]:
    """An indicator and its sources as plain values."""
    return {
        "type": rec.type,
        "value": rec.value,
        "confidence": rec.confidence,
        "suppressed_by": list(rec.suppressed_by),
        "created": rec.created,
        "sources": [
            {
                "source": s.source, "confidence": s.confidence, "first_seen": s.first_seen,
                "last_seen": s.last_seen, "valid_until": s.valid_until, "tags": list(s.tags),
                "comment": s.comment, "origin_id": s.origin_id, "origin_info": s.origin_info,
            }
            for s in rec.sources
        ],
    }  # fmt: skip


def classify_value(value: str) -> tuple[str, str]:
    """``(type, normalized)`` of a user's value: ip, cidr, domain, url, email or a hash.

    A bare name is a domain whatever its top-level label (a lookup is not a feed: the
    user means it as a name).
    """
    try:
        return sniff(value)
    except NormalizeError:
        pass
    text = value.strip()
    if "/" in text:
        return "url", normalize_url(text if "://" in text else f"http://{text}")
    return "domain", normalize_domain(text)


def _empty(value: str) -> dict[str, Any]:
    return {
        "value": value, "type": None, "normalized": None, "country": None,
        "country_name": None, "asn": None, "as_org": None, "origin": None,
        "origin_reason": None, "indicators": [], "warninglists": [], "suppressing": [],
    }  # fmt: skip


def lookup_values(
    values: Sequence[str],
    *,
    intel: IntelStore | None,
    origin: OriginEnricher | None,
    warninglists: WarninglistIndex | None,
    origin_error: str = "",
) -> list[dict[str, Any]]:
    """One answer object per value, in order (see the module docstring)."""
    answers: list[dict[str, Any]] = []
    ips: list[tuple[dict[str, Any], str]] = []
    for value in values:
        answer = _empty(value)
        answers.append(answer)
        try:
            itype, norm = classify_value(value)
        except NormalizeError as exc:
            answer["error"] = f"not an IP address, domain, URL, email address or hash: {exc}"
            continue
        answer["type"], answer["normalized"] = itype, norm
        if intel is not None:
            answer["indicators"] = [record_object(r) for r in intel.find(norm)]
        if warninglists is not None:
            names = warninglists.lists_for(itype, norm)  # type: ignore[arg-type]
            answer["warninglists"] = list(names)
            suppressing = set(warninglists.suppressed_by(itype, norm))  # type: ignore[arg-type]
            answer["suppressing"] = [n for n in names if n in suppressing]
        if itype == "ip":
            ips.append((answer, norm))
    if ips and origin is None:
        for answer, _ in ips:
            answer["origin"], answer["origin_reason"] = "unknown", origin_error
    elif ips and origin is not None:
        found = origin.classify_many([ip for _, ip in ips])
        for (answer, _), o in zip(ips, found, strict=True):
            answer.update(
                country=o.country_code or None,
                country_name=o.country_name or None,
                asn=o.asn or None,
                as_org=o.as_org or None,
                origin=o.origin.value,
                origin_reason=o.reason,
            )
    return answers
