"""Sender authentication that failed, as the receiving MTA recorded it in
Authentication-Results (RFC 8601): DMARC fail, SPF fail, DKIM fail, Microsoft's composite
authentication (``compauth``) fail, and an SPF fail in Received-SPF (RFC 7208 §9.1); and
as Floodwall verified it itself (``MailMessage.sender_auth``, made by
``floodwall/enrich/mail_auth`` where ``[mail] dns`` allows lookups)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import ClassVar

from floodwall.detect.mail.findings import detector_finding
from floodwall.records import AuthCheck, Finding, MailMessage, Severity

_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"^\s*(dmarc|spf|dkim|arc|compauth)\s*=\s*([a-z]+)", re.IGNORECASE)
# What counts as a failure per method (RFC 8601 §2.7); "none" is not one: unsigned mail
# and domains without a policy are common and say nothing by themselves.
# compauth is Exchange Online's composite verdict over SPF, DKIM, DMARC and its own
# implicit checks ("Anti-spam message headers in Microsoft 365"); "softpass" is not a fail.
_FAILED = {
    "dmarc": {"fail"},
    "spf": {"fail", "softfail"},
    "dkim": {"fail"},
    "arc": {"fail"},
    "compauth": {"fail"},
}
# Received-SPF: result [comment] [key=value; ...] (RFC 7208 §9.1).
_SPF_RESULT = re.compile(r"^\s*([a-z]+)", re.IGNORECASE)
_SPF_RECEIVER = re.compile(r"\breceiver\s*=\s*([^\s;]+)", re.IGNORECASE)


def parse_results(value: str) -> tuple[str, dict[str, str]]:
    """(authserv-id or "", {method: result}) of one Authentication-Results value."""
    parts = [p.strip() for p in _COMMENT.sub(" ", value).split(";")]
    head = parts[0].split() if parts else []
    serv = ""
    if head and "=" not in head[0]:
        serv = head[0].lower()  # RFC 8601: authserv-id [version] ";" results
        parts = parts[1:]
    # else: Microsoft writes no authserv-id, the first element is already a result
    results: dict[str, str] = {}
    for part in parts:
        m = _RESULT.match(part)
        if m:
            results.setdefault(m.group(1).lower(), m.group(2).lower())
    return serv, results


class AuthResultsDetector:
    """DMARC, SPF or DKIM failed at a trusted receiving host, or in Floodwall's own
    verification (T1566, T1656 impersonation).

    Only results from trusted hosts count: those named in ``trusted`` (authserv-ids), or
    when none are configured, the topmost header, which the nearest receiving MTA wrote.
    A sender can forge a "pass" in a header of its own, never usefully a "fail". Our own
    results count like a trusted host's; a result not reached (``temperror``: DNS off,
    unreachable or too slow) counts for nothing.
    """

    id: ClassVar[str] = "mail.auth_fail"
    title: ClassVar[str] = "Sender authentication failed"
    severity: ClassVar[Severity] = Severity.MEDIUM
    attack: ClassVar[tuple[str, ...]] = ("T1566", "T1656")

    def __init__(self, trusted: Iterable[str] = ()) -> None:
        self.trusted = frozenset(t.lower() for t in trusted)

    def _received_spf(self, msg: MailMessage) -> str:
        """``spf=fail`` or ``spf=softfail`` from a trusted Received-SPF header, else ``""``.

        Trusted: the topmost header (the nearest receiver wrote it) when no hosts are
        configured, else one whose ``receiver=`` names a trusted host.
        """
        values = msg.header("received-spf")
        if self.trusted:
            values = tuple(
                v
                for v in values
                if (m := _SPF_RECEIVER.search(v)) and m.group(1).lower() in self.trusted
            )
        m = _SPF_RESULT.match(values[0]) if values else None
        result = m.group(1).lower() if m else ""
        return f"spf={result}" if result in _FAILED["spf"] else ""

    def detect(self, msg: MailMessage) -> list[Finding]:
        chosen = [parse_results(v) for v in trusted_results(msg, self.trusted)]
        failed = {
            f"{method}={result}"
            for _, results in chosen
            for method, result in results.items()
            if result in _FAILED.get(method, ())
        }
        if spf := self._received_spf(msg):
            failed.add(spf)
        ours = _own_failures(msg)
        if not failed and not ours:
            return []
        listed = sorted(failed | {f"{c.method}={c.result}" for c in ours})
        parts = []
        if failed:
            theirs = ", ".join(sorted(failed))
            parts.append(f"authentication failed at the receiving host: {theirs}")
        if ours:
            parts.append("Floodwall's own check: " + ", ".join(c.resinfo() for c in ours))
        evidence: dict[str, object] = {"reason": "; ".join(parts), "failed": listed}
        if ours and msg.sender_auth is not None:
            evidence["floodwall"] = msg.sender_auth.header_value()
        return [detector_finding(self, evidence)]


def trusted_results(msg: MailMessage, trusted: frozenset[str]) -> list[str]:
    """The Authentication-Results values a detector may believe: those of the hosts in
    ``trusted`` (authserv-ids, lowered), or when none are configured the topmost, which
    the nearest receiving MTA wrote. Any other was written by whoever sent the message."""
    values = msg.header("authentication-results")
    if not trusted:
        return list(values[:1])
    return [v for v in values if parse_results(v)[0] in trusted]


def _own_failures(msg: MailMessage) -> list[AuthCheck]:
    """Floodwall's own failed results. A failed DKIM signature beside one that passed is
    no failure of the message (RFC 6376 §6.1: one good signature verifies it; mailing
    lists break the author's signature and add their own)."""
    auth = msg.sender_auth
    if auth is None:
        return []
    passed = any(c.result == "pass" for c in auth.results("dkim"))
    return [
        c
        for c in auth.checks
        if c.result in _FAILED.get(c.method, ()) and not (c.method == "dkim" and passed)
    ]
