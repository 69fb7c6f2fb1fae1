"""``floodwall intel retrohunt``: new indicators searched in the observables archive, each
hit stored as ONE retrospective alert.

1. The indicators: by default those the latest import gave (source entries updated at the
   latest import time); or those updated since a time (``intel import`` passes its own
   start, so every path of the import counts), of one source, or all. Indicators a
   warninglist suppresses are never searched.
2. The search: ``RetroHunter`` (DuckDB over the archive's Parquet files).
3. Warninglists: a hit whose own value is on a warninglist (an address inside a listed
   network, a subdomain of a listed name) never alerts; the report names the lists.
4. Alerts: one per (indicator, archived value), marked ``retrospective = 1``, its id a
   hash of the pair, so a re-run updates the alert (last seen, count, hosts) instead of
   adding one; triage fields (status, assignee, campaign) are left as they are. The
   alert's time is the first sighting; evidence and enrichment carry the first and last
   time seen, the count, hosts, references and the indicator's sources.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from floodwall.enrich.intel.indicator import IndicatorType
from floodwall.enrich.intel.inline import finding_type, intel_severity
from floodwall.enrich.intel.loading import bundled_suffixes
from floodwall.enrich.intel.retrohunt import RetroHit, RetroHunter, RetroIndicator
from floodwall.enrich.intel.suffixes import PublicSuffixes
from floodwall.enrich.intel.warninglists import WarninglistIndex
from floodwall.records import Event, Finding, Observable, Origin
from floodwall.store.archive import ObservableArchive
from floodwall.store.codec import finding_to_json
from floodwall.store.db import Store

__all__ = [
    "IndicatorSelection",
    "RetroHuntOptions",
    "RetroHuntReport",
    "load_indicators",
    "retro_alert_id",
    "run_retrohunt",
]

_COLUMNS = (
    "id", "hunt_id", "created", "timestamp", "host", "level", "severity", "rule_id",
    "rule_title", "rule_author", "rule_link", "attack", "source_path", "record_id", "finding",
    "source_ip", "country", "asn", "as_org", "origin", "origin_reason", "enrichment",
    "retrospective",
)  # fmt: skip
_UPSERT = (
    f"INSERT INTO alerts ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
    "ON CONFLICT (id) DO UPDATE SET timestamp = excluded.timestamp, host = excluded.host, "
    "level = excluded.level, severity = excluded.severity, rule_title = excluded.rule_title, "
    "source_path = excluded.source_path, record_id = excluded.record_id, "
    "finding = excluded.finding, enrichment = excluded.enrichment, country = excluded.country, "
    "asn = excluded.asn, as_org = excluded.as_org, origin = excluded.origin, "
    "origin_reason = excluded.origin_reason, retrospective = 1"
)


@dataclass(frozen=True, slots=True)
class IndicatorSelection:
    """Which indicators to search: all, those updated since an ISO 8601 time, those of one
    source, or (nothing given) those of the latest import."""

    all: bool = False
    since: str | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class RetroHuntOptions:
    """DuckDB's limits for the search."""

    memory_limit: str = "1GB"
    threads: int = 2


@dataclass(frozen=True, slots=True)
class RetroHuntReport:
    """What a retro-hunt searched, found and stored."""

    rows: int
    files: int
    indicators: int
    hits: tuple[RetroHit, ...]  # alerted
    suppressed: tuple[tuple[RetroHit, tuple[str, ...]], ...]  # (hit, warninglists)
    alerts_new: int
    alerts_updated: int
    search_seconds: float
    seconds: float


