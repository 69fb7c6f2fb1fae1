"""Sender authentication that failed, as the receiving MTA recorded it in
Authentication-Results (RFC 8601): DMARC fail, SPF fail, DKIM fail."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import ClassVar

from floodwall.detect.mail.findings import detector_finding
from floodwall.records import Finding, MailMessage, Severity

_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"^\s*(dmarc|spf|dkim|arc)\s*=\s*([a-z]+)", re.IGNORECASE)
# What counts as a failure per method (RFC 8601 §2.7); "none" is not one: unsigned mail
# and domains without a policy are common and say nothing by themselves.
_FAILED = {"dmarc": {"fail"}, "spf": {"fail", "softfail"}, "dkim": {"fail"}, "arc": {"fail"}}


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
    """DMARC, SPF or DKIM failed at a trusted receiving host (T1566, T1656 impersonation).

    Only results from trusted hosts count: those named in ``trusted`` (authserv-ids), or
    when none are configured, the topmost header, which the nearest receiving MTA wrote.
    A sender can forge a "pass" in a header of its own, never usefully a "fail".
    """

    id: ClassVar[str] = "mail.auth_fail"
    title: ClassVar[str] = "Sender authentication failed"
    severity: ClassVar[Severity] = Severity.MEDIUM
    attack: ClassVar[tuple[str, ...]] = ("T1566", "T1656")

    def __init__(self, trusted: Iterable[str] = ()) -> None:
        self.trusted = frozenset(t.lower() for t in trusted)

    def detect(self, msg: MailMessage) -> list[Finding]:
        values = msg.header("authentication-results")
        if not values:
            return []
        parsed = [parse_results(v) for v in values]
        trusted = self.trusted
        chosen = [(s, r) for s, r in parsed if s in trusted] if trusted else parsed[:1]
        failed = sorted(
            f"{method}={result}"
            for _, results in chosen
            for method, result in results.items()
            if result in _FAILED.get(method, ())
        )
        if not failed:
            return []
        reason = "authentication failed at the receiving host: " + ", ".join(failed)
        return [detector_finding(self, {"reason": reason, "failed": failed})]
