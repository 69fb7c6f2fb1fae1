"""SPF (RFC 7208) with pyspf (PSF licence), its lookups made through ``Lookups``.

pyspf looks names up through its module-level function ``spf.DNSLookup``, which its own
test suite replaces; here it is replaced once, by a function that asks the ``Lookups`` of
the message being checked (a context variable, so threads do not mix). Outside a check it
answers nothing, so pyspf can never reach the system's DNS behind Floodwall's back.

pyspf keeps RFC 7208 §4.6.4's limits itself: 10 terms that cause DNS lookups (an
``include`` loop ends there), 10 MX or PTR names each, 2 void lookups; each is a
``permerror``. Its explanation text (``exp=``, written by the domain's owner) is never
shown: the reasons here are Floodwall's own words.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import spf

from floodwall.enrich.mail_auth.resolver import DnsPermanent, DnsTemporary, Lookups
from floodwall.records import AuthCheck, SmtpEnvelope

__all__ = ["SpfOutcome", "check_spf"]

_CURRENT: ContextVar[Lookups | None] = ContextVar("floodwall_spf_lookups", default=None)


def _lookup(name: str, qtype: str, strict: Any = True, timeout: Any = None) -> list[Any]:
    """``spf.DNSLookup``: ``[((name, type), value), ...]`` as pyspf's dnspython driver
    returns them (TXT as a list of byte strings, MX as (preference, name))."""
    lookups = _CURRENT.get()
    if lookups is None:
        raise spf.TempError("DNS: Floodwall looks SPF up only through [mail] dns")
    try:
        records = lookups.records(name, qtype)
    except DnsTemporary as exc:
        raise spf.TempError(f"DNS: {exc}") from None
    except DnsPermanent as exc:
        raise spf.PermError(f"DNS: {exc}") from None
    out: list[Any] = []
    for r in records:
        if qtype in ("A", "AAAA"):
            out.append(((name, qtype), r.address))
        elif qtype == "MX":
            out.append(((name, qtype), (r.preference, r.exchange)))
        elif qtype == "PTR":
            out.append(((name, qtype), r.target.to_text(True)))
        elif qtype in ("TXT", "SPF"):
            out.append(((name, qtype), list(r.strings)))
    return out


spf.DNSLookup = _lookup


@dataclass(frozen=True, slots=True)
class SpfOutcome:
    """The SPF result and the domain it speaks for (``""`` when none was checked), which
    DMARC aligns with the From domain (RFC 7489 §3.1.2)."""

    check: AuthCheck
    domain: str


def _words(result: str, ip: str, who: str) -> str:
    return {
        "pass": f"{who} designates {ip} as permitted sender",
        "fail": f"{who} does not designate {ip} as permitted sender",
        "softfail": f"{who} discourages use of {ip} as sender (transitional)",
        "neutral": f"{who} neither permits nor denies {ip}",
        "none": f"{who} publishes no SPF record",
    }.get(result, "")


def check_spf(lookups: Lookups, envelope: SmtpEnvelope) -> SpfOutcome:
    """The SPF result for the MAIL FROM identity, or for HELO when MAIL FROM is the null
    path ``<>`` (RFC 7208 §2.4)."""
    ip, mail_from, helo = envelope.client_ip, envelope.mail_from, envelope.helo.strip().lower()
    if mail_from is None:
        return SpfOutcome(AuthCheck("spf", "none", "MAIL FROM not known (no Return-Path)"), "")
    mail_from = mail_from.strip().strip("<>").strip()
    if mail_from:
        domain = mail_from.rpartition("@")[2].lower().rstrip(".")
        prop, who = ("smtp.mailfrom", mail_from), f"domain of {mail_from}"
    else:
        domain, prop, who = helo, ("smtp.helo", helo), f"HELO name {helo}"
    if not domain or "." not in domain or domain.startswith("["):
        return SpfOutcome(AuthCheck("spf", "none", "no domain to check", (prop,)), "")
    if not ip:
        reason = "no public client address known"
        return SpfOutcome(AuthCheck("spf", "none", reason, (prop,)), "")
    token = _CURRENT.set(lookups)
    try:
        query = spf.query(i=ip, s=mail_from, h=helo or domain, strict=True)
        result, _code, text = query.check()
    except Exception as exc:  # pyspf on input it did not foresee
        result, text = "permerror", f"SPF check failed: {type(exc).__name__}: {exc}"
    finally:
        _CURRENT.reset(token)
    result = str(result).lower()
    if result not in ("pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"):
        result = "permerror"  # "ambiguous" exists only in pyspf's harsh mode
    reason = _words(result, ip, who) or str(text)
    return SpfOutcome(AuthCheck("spf", result, reason, (prop,)), domain)