def load_indicators(store: Store, selection: IndicatorSelection) -> list[RetroIndicator]:
    """Unsuppressed indicators of the selection, with all their sources, the highest
    confidence and the latest expiry (None when one source never expires)."""
    where, args = "", []
    if selection.source is not None:
        where = "AND i.id IN (SELECT indicator_id FROM intel_sources WHERE source = ?)"
        args.append(selection.source)
    if selection.since is not None:
        where += " AND i.id IN (SELECT indicator_id FROM intel_sources WHERE updated >= ?)"
        args.append(selection.since)
    if not selection.all and selection.source is None and selection.since is None:
        where = (
            "AND i.id IN (SELECT indicator_id FROM intel_sources "
            "WHERE updated = (SELECT max(updated) FROM intel_sources))"
        )
    cur = store.connection.execute(
        "SELECT i.id, i.type, i.value, group_concat(s.source, char(31)), max(s.confidence), "
        "CASE WHEN count(s.valid_until) = count(*) THEN max(s.valid_until) END "
        "FROM intel_indicators i JOIN intel_sources s ON s.indicator_id = i.id "
        f"WHERE i.suppressed = '[]' {where} GROUP BY i.id ORDER BY i.id",
        args,
    )
    return [
        RetroIndicator(int(iid), itype, value, tuple(sorted(srcs.split("\x1f"))), int(conf), vu)
        for iid, itype, value, srcs, conf, vu in cur
    ]


def retro_alert_id(hit: RetroHit) -> str:
    """The alert's id: the same (indicator, value) pair always gives the same id."""
    key = "\x00".join(("retro", hit.indicator.type, hit.indicator.value, hit.kind, hit.value))
    return hashlib.sha256(key.encode("utf-8", "backslashreplace")).hexdigest()[:32]


def _origin(ref: str) -> Origin:
    path, sep, number = ref.rpartition("#")
    if sep and number.isdigit() and len(number) < 19:
        return Origin(path, int(number))
    return Origin(ref, 0)


def retro_evidence(hit: RetroHit) -> dict[str, Any]:
    """What the alert cites: the indicator and its sources, and the sightings."""
    ind = hit.indicator
    via = "" if ind.value == hit.value else f" via indicator {ind.type} {ind.value}"
    return {
        "reason": (
            f"{hit.value} ({hit.kind}) is listed by {', '.join(ind.sources)}{via}, confidence "
            f"{ind.confidence}; seen {hit.count:,} times from {hit.first_seen} to "
            f"{hit.last_seen} (retro-hunt)"
        ),
        "observable": hit.value, "observable_kind": hit.kind, "indicator": ind.value,
        "indicator_type": ind.type, "sources": list(ind.sources),
        "confidence": ind.confidence, "retrospective": True, "first_seen": hit.first_seen,
        "last_seen": hit.last_seen, "count": hit.count, "hosts": list(hit.hosts),
        "host_count": hit.host_count, "seen_in": list(hit.sources), "refs": list(hit.refs),
        "last_ref": hit.last_ref,
    }  # fmt: skip


def retro_finding(hit: RetroHit) -> Finding:
    """``intel.<type>`` as in line, about the first sighting."""
    ind = hit.indicator
    itype = finding_type(ind.type)
    event = Event(
        origin=_origin(hit.refs[0] if hit.refs else ""),
        timestamp=hit.first_seen,
        host_name=hit.hosts[0] if hit.hosts else None,
        source_ip=hit.value if hit.kind == "ip" else None,
    )
    return Finding(
        id=f"intel.{itype}",
        title=f"Threat intel (retro-hunt): known-bad {ind.type} seen before it was listed",
        severity=intel_severity(ind.confidence, file_hash=itype == "hash"),
        evidence=retro_evidence(hit),
        observables=(Observable(hit.kind, hit.value),),
        event=event,
        detector="intel.retrohunt",
    )


#: The enrich stage's origin look-up (``AlertContextEnricher.for_addresses``).
Contexts = Callable[[Sequence[str | None]], Sequence[Mapping[str, Any]]]


