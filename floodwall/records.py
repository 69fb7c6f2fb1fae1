"""The records every stage passes on: immutable, compared whole in tests.

Field names follow the Elastic Common Schema where one exists (``@timestamp``,
``host.name``, ``source.ip`` ...); the source's own fields stay untouched in
``Event.fields`` because Sigma rules match on them (``Image``, ``EventID`` ...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


def pickle_by_fields(self: Any) -> tuple[type, tuple[Any, ...]]:
    """``__reduce__`` of a slotted dataclass: its class and field values, unpickled
    through ``__init__``. The default (a state set field by field) made handing a hunt's
    findings from its worker processes to the parent cost a third more, and loading the
    3,700 cached rules at every start slower."""
    return (type(self), tuple(getattr(self, name) for name in self.__slots__))


class Severity(IntEnum):
    """Sigma's levels, ordered so that policies and filters can compare them."""

    INFORMATIONAL = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str | None) -> Severity:
        """Read a level name as written in rules (``high``); unknown names are medium."""
        if not text:
            return cls.MEDIUM
        try:
            return cls[text.strip().upper()]
        except KeyError:
            return cls.MEDIUM

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a record was read: the file (or ``-``) and the record's place in it.

    ``record_id`` is the EVTX EventRecordID, or the 1-based line number of a line format.
    """

    __reduce__ = pickle_by_fields

    path: str
    record_id: int


@dataclass(frozen=True, slots=True)
class Event:
    """One normalized observation.

    The common fields are ECS-named; ``fields`` keeps the source's original fields,
    flattened (nested objects joined with dots), exactly as read.
    """

    __reduce__ = pickle_by_fields

    origin: Origin
    timestamp: str | None = None  # ECS @timestamp, ISO 8601
    host_name: str | None = None  # ECS host.name
    category: str | None = None  # ECS event.category
    provider: str | None = None  # ECS event.provider (EVTX Provider Name)
    channel: str | None = None  # winlog.channel
    event_id: int | None = None  # winlog.event_id
    user_name: str | None = None  # ECS user.name
    source_ip: str | None = None  # ECS source.ip
    destination_ip: str | None = None  # ECS destination.ip
    fields: Mapping[str, Any] = field(default_factory=dict)

    def to_ecs(self) -> dict[str, Any]:
        """The common fields under their ECS names, absent ones left out."""
        pairs = {
            "@timestamp": self.timestamp,
            "host.name": self.host_name,
            "event.category": self.category,
            "event.provider": self.provider,
            "winlog.channel": self.channel,
            "winlog.event_id": self.event_id,
            "user.name": self.user_name,
            "source.ip": self.source_ip,
            "destination.ip": self.destination_ip,
        }
        return {k: v for k, v in pairs.items() if v is not None}


@dataclass(frozen=True, slots=True)
class Observable:
    """A value worth looking up elsewhere: an IP, domain, URL, hash or address."""

    __reduce__ = pickle_by_fields

    kind: str  # ip | domain | url | sha256 | sha1 | md5 | email
    value: str


@dataclass(frozen=True, slots=True)
class RuleRef:
    """Who wrote the rule that fired and where to read it (DRL 1.1 asks for both)."""

    __reduce__ = pickle_by_fields

    id: str
    title: str
    author: str
    link: str
    license: str = ""
    tags: tuple[str, ...] = ()
    references: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    """What a detector saw. ``id`` is permanent: ``sigma.<rule-id>``, ``mail.macro_autoexec``."""

    __reduce__ = pickle_by_fields

    id: str
    title: str
    severity: Severity
    attack: tuple[str, ...] = ()  # ATT&CK technique ids, e.g. T1059.001
    evidence: Mapping[str, Any] = field(default_factory=dict)
    observables: tuple[Observable, ...] = ()
    rule: RuleRef | None = None
    event: Event | None = None
    detector: str = ""


@dataclass(frozen=True, slots=True)
class Alert:
    """Findings about one event or message, enriched, with the policy's verdict."""

    id: str
    created: str
    findings: tuple[Finding, ...]
    severity: Severity
    verdict: str = "alert"
    status: str = "open"
    enrichment: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Incident:
    """Alerts tied together over time and entities (mail, then host, then upload)."""

    id: str
    alert_ids: tuple[str, ...]
    first_seen: str
    last_seen: str
    entities: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Campaign:
    """Incidents and alerts that share infrastructure."""

    id: str
    keys: tuple[str, ...]
    alert_ids: tuple[str, ...]
    first_seen: str
    last_seen: str


@dataclass(frozen=True, slots=True)
class Link:
    """A link in a message: where it really goes, and the text shown for it."""

    url: str
    text: str = ""  # the anchor text of an HTML link, "" for a bare URL


@dataclass(frozen=True, slots=True)
class Attachment:
    """One file carried by a message, or found inside another attachment (an archive).

    ``path`` names it from the top: ``invoice.zip/docs/invoice.pdf.exe``; ``depth`` is 0
    for a MIME part and grows by one per archive level. ``data`` is kept so detectors
    can look inside (they do no I/O); it is capped by the archive limits.
    """

    name: str
    path: str
    depth: int
    size: int
    sha256: str
    declared_type: str  # the MIME Content-Type, or "" inside archives
    true_type: str  # from the content's magic: "pe", "zip", "ole", "pdf", "lnk", ...
    data: bytes = b""
    encrypted: bool = False  # an archive (or member) that could not be opened for a password
    password: str = ""  # the password from the message body that opened it, if any
    problems: tuple[str, ...] = ()  # limits hit or damage met while unpacking it


