"""Threat intel in line: the observables of events and messages matched against the
imported indicators while ``hunt``, ``mail scan`` and the gateway run.

A match becomes a ``Finding`` (``intel.<type>`` for a log event, ``intel.sender`` /
``intel.link`` / ``intel.attachment`` / ``intel.source_ip`` for a message) that cites the
indicator, its type, its sources and its confidence, and flows through the same writers,
store and enrichment as a Sigma or mail finding. Values on a MISP warninglist never
alert (the matcher drops them; see ``matcher.py``).

The matcher is loaded once per run from the compact cache (``cache.py``). With no
indicator imported, ``load_run_intel`` answers None after one indexed query, and the
run pays nothing else.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from floodwall.enrich.addresses import DEFAULT_TRUSTED_RELAYS, mail_source_ip
from floodwall.enrich.context import AlertContextEnricher
from floodwall.enrich.intel.observe import EMPTY, ObservableExtractor, parse_digests
from floodwall.enrich.intel.suffixes import PublicSuffixes
from floodwall.records import Event, Finding, MailMessage, Observable, Severity
from floodwall.settings import Settings, bundled_data
from floodwall.store.db import DB_NAME, Store, open_store

if TYPE_CHECKING:
    # NumPy comes with the matcher: a run without intel never imports it.
    from floodwall.enrich.intel.matcher import IntelMatch, IntelMatcher
    from floodwall.enrich.intel.warninglists import WarninglistIndex
    from floodwall.enrich.origin import OriginEnricher

#: Observable kinds of the extractor -> the word shown in a finding's title.
_LABEL = {
    "ip": "IP address", "cidr": "IP address (in a listed network)", "domain": "domain",
    "url": "URL", "md5": "file hash", "sha1": "file hash", "sha256": "file hash",
    "email": "email address",
}  # fmt: skip
#: Observable kinds of a single file digest (``file.hash.*``).
_DIGESTS = frozenset({"md5", "sha1", "sha256"})
#: Indicator types whose finding ids fold into one: a hash is a hash whatever its length.
_ID_TYPE = {"md5": "hash", "sha1": "hash", "sha256": "hash"}


def intel_severity(confidence: int, *, file_hash: bool = False) -> Severity:
    """How bad a hit is, from the indicator's confidence (0-100).

    A known-bad file hash is one step worse than an address or a name: a hash names the
    very file, while an address may be shared (NAT, hosting) or reassigned.
    """
    if confidence >= 80:
        level = Severity.HIGH
    elif confidence >= 50:
        level = Severity.MEDIUM
    else:
        level = Severity.LOW
    return Severity(min(level + 1, Severity.CRITICAL)) if file_hash else level


def _reason(m: IntelMatch) -> str:
    via = "" if m.indicator == m.observable else f" via indicator {m.indicator_type} {m.indicator}"
    return (
        f"{m.observable} ({m.kind}) is listed by {', '.join(m.sources)}{via}, "
        f"confidence {m.confidence}"
    )


def match_evidence(m: IntelMatch) -> dict[str, object]:
    """What a finding cites: the indicator, its type, sources and confidence."""
    return {
        "reason": _reason(m),
        "observable": m.observable,
        "observable_kind": m.kind,
        "indicator": m.indicator,
        "indicator_type": m.indicator_type,
        "sources": list(m.sources),
        "confidence": m.confidence,
    }


def finding_type(indicator_type: str) -> str:
    """The ``<type>`` of an ``intel.<type>`` finding: the three digests are one ``hash``."""
    return _ID_TYPE.get(indicator_type, indicator_type)


def event_finding(m: IntelMatch, event: Event | None) -> Finding:
    """The finding of one match on a log event: ``intel.<indicator type>``."""
    itype = finding_type(m.indicator_type)
    return Finding(
        id=f"intel.{itype}",
        title=f"Threat intel: known-bad {_LABEL.get(m.indicator_type, m.indicator_type)}",
        severity=intel_severity(m.confidence, file_hash=itype == "hash"),
        evidence=match_evidence(m),
        observables=(Observable(m.kind, m.observable),),
        event=event,
        detector="intel",
    )


#: Observables seen to match nothing, remembered at most; then forgotten and relearnt,
#: so that a stream of ever new values costs a little more, never unbounded memory.
CLEAN_LIMIT = 65536


class EventIntelMatcher:
    """Observables of events, matched in batches (one vectorized IPv4 search per batch).

    Logs repeat themselves: the same internal addresses, the same images' hashes, the
    same names. A value seen to match nothing is remembered per kind (the indicators do
    not change during a run), and ``unknown`` gives only the observables not known to
    be clean, so an event with none waits for no batch. A run pays mostly for the
    values it has not seen before; the findings are the same as matching everything,
    since each observable is matched on its own.

    Without a matcher (no intel imported) it only extracts, for the observable archive.
    """

    def __init__(
        self,
        matcher: IntelMatcher | None,
        *,
        min_level: Severity = Severity.INFORMATIONAL,
        extract: ObservableExtractor | None = None,
    ) -> None:
        self.matcher = matcher
        self.min_level = min_level
        self._extract = extract or ObservableExtractor()
        self._clean: defaultdict[str, set[str]] = defaultdict(set)
        # Hashes values (~200 characters each) are kept as their hash: a quarter of the
        # memory and one cache line to compare instead of four. A false "clean" needs a
        # 64-bit SipHash collision under the process's random key.
        self._clean_hashes: set[int] = set()
        self._clean_size = 0

    def observables(self, event: Event) -> list[tuple[str, str]]:
        """``(kind, value)`` pairs of one event, its normalized addresses included."""
        found = self._extract(event.fields, event.channel, event.event_id)
        for ip in (event.source_ip, event.destination_ip):
            if ip and ("ip", ip) not in found:
                found.append(("ip", ip))
        return found

    def unknown(self, event: Event) -> list[tuple[str, str]]:
        """The event's observables (as ``observables`` gives them) that may match: not
        seen to match nothing before; always empty without a matcher (nothing to match).

        The hot path of a hunt with intel: no pair is built for a known-clean value, and
        a file hash, which only an identical indicator can match, is looked up at once
        (one dict probe) instead of waiting for the batch: only a listed one is returned.
        """
        matcher = self.matcher
        if matcher is None:
            return []
        fields, extract = event.fields, self._extract
        src, dst = event.source_ip, event.destination_ip
        plan = extract.plan(fields, event.channel, event.event_id)
        if not plan and src is None and dst is None:
            return []  # most events: nothing an indicator could name
        clean = self._clean
        out: list[tuple[str, str]] = []
        read: list[str] = []  # addresses read from the fields, not to look up twice
        for name, kind in plan:
            value = fields.get(name)
            if value.__class__ is not str or value in EMPTY:
                continue
            if kind == "hashes":
                # A Sysmon Hashes value whose digests are all unlisted is remembered whole:
                # logs run the same images again and again, and the next time it costs one
                # lookup instead of a parse and three.
                key = hash(value)
                if key in self._clean_hashes:
                    continue
                # Parsed without the extractor's memory: a value that gets here is new.
                listed = [p for p in parse_digests(value) if matcher.has_hash(p[1])]
                if listed:
                    out += listed
                else:
                    self._remember_hashes(key)
            elif kind in _DIGESTS:
                if matcher.has_hash(value):
                    out.append((kind, value))
            else:
                if kind == "ip":
                    read.append(value)
                if value not in clean[kind]:
                    out.append((kind, value))
        if src is not None or dst is not None:
            ips = clean["ip"]
            for ip in (src, dst):
                if ip and ip not in read and ip not in ips and ("ip", ip) not in out:
                    out.append(("ip", ip))
        return out if len(out) < 2 else list(dict.fromkeys(out))

    def _remember_hashes(self, key: int) -> None:
        if self._clean_size >= CLEAN_LIMIT:
            self._forget()
        self._clean_hashes.add(key)
        self._clean_size += 1

    def _forget(self) -> None:
        self._clean.clear()
        self._clean_hashes.clear()
        self._clean_size = 0

    def has_unknown(self, observed: list[tuple[str, str]]) -> bool:
        """True when one of the observables may match: it was not seen to match nothing
        before (always False without a matcher: there is nothing to match)."""
        if self.matcher is None:
            return False
        clean = self._clean
        return any(value not in clean[kind] for kind, value in observed)

    def findings(self, batch: Sequence[tuple[Event, list[tuple[str, str]]]]) -> list[Finding]:
        """Findings for a batch of events with their observables, in event order."""
        flat: list[tuple[str, str]] = []
        owner: list[int] = []
        for i, (_, observed) in enumerate(batch):
            flat.extend(observed)
            owner.extend([i] * len(observed))
        if not flat or self.matcher is None:
            return []
        out = []
        matches = self.matcher.match_many(flat)
        for m in matches:
            finding = event_finding(m, batch[owner[m.at]][0])
            if finding.severity >= self.min_level:
                out.append(finding)
        self._remember_clean(flat, {m.at for m in matches})
        return out

    def _remember_clean(self, flat: list[tuple[str, str]], hit: set[int]) -> None:
        """Remember the observables that matched nothing (warninglisted hits included:
        they never alert either)."""
        if self._clean_size + len(flat) > CLEAN_LIMIT:
            self._forget()
        clean = self._clean
        for at, (kind, value) in enumerate(flat):
            if at not in hit:
                clean[kind].add(value)
        self._clean_size += len(flat)


# -- mail ----------------------------------------------------------------------------

#: Observable kind -> (finding id, what the message carried).
_MAIL_ROLE = {
    "email": ("intel.sender", "sender address"),
    "url": ("intel.link", "link"),
    "sha256": ("intel.attachment", "attachment"),
    "ip": ("intel.source_ip", "sending address"),
}


def message_observables(
    msg: MailMessage, trusted_relays: Sequence[str] = DEFAULT_TRUSTED_RELAYS
) -> list[tuple[str, str]]:
    """Sender addresses (From, Reply-To, Return-Path), link URLs, attachment SHA-256s
    and the source address (first external ``Received`` hop) of a message."""
    out: list[tuple[str, str]] = []
    for address in (msg.from_addr, *msg.reply_to, msg.return_path):
        if address:
            out.append(("email", address))
    out.extend(("url", link.url) for link in msg.links if link.url)
    out.extend(("sha256", att.sha256) for att in msg.attachments if att.sha256)
    source = mail_source_ip(msg, trusted_relays)
    if source:
        out.append(("ip", source))
    return list(dict.fromkeys(out))


class IntelMailDetector:
    """A message carries a value the imported threat intel names: its sender or sender
    domain, a link (URL or host), an attachment's SHA-256, or its source address.

    The matcher is built outside (no I/O here); the policy weighs the symbols.
    """

    id: ClassVar[str] = "intel.mail"
    title: ClassVar[str] = "Threat intel: known-bad value in the message"

    def __init__(
        self, matcher: IntelMatcher, trusted_relays: Sequence[str] = DEFAULT_TRUSTED_RELAYS
    ) -> None:
        self.matcher = matcher
        self.trusted_relays = tuple(trusted_relays)

    def detect(self, msg: MailMessage) -> list[Finding]:
        observed = message_observables(msg, self.trusted_relays)
        out: list[Finding] = []
        for m in self.matcher.match_many(observed):
            fid, what = _MAIL_ROLE.get(m.kind, ("intel.mail", m.kind))
            evidence = match_evidence(m)
            evidence["reason"] = f"{what} {evidence['reason']}"
            if m.kind == "sha256":
                evidence["attachment"] = next(
                    (a.path for a in msg.attachments if a.sha256 == m.observable), ""
                )
            out.append(
                Finding(
                    id=fid,
                    title=f"Threat intel: known-bad {what}",
                    severity=intel_severity(m.confidence, file_hash=m.kind == "sha256"),
                    attack=("T1566.001",) if m.kind == "sha256" else ("T1566",),
                    evidence=evidence,
                    observables=(Observable(m.kind, m.observable),),
                    detector="intel",
                )
            )
        return out


# -- loading -------------------------------------------------------------------------


@lru_cache(maxsize=1)
def bundled_suffixes() -> PublicSuffixes:
    """The bundled Public Suffix List (read once per process)."""
    path = bundled_data() / "reference" / "public_suffix_list.dat"
    return PublicSuffixes.from_lines(path.read_text("utf-8").splitlines())


def _warninglists() -> WarninglistIndex | None:
    from floodwall.enrich.intel.warninglists import WarninglistError, WarninglistIndex

    try:
        index = WarninglistIndex.load(suffixes=bundled_suffixes())
    except WarninglistError:
        return None  # the import already marked listed indicators; nothing more to add
    _keep_out_of_gc()
    return index


def _keep_out_of_gc() -> None:
    """Move what a run has loaded so far out of the cyclic collector's reach.

    Tables loaded in the middle of a run (warninglists, GeoIP, ATT&CK) live as long as
    the run and hold no cycles to collect, but every full collection would walk their
    millions of entries again, touching each one (measured: a third of a hunt's CPU with
    a million indicators once the first hit had loaded them). The hunt froze what it had
    loaded at its start for the same reason.
    """
    gc.freeze()


def load_run_intel(
    settings: Settings,
    *,
    now: datetime | None = None,
    on_load: Callable[[int, bool], None] | None = None,
) -> IntelMatcher | None:
    """The matcher over the store's active indicators, or None when there are none (no
    store yet, nothing imported, or everything expired or warninglisted).

    ``on_load(count, from_cache)`` is told what was loaded.
    """
    if not (settings.data_dir / DB_NAME).is_file():
        return None
    with open_store(settings.data_dir) as store:
        if not has_indicators(store):
            return None
        from floodwall.enrich.intel.cache import load_matcher
        from floodwall.store.intel import IntelStore

        intel = IntelStore(store)
        matcher, cached = load_matcher(
            intel,
            store.path,
            settings.cache_dir,
            suffixes=bundled_suffixes(),
            warninglists=_warninglists,
            now=now or datetime.now(UTC),
        )
    if not len(matcher):
        return None
    if on_load is not None:
        on_load(len(matcher), cached)
    return matcher


def load_open_proxies(settings: Settings, *, now: datetime | None = None) -> list[str]:
    """Addresses and networks the intel calls open proxies (for the origin question).

    Finding them scans every source entry's text (1.7 s CPU with a million indicators),
    so the answer is kept in a small JSON file next to the matcher cache until the intel
    changes or one of the entries expires.
    """
    if not (settings.data_dir / DB_NAME).is_file():
        return []
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with open_store(settings.data_dir) as store:
        if not has_indicators(store):
            return []
        (generation,) = store.connection.execute(
            "SELECT generation FROM intel_state WHERE id = 1"
        ).fetchone()
        digest = hashlib.sha256(str(store.path.resolve()).encode("utf-8")).hexdigest()[:16]
        path = settings.cache_dir / "intel" / f"proxies-{digest}.json"
        cached = _read_proxies(path, int(generation), stamp)
        if cached is not None:
            return cached
        from floodwall.store.intel import IntelStore

        entries = IntelStore(store).proxy_entries(now)
    values = [value for value, _ in entries]
    expiry = min((u for _, u in entries if u is not None), default=None)
    doc = {"generation": int(generation), "next_expiry": expiry, "values": values}
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(doc), "utf-8")
        os.replace(tmp, path)
    return values


def _read_proxies(path: Path, generation: int, stamp: str) -> list[str] | None:
    try:
        doc = json.loads(path.read_text("utf-8"))
        fresh = doc["next_expiry"] is None or stamp < doc["next_expiry"]
        if doc["generation"] == generation and fresh:
            return [str(v) for v in doc["values"]]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def has_indicators(store: Store) -> bool:
    """True when any indicator was imported (one indexed query, no NumPy)."""
    row = store.connection.execute("SELECT EXISTS (SELECT 1 FROM intel_indicators)").fetchone()
    return bool(row[0])


def origin_context_enricher(settings: Settings) -> AlertContextEnricher:
    """The origin enricher over the bundled (or updated) GeoIP and ASN data, loaded when
    the first public address needs it; addresses the imported intel calls open proxies
    are ``obscured``. Without its data a run still goes on, and each alert or message
    with an address says why it has no origin."""

    def load() -> OriginEnricher:
        from floodwall.enrich.origin import load_origin_enricher

        enricher = load_origin_enricher(settings, open_proxies=load_open_proxies(settings))
        _keep_out_of_gc()
        return enricher

    return AlertContextEnricher(loader=load)
