"""DNS for sender authentication: a thin typed adapter over dnspython (ISC licence) with
the limits that a sender's own DNS cannot stretch.

Whoever sends a message also runs the DNS of its domains, so every answer may be built
to hurt: slow, huge, looping or endless. Hence, for one message (``Lookups``):

- each lookup waits at most ``lookup_timeout`` seconds, and all of them together at most
  ``budget`` seconds (RFC 7208 §4.6.4 recommends a limit of at least 20 s for SPF alone;
  a gateway answering during DATA cannot wait that long);
- at most ``max_queries`` lookups (SPF's own limits, RFC 7208 §4.6.4, come on top);
- a TXT answer larger than ``max_txt`` octets is refused: no DKIM key (RFC 6376 §3.6.2),
  SPF record (RFC 7208 §3.4 asks that one fit a 512-octet UDP answer) or DMARC record
  (RFC 7489 §6.3) needs more.

When the resolver itself stops answering (not a slow domain behind it: a probe of the
root zone, which any resolver has cached, tells them apart), every lookup fails at once
for ``retry_down`` seconds instead of each waiting for its timeout.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.message
import dns.name
import dns.rdatatype
import dns.resolver

from floodwall.enrich.mail_auth.target import DnsTarget

__all__ = ["DnsPermanent", "DnsTemporary", "Limits", "Lookups", "Resolver"]


class DnsTemporary(Exception):
    """A lookup that may work later: timeout, server failure, resolver down, budget spent
    (RFC 8601 ``temperror``)."""


class DnsPermanent(Exception):
    """A lookup whose answer can never be used: an invalid name, an oversized record
    (RFC 8601 ``permerror``)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What one message's verification may cost."""

    lookup_timeout: float = 2.0  # seconds for one lookup
    budget: float = 5.0  # seconds for all lookups of one message
    max_queries: int = 40  # lookups of one message
    max_txt: int = 16_384  # octets of one TXT answer
    max_signatures: int = 3  # DKIM signatures verified per message (RFC 6376 §6.1)
    retry_down: float = 30.0  # seconds before a resolver found down is tried again
    probe_timeout: float = 1.0  # seconds a probe waits for each nameserver


