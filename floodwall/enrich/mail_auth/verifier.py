"""``SenderAuthVerifier``: SPF, DKIM and DMARC of one message, looked up in DNS.

The edge adapter of sender authentication: it does the I/O (DNS) that detectors must not,
and hands back a ``SenderAuth`` record that ``AuthResultsDetector`` reads like the
Authentication-Results of a trusted host (RFC 8601). It never raises for a message's sake:
whatever fails becomes a ``temperror``, ``permerror`` or ``neutral`` result with its reason.
"""

from __future__ import annotations

from email.utils import getaddresses

from floodwall.detect.mail.domains import SuffixList, domain_of
from floodwall.enrich.mail_auth.dkim_check import check_dkim
from floodwall.enrich.mail_auth.dmarc_check import aligned, check_dmarc
from floodwall.enrich.mail_auth.resolver import Limits, Resolver
from floodwall.enrich.mail_auth.spf_check import check_spf
from floodwall.enrich.mail_auth.target import DnsTarget
from floodwall.records import AuthCheck, MailMessage, SenderAuth, SmtpEnvelope

__all__ = ["SenderAuthVerifier", "from_domain"]


def from_domain(msg: MailMessage) -> tuple[str, str]:
    """The RFC5322.From domain DMARC evaluates, or ``("", why not)`` (RFC 7489 §6.6.1:
    exactly one From field, naming one domain)."""
    values = msg.header("from")
    if len(values) != 1:
        return "", f"{len(values)} From header fields (DMARC needs exactly one)"
    domains = {domain_of(addr) for _, addr in getaddresses([values[0]]) if addr}
    domains.discard("")
    if len(domains) != 1:
        return "", "From header names no domain" if not domains else "From names several domains"
    return domains.pop(), ""


def _not_verified(why: str) -> SenderAuth:
    reason = f"not verified: {why}"
    checks = tuple(AuthCheck(m, "temperror", reason) for m in ("spf", "dkim", "dmarc"))
    return SenderAuth(checks, reason)


class SenderAuthVerifier:
    """Verifies SPF (RFC 7208), DKIM (RFC 6376) and DMARC (RFC 7489) through the resolver
    of ``[mail] dns`` (see ``resolver.py`` for the limits of one message)."""

    def __init__(
        self,
        target: DnsTarget,
        psl: SuffixList,
        limits: Limits | None = None,
        *,
        resolv_conf: str | None = None,
    ) -> None:
        self.limits = limits or Limits()
        self.resolver = Resolver(target, self.limits, resolv_conf=resolv_conf)
        self.psl = psl

    def describe(self) -> str:
        return self.resolver.describe()

    def probe(self) -> str:
        """``""`` when the resolver answers, else why not (said once by the caller)."""
        why = self.resolver.probe()
        return f"DNS at {self.describe()} does not answer ({why})" if why else ""

    def verify(self, raw: bytes, msg: MailMessage, envelope: SmtpEnvelope) -> SenderAuth:
        """Our own results for ``msg`` (``raw`` as received, for DKIM's hashes)."""
        if why := self.resolver.unavailable():
            return _not_verified(why)
        try:
            return self._verify(raw, msg, envelope)
        except Exception as exc:  # a library bug on hostile input: no result, not a crash
            return _not_verified(f"verification failed: {type(exc).__name__}: {exc}"[:200])

    def _verify(self, raw: bytes, msg: MailMessage, envelope: SmtpEnvelope) -> SenderAuth:
        lookups = self.resolver.lookups()
        domain, problem = from_domain(msg)
        spf = check_spf(lookups, envelope)
        dkim = check_dkim(
            raw, lookups, lambda d: aligned(d, domain, self.psl), self.limits.max_signatures
        )
        signed = [(c, dict(c.props).get("header.d", "")) for c in dkim]
        dmarc = check_dmarc(lookups, self.psl, domain, problem, (spf.check, spf.domain), signed)
        return SenderAuth((spf.check, *dkim, dmarc))
