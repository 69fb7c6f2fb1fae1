"""Threat intel in line: the observables of events and messages matched against the
imported indicators while ``hunt``, ``mail scan`` and the gateway run.

A match becomes a ``Finding`` (``intel.<type>`` for a log event, ``intel.sender`` /
``intel.link`` / ``intel.attachment`` / ``intel.source_ip`` for a message) that cites the
indicator, its type, its sources and its confidence, and flows through the same writers,
store and enrichment as a Sigma or mail finding. Values on a MISP warninglist never
alert (the matcher drops them; see ``matcher.py``).

The matcher a run uses is loaded by ``loading.py``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from floodwall.enrich.addresses import DEFAULT_TRUSTED_RELAYS, mail_source_ip
from floodwall.enrich.intel.observe import EMPTY, ObservableExtractor, parse_digests
from floodwall.records import Event, Finding, MailMessage, Observable, Severity

if TYPE_CHECKING:
    # NumPy comes with the matcher: a run without intel never imports it.
    from floodwall.enrich.intel.matcher import IntelMatch, IntelMatcher

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
        return self.unknown_in(
            event.fields, event.channel, event.event_id, event.source_ip, event.destination_ip
        )

    def unknown_in(
        self,
        fields: Mapping[str, Any],
        channel: str | None,
        event_id: int | None,
        src: str | None,
        dst: str | None,
    ) -> list[tuple[str, str]]:
        """``unknown`` for an event's parts: its fields, channel, EventID and normalized
        addresses (the hunt's quick path has no event yet)."""
        matcher = self.matcher
        if matcher is None:
            return []
        extract = self._extract
        plan = extract.plan(fields, channel, event_id)
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