class Resolver:
    """The configured resolver (``[mail] dns``), with a small cache shared by messages."""

    def __init__(
        self, target: DnsTarget, limits: Limits = Limits(), *, resolv_conf: str | None = None
    ) -> None:
        self.target, self.limits = target, limits
        self._down_until = 0.0
        self._down_reason = ""
        self._config_error = ""
        try:
            if target.mode == "system":
                self._dns = dns.resolver.Resolver(filename=resolv_conf or "/etc/resolv.conf")
            else:
                self._dns = dns.resolver.Resolver(configure=False)
                self._dns.nameservers = [target.host]
                self._dns.port = target.port
        except (dns.exception.DNSException, OSError) as exc:
            self._dns = dns.resolver.Resolver(configure=False)
            self._config_error = f"no resolver configured ({exc})"
        self._dns.timeout = limits.lookup_timeout
        self._dns.lifetime = limits.lookup_timeout
        self._dns.use_edns(0, 0, 1232)  # the DNS flag day 2020 size; larger goes over TCP
        self._dns.cache = dns.resolver.LRUCache(4096)  # TTLs honoured

    @property
    def nameservers(self) -> list[str]:
        return [str(ns) for ns in self._dns.nameservers]

    def describe(self) -> str:
        """Where lookups go, for messages: ``127.0.0.1:5353`` or the system's servers."""
        if self.target.mode == "system":
            return "the system resolver (" + (", ".join(self.nameservers) or "none") + ")"
        return self.target.describe()

    def unavailable(self) -> str:
        """Why no lookup can be made now (``""`` when lookups can be tried)."""
        if self._config_error:
            return self._config_error
        if time.monotonic() < self._down_until:
            return f"DNS unreachable: {self._down_reason}"
        return ""

    def probe(self, timeout: float | None = None) -> str:
        """``""`` when some nameserver answers a query at all, else why none does.

        A connected UDP socket, so that a closed port on this machine is known at once
        (ICMP port unreachable) rather than after the timeout; any well-formed answer,
        whatever its rcode, shows the server is there. A failed probe marks the resolver
        down for ``retry_down`` seconds.
        """
        if self._config_error:
            return self._config_error
        wait = self.limits.probe_timeout if timeout is None else timeout
        query = dns.message.make_query(".", dns.rdatatype.NS)
        reason = "no nameserver"
        for ns in self.nameservers:
            where = f"{ns}:{self._dns.port}"
            family = socket.AF_INET6 if ":" in ns else socket.AF_INET
            try:
                with socket.socket(family, socket.SOCK_DGRAM) as sock:
                    sock.settimeout(max(wait, 0.05))
                    sock.connect((ns, self._dns.port))
                    sock.send(query.to_wire())
                    answer = dns.message.from_wire(sock.recv(65535))
                if answer.id == query.id:
                    self._down_until = 0.0
                    return ""
                reason = f"{where} answered another query"
            except TimeoutError:
                reason = f"no answer from {where} within {wait:g} s"
            except OSError as exc:
                reason = f"{where}: {exc.strerror or exc}"
            except dns.exception.DNSException as exc:
                reason = f"{where} sent a malformed answer ({exc})"
        self._down_until = time.monotonic() + self.limits.retry_down
        self._down_reason = reason
        return reason

    def lookups(self) -> Lookups:
        """The lookups of one message, under its own budget."""
        return Lookups(self)

    def query(self, name: str, rdtype: str, lifetime: float) -> dns.resolver.Answer | None:
        """One query; ``None`` for NXDOMAIN. Raises ``DnsTemporary``/``DnsPermanent``."""
        if why := self.unavailable():
            raise DnsTemporary(why)
        try:
            return self._dns.resolve(
                name, rdtype, lifetime=lifetime, raise_on_no_answer=False, search=False
            )
        except dns.resolver.NXDOMAIN:
            return None
        except dns.resolver.NoNameservers as exc:
            errors: Sequence[Any] = exc.kwargs.get("errors") or ()
            if any(isinstance(e[3], OSError) for e in errors if len(e) > 3):
                self._check_down()
            raise DnsTemporary(f"no server could answer for {name}") from None
        except dns.exception.Timeout:
            self._check_down()
            raise DnsTemporary(f"lookup of {name} timed out") from None
        except (dns.name.NameTooLong, dns.name.LabelTooLong, dns.name.EmptyLabel) as exc:
            raise DnsPermanent(f"invalid name {name[:80]!r}: {exc}") from None
        except (dns.exception.SyntaxError, UnicodeError, ValueError) as exc:
            raise DnsPermanent(f"invalid name {name[:80]!r}: {exc}") from None
        except dns.exception.DNSException as exc:
            raise DnsTemporary(f"lookup of {name} failed: {type(exc).__name__}") from None
        except OSError as exc:
            self._check_down()
            raise DnsTemporary(f"lookup of {name} failed: {exc.strerror or exc}") from None

    def _check_down(self) -> None:
        """After a timeout: is the resolver gone, or only the name's servers slow?"""
        self.probe()


class Lookups:
    """The DNS lookups of one message: a deadline and a count (see the module's text)."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.limits = resolver.limits
        self.deadline = time.monotonic() + self.limits.budget
        self.count = 0

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def records(self, name: str, rdtype: str) -> list[Any]:
        """The rdata of ``name``'s ``rdtype`` records (CNAMEs followed by the resolver);
        ``[]`` when there are none."""
        left = self.remaining()
        if left <= 0:
            raise DnsTemporary(f"time budget of {self.limits.budget:g} s for one message spent")
        self.count += 1
        if self.count > self.limits.max_queries:
            raise DnsTemporary(f"more than {self.limits.max_queries} DNS lookups for one message")
        answer = self.resolver.query(name, rdtype, min(left, self.limits.lookup_timeout))
        if answer is None or answer.rrset is None:
            return []
        rdatas = list(answer.rrset)
        if rdtype in ("TXT", "SPF"):
            size = sum(len(s) for r in rdatas for s in r.strings)
            if size > self.limits.max_txt:
                raise DnsPermanent(
                    f"TXT answer for {name} is {size:,} octets (at most {self.limits.max_txt:,})"
                )
        return rdatas

    def txt(self, name: str) -> list[bytes]:
        """Each TXT record of ``name``, its character-strings joined (RFC 7208 §3.3)."""
        return [b"".join(r.strings) for r in self.records(name, "TXT")]