# RFC 8601 §2.2: a property value is a token (RFC 2045) or, when it holds other
# characters, a quoted-string; parentheses in a comment become brackets (always balanced).
_TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+\-.^_`{|}~@]+")
_UNSAFE = re.compile(r"[\\\x00-\x1f\x7f\ud800-\udfff]")  # and lone surrogates
_BRACKETS = str.maketrans("()", "[]")


def _comment(text: str) -> str:
    text = " ".join(_UNSAFE.sub(" ", text.translate(_BRACKETS))[:200].split())
    return f" ({text})" if text else ""


def _value(text: str) -> str:
    text = _UNSAFE.sub(" ", text.translate(_BRACKETS))[:254]
    return text if _TOKEN.fullmatch(text) else '"' + text.replace('"', "'") + '"'


#: The authserv-id of Floodwall's own Authentication-Results (RFC 8601 §2.5): in the
#: jsonl, on relayed mail, and what the gateway strips from incoming mail.
AUTHSERV_ID = "floodwall"


@dataclass(frozen=True, slots=True)
class AuthCheck:
    """One result of Floodwall's own sender authentication, named as in RFC 8601 §2.7:
    ``dkim=fail (body hash did not verify) header.d=example.com``.

    ``result`` is one of pass, fail, softfail, neutral, none, policy, temperror,
    permerror; ``reason`` says why in plain words (never text the sender's DNS wrote).
    """

    method: str  # spf | dkim | dmarc
    result: str
    reason: str = ""
    props: tuple[tuple[str, str], ...] = ()  # ("smtp.mailfrom", "a@b.example"), ("header.d", ...)

    def resinfo(self) -> str:
        """The result as one ``resinfo`` of an Authentication-Results field (RFC 8601 §2.2)."""
        props = "".join(f" {name}={_value(value)}" for name, value in self.props if value)
        return f"{self.method}={self.result}{_comment(self.reason)}{props}"


@dataclass(frozen=True, slots=True)
class SenderAuth:
    """What Floodwall itself verified of a message's sender: SPF (RFC 7208), DKIM
    (RFC 6376) and DMARC (RFC 7489), looked up in DNS at scan time.

    ``checks`` is empty when nothing was verified, and ``note`` then says why (DNS off,
    unreachable); it may also hold a remark on a partial verification.
    """

    checks: tuple[AuthCheck, ...] = ()
    note: str = ""

    def header_value(self, authserv_id: str = AUTHSERV_ID) -> str:
        """The value of an Authentication-Results field (RFC 8601 §2.2) for these results;
        ``floodwall; none (not verified: ...)`` when no method was evaluated."""
        if not self.checks:
            return f"{authserv_id}; none{_comment(self.note)}"
        return f"{authserv_id}; " + "; ".join(c.resinfo() for c in self.checks)

    def results(self, method: str) -> tuple[AuthCheck, ...]:
        """The checks of one method (a message may carry several DKIM signatures)."""
        return tuple(c for c in self.checks if c.method == method)


@dataclass(frozen=True, slots=True)
class SmtpEnvelope:
    """What the SMTP session told about a message (RFC 5321 §2.3.1, §4.1.1.1): the client's
    address, the reverse-path (MAIL FROM) and the HELO/EHLO name. ``mail_from`` is ``None``
    when it is not known (a stored message without Return-Path), ``""`` for the null
    reverse-path ``<>`` of bounces; ``client_ip`` is ``None`` without a public address."""

    client_ip: str | None
    mail_from: str | None
    helo: str
    where: str = "session"  # "session" (the gateway's own SMTP peer) or "received" (a header)


@dataclass(frozen=True, slots=True)
class MailMessage:
    """One message, parsed: the headers detectors read, the text, links and files.

    ``unscannable`` lists why the message could not be fully scanned (a bomb, nesting,
    truncated MIME ...); the policy decides what happens to such a message.
    """

    origin: Origin
    message_id: str
    sha256: str
    headers: tuple[tuple[str, str], ...]  # (name lowered, decoded value), in order
    from_addr: str  # the address in From (lowered), "" if none
    from_name: str  # the display name in From
    reply_to: tuple[str, ...] = ()
    return_path: str = ""
    to: tuple[str, ...] = ()  # To and Cc addresses (recipients of the envelope differ)
    subject: str = ""
    text: str = ""  # the plain text, and the HTML turned to text
    html: str = ""
    links: tuple[Link, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    unscannable: tuple[str, ...] = ()
    sender_auth: SenderAuth | None = None  # Floodwall's own SPF/DKIM/DMARC; None: not attempted

    def header(self, name: str) -> tuple[str, ...]:
        """Every value of header ``name`` (any case)."""
        lowered = name.lower()
        return tuple(v for k, v in self.headers if k == lowered)