def _row(hit: RetroHit, created: str, context: Mapping[str, Any] | None) -> tuple[Any, ...]:
    finding = retro_finding(hit)
    event = finding.event
    assert event is not None
    evidence = dict(finding.evidence)
    enrichment: dict[str, Any] = {"retrohunt": evidence, "intel": {k: evidence[k] for k in (
        "indicator", "indicator_type", "sources", "confidence")}}  # fmt: skip
    source = dict((context or {}).get("source") or {})
    origin = dict((context or {}).get("origin") or {})
    if context:
        enrichment.update(context)
    geo, asys = source.get("geo") or {}, source.get("as") or {}
    return (
        retro_alert_id(hit), None, created, hit.first_seen, event.host_name,
        finding.severity.label, int(finding.severity), finding.id, finding.title, "", "",
        "[]", event.origin.path or None, event.origin.record_id or None,
        finding_to_json(finding), event.source_ip, geo.get("country_iso_code") or None,
        asys.get("number") or None, (asys.get("organization") or {}).get("name") or None,
        origin.get("class") or "unknown",
        origin.get("reason") or "retro-hunt: origin not looked up", json.dumps(enrichment), 1,
    )  # fmt: skip


def store_alerts(
    store: Store, hits: Sequence[RetroHit], batch: int = 2000, contexts: Contexts | None = None
) -> tuple[int, int]:
    """Upsert one alert per hit, with the origin of its address when ``contexts`` is
    given (the same enrichment as an alert in line); returns (new, updated)."""
    created = datetime.now(UTC).isoformat(timespec="microseconds")
    new = updated = 0
    for start in range(0, len(hits), batch):
        part = hits[start : start + batch]
        found: Sequence[Mapping[str, Any] | None] = (
            contexts([h.value if h.kind == "ip" else None for h in part])
            if contexts is not None
            else [None] * len(part)
        )
        rows = [_row(h, created, c) for h, c in zip(part, found, strict=True)]
        ids = [r[0] for r in rows]
        with store.write() as conn:
            marks = ", ".join("?" * len(ids))
            (known,) = conn.execute(
                f"SELECT count(*) FROM alerts WHERE id IN ({marks})", ids
            ).fetchone()
            conn.executemany(_UPSERT, rows)
        updated += int(known)
        new += len(rows) - int(known)
    return new, updated


def run_retrohunt(
    store: Store,
    archive_root: Path,
    *,
    selection: IndicatorSelection | None = None,
    options: RetroHuntOptions | None = None,
    suffixes: PublicSuffixes | None = None,
    warninglists: Callable[[], WarninglistIndex | None] | None = None,
    contexts: Contexts | None = None,
) -> RetroHuntReport:
    """Search, filter and store; ``warninglists`` is called once, only when there are hits
    (indexing the bundled lists takes about a second). Without it, the bundled lists."""
    started = time.perf_counter()
    options = options or RetroHuntOptions()
    indicators = load_indicators(store, selection or IndicatorSelection())
    files = ObservableArchive(archive_root).files()
    hunter = RetroHunter(
        suffixes or bundled_suffixes(), memory_limit=options.memory_limit, threads=options.threads
    )
    search = hunter.search(files, indicators)
    alerted: list[RetroHit] = []
    suppressed: list[tuple[RetroHit, tuple[str, ...]]] = []
    if search.hits:
        index = (warninglists or _bundled_warninglists)()
        for hit in search.hits:
            names = index.suppressed_by(cast(IndicatorType, hit.kind), hit.value) if index else ()
            if names:
                suppressed.append((hit, names))
            else:
                alerted.append(hit)
    new, updated = store_alerts(store, alerted, contexts=contexts)
    return RetroHuntReport(
        rows=search.rows, files=search.files, indicators=search.indicators,
        hits=tuple(alerted), suppressed=tuple(suppressed), alerts_new=new,
        alerts_updated=updated, search_seconds=search.seconds,
        seconds=time.perf_counter() - started,
    )  # fmt: skip


def _bundled_warninglists() -> WarninglistIndex | None:
    from floodwall.enrich.intel.warninglists import WarninglistError

    try:
        return WarninglistIndex.load(suffixes=bundled_suffixes())
    except WarninglistError:
        return None
