"""Which remote address an event or a message is about: the input of the origin question.

For a log event it is the other end of the connection: the source of an inbound logon
or connection, or the destination of one the host initiated (a beacon's C2). For a
message it is the client that handed it to the receiving organisation: the gateway
knows it from the connection; a stored ``.eml`` only tells it through ``Received``
headers (RFC 5321 §4.4), read from the top (the most recent hop) down, past the hops
inside the receiving organisation (private addresses and configured relays).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from floodwall.records import Event, MailMessage

#: Fields naming the remote end of an inbound logon or connection, most specific first
#: (Windows Security 4624/4625 ``IpAddress``, Sysmon ``SourceIp``, ECS, Zeek, Suricata).
SOURCE_FIELDS = (
    "IpAddress", "SourceIp", "SourceAddress", "ClientAddress", "ClientIP", "src_ip",
    "id.orig_h", "source.ip", "sourceIPAddress", "RemoteAddress", "c-ip",
)  # fmt: skip
#: Fields naming the remote end of a connection the host made.
DESTINATION_FIELDS = ("DestinationIp", "dest_ip", "id.resp_h", "destination.ip", "RemoteIp")

#: Mailbox providers whose internal hops sit above the hop that matters in most
#: companies' mail (Microsoft 365, Google Workspace). Editable in settings.
DEFAULT_TRUSTED_RELAYS = (
    "outlook.com", "office365.com", "exchangelabs.com", "protection.outlook.com",
    "google.com", "googlemail.com",
)  # fmt: skip


def as_public_ip(value: Any) -> str | None:
    """``value`` as an address text if it is a routable address, else None."""
    if not isinstance(value, str) or not 2 < len(value) < 64:
        return None
    return _public_ip(value)


@lru_cache(maxsize=1 << 16)
def _public_ip(value: str) -> str | None:
    # Cached: the same few addresses recur in thousands of alerts, and parsing one and
    # testing it against the special-purpose registries costs microseconds each time.
    text = value.strip().strip("[]")
    if text.lower().startswith("ipv6:"):
        text = text[5:]
    text = text.split("%", 1)[0]  # an IPv6 zone id names an interface, not a host
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if not ip.is_global:
        return None
    return str(ip)


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def event_remote_ip(event: Event) -> str | None:
    """The public address at the other end of what ``event`` records, if any."""
    fields: Mapping[str, Any] = event.fields
    found = as_public_ip(event.source_ip)
    if found:
        return found
    initiated = _is_true(fields.get("Initiated"))
    order = (DESTINATION_FIELDS, SOURCE_FIELDS) if initiated else (SOURCE_FIELDS,)
    for names in order:
        for name in names:
            found = as_public_ip(fields.get(name))
            if found:
                return found
    return as_public_ip(event.destination_ip) if initiated else None


@dataclass(frozen=True, slots=True)
class ReceivedHop:
    """One ``Received`` header: who handed the message over, from where, to whom."""

    from_host: str
    from_ip: str | None  # the address the receiving host saw (TCP-info), if written
    by_host: str


# RFC 5321 §4.4 Time-Stamp-Line: "from" From-domain ( TCP-info ) "by" By-domain ...
_FROM = re.compile(r"^\s*from\s+(\S+)(.*?)(?:\bby\s+(\S+)|$)", re.IGNORECASE | re.DOTALL)
_BRACKETED = re.compile(r"\[(?:ipv6:)?([0-9a-f.:]+)\]|\(([0-9a-f.:]{3,45})\)", re.IGNORECASE)
_MAX_HOPS = 50  # a message with more hops than this is looping or forged


def received_hops(headers: Sequence[tuple[str, str]]) -> list[ReceivedHop]:
    """The ``Received`` headers of a message, most recent first."""
    hops: list[ReceivedHop] = []
    for name, value in headers:
        if name != "received" or len(hops) >= _MAX_HOPS:
            continue
        m = _FROM.match(value[:4096])
        if m is None:
            continue
        from_host, info, by_host = m.group(1), m.group(2) or "", m.group(3) or ""
        ip = None
        for b in _BRACKETED.finditer(info):
            candidate = b.group(1) or b.group(2)
            try:
                ip = str(ipaddress.ip_address(candidate))
                break
            except ValueError:
                continue
        if ip is None:  # "from [203.0.113.9] by ..." names the client by its address
            literal = from_host.strip("[]")
            literal = literal[5:] if literal.lower().startswith("ipv6:") else literal
            try:
                ip = str(ipaddress.ip_address(literal))
            except ValueError:
                ip = None
        hops.append(ReceivedHop(from_host.lower().strip("[]()"), ip, by_host.lower()))
    return hops


def _is_trusted(host: str, trusted: Sequence[str]) -> bool:
    return any(host == t or host.endswith("." + t) for t in trusted)


def mail_source_hop(
    msg: MailMessage, trusted_relays: Sequence[str] = DEFAULT_TRUSTED_RELAYS
) -> ReceivedHop | None:
    """The first hop, from the top, whose client has a public address and is not run by
    the receiving organisation, with that address in ``from_ip``: the client that
    handed the message in, and ``from_host`` the name it gave in HELO/EHLO."""
    trusted = tuple(t.lower().strip(".") for t in trusted_relays if t)
    for hop in received_hops(msg.headers):
        if hop.from_ip is None:
            continue
        public = as_public_ip(hop.from_ip)
        if public is None:
            continue  # a private hop inside the organisation
        if _is_trusted(hop.from_host, trusted):
            continue
        return ReceivedHop(hop.from_host, public, hop.by_host)
    return None


def mail_source_ip(
    msg: MailMessage, trusted_relays: Sequence[str] = DEFAULT_TRUSTED_RELAYS
) -> str | None:
    """The first public address, from the top, of a hop that the receiving organisation
    does not run: the client that handed the message in."""
    hop = mail_source_hop(msg, trusted_relays)
    return hop.from_ip if hop is not None else None
