"""Host and domain helpers shared by the mail phishing detectors.

Hosts are compared in their lowercase ASCII form (IDNA, RFC 5890/5891: ``xn--`` labels);
``unicode_host`` gives the form a reader sees. The registered domain ("eTLD+1") comes
from the Public Suffix List, https://publicsuffix.org/.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from functools import lru_cache
from typing import Protocol
from urllib.parse import urlsplit

from floodwall.records import MailMessage

_LIST_TOKEN = re.compile(r"[\w.+-]*@?[a-z0-9-]+(?:\.[a-z0-9-]+)+", re.I)


class SuffixList(Protocol):
    """The part of ``publicsuffixlist.PublicSuffixList`` the detectors use."""

    def privatesuffix(self, domain: str, accept_unknown: bool | None = None) -> str | None:
        """The registered domain of ``domain``, or None when it is itself a suffix."""

    def publicsuffix(self, domain: str, accept_unknown: bool | None = None) -> str | None:
        """The public suffix of ``domain``."""

    def __hash__(self) -> int:
        """Hashable: lookups through it are cached (``registered_domain``)."""


def ascii_host(host: str) -> str:
    """``host`` lowercased, without a trailing dot or stray quotes and brackets, with Unicode
    labels IDNA-encoded."""
    host = host.strip(" \t\r\n.<>\"'%`").lower()
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def unicode_host(host: str) -> str:
    """``host`` with its ``xn--`` labels decoded (RFC 3492 Punycode); bad labels stay as is."""
    labels = []
    for label in host.split("."):
        if label.startswith("xn--"):
            with contextlib.suppress(UnicodeError):
                label = label.encode("ascii").decode("idna")
        labels.append(label)
    return ".".join(labels)


def host_of(url: str) -> str:
    """The host of ``url`` in lowercase ASCII (IDNA) form; ``""`` when there is none.

    A URL without a scheme (``www.example.com/x``) is read as if it had one. An IPv6
    literal comes back without its brackets (RFC 3986 §3.2.2).
    """
    url = url.strip()
    if "://" not in url[:12]:
        url = "//" + url
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return ""
    host = netloc.rpartition("@")[2]
    if host.startswith("["):
        return host[1 : host.find("]")].lower() if "]" in host else ""
    return ascii_host(host.partition(":")[0].partition("\\")[0])


def domain_of(addr: str) -> str:
    """The domain of an email address (RFC 5322 addr-spec), lowercase ASCII; ``""`` if none."""
    addr = addr.strip().strip("<>").strip()
    if "@" not in addr:
        return ""
    return ascii_host(addr.rpartition("@")[2])


# Detectors ask for the same few hosts again and again (~45 times per message); the
# suffix list lookup is pure Python. Bounded: a hostile message may name 10,000 hosts.
@lru_cache(maxsize=8192)
def registered_domain(host: str, psl: SuffixList) -> str:
    """The registered domain of ``host`` (``mail.google.co.uk`` -> ``google.co.uk``).

    A host that is itself a public suffix, or an IP literal, is returned unchanged.
    """
    host = ascii_host(host)
    if not host:
        return ""
    return psl.privatesuffix(host) or host


@lru_cache(maxsize=8192)
def label_of(domain: str, psl: SuffixList) -> str:
    """The registered label of ``domain``: ``google`` for ``google.co.uk``."""
    suffix = psl.publicsuffix(domain) or ""
    if suffix and domain.endswith("." + suffix):
        return domain[: -len(suffix) - 1].rpartition(".")[2]
    return domain.partition(".")[0]


def list_domains(msg: MailMessage, psl: SuffixList) -> frozenset[str]:
    """Registered domains of the mailing list that carried ``msg``, if any.

    From List-Id (RFC 2919 ``<name.list.example.org>``), List-Post (RFC 2369
    ``<mailto:list@example.org>``) and the older ezmlm/Yahoo Groups Mailing-List header.
    """
    found = set()
    for name in ("list-id", "list-post", "mailing-list"):
        for value in msg.header(name):
            for token in _LIST_TOKEN.findall(value):
                domain = token.rpartition("@")[2]
                if "." in domain:
                    found.add(registered_domain(domain, psl))
    return frozenset(found)


#: Links of one message whose domains are read at most (``web_link_domains``).
MAX_LINKS = 200


# One part of an IPv4 address as inet_aton(3) reads it: decimal, 0x-hex or 0-led octal.
_PART = re.compile(r"0x[0-9a-f]*|0[0-7]*|[1-9][0-9]*")


def _number(part: str) -> int:
    """One inet_aton(3) part: ``0x``-hex, ``0``-led octal or decimal."""
    if part.startswith("0x"):
        return int(part[2:] or "0", 16)
    return int(part, 8) if part.startswith("0") else int(part)


def parse_ip(host: str) -> tuple[str, bool] | None:
    """(address, obfuscated) when ``host`` is an IP literal, else None.

    Dotted-quad IPv4 and IPv6 (RFC 3986 §3.2.2) are plain; the forms browsers still accept
    after inet_aton(3) (``3232235777``, ``0xC0A80101``, ``0300.0250.1.1``, ``192.168.257``)
    are obfuscated (WHATWG URL standard, "IPv4 parser").
    """
    try:
        return str(ipaddress.ip_address(host)), False
    except ValueError:
        pass
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(_PART.fullmatch(p) for p in parts):
        return None
    values = [_number(p) for p in parts]
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (5 - len(values)):
        return None
    number = sum(v << (8 * (3 - i)) for i, v in enumerate(head)) + last
    return str(ipaddress.IPv4Address(number)), True


def web_link_domains(msg: MailMessage, psl: SuffixList) -> list[str]:
    """The registered domains of a message's web links, in order, each once (IP literals
    are left to ``mail.ip_literal_url``)."""
    out: dict[str, None] = {}
    for link in msg.links[:MAX_LINKS]:
        if not link.url[:8].lower().startswith(("http://", "https://")):
            continue
        host = host_of(link.url)
        if host and parse_ip(host) is None and (domain := registered_domain(host, psl)):
            out.setdefault(domain, None)
    return list(out)


def message_domains(msg: MailMessage, psl: SuffixList) -> list[str]:
    """The registered domains a message names: its From domain, then its web links'."""
    sender = domain_of(msg.from_addr)
    first = [registered_domain(sender, psl)] if sender and parse_ip(sender) is None else []
    return list(dict.fromkeys([*first, *web_link_domains(msg, psl)]))
