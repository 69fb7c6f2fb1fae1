"""Envelope sender (Return-Path) from another organisation than From."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import ClassVar

from floodwall.detect.mail.auth_results import trusted_results
from floodwall.detect.mail.domains import SuffixList, domain_of, registered_domain
from floodwall.detect.mail.findings import detector_finding
from floodwall.records import Finding, MailMessage, Observable, Severity

# RFC 8601 resinfo "dkim=pass ... header.d=example.com" (or header.i=@example.com).
_DKIM_D = re.compile(r"\bdkim=pass\b.*?\bheader\.[di]=@?([a-z0-9.-]+)", re.I | re.S)


# List mail (RFC 2369, RFC 2919, ezmlm) and bulk mail (Precedence, RFC 3834 §3.1.8).
_LIST_HEADERS = ("list-id", "list-unsubscribe", "list-post", "mailing-list")
_BULK = {"list", "bulk", "junk"}


class ReturnPathMismatchDetector:
    """Return-Path (RFC 5321 §4.4 envelope sender) domain differs from the From domain.

    A weak signal: mailing lists and bulk senders bounce to their own domain. So the
    detector stays silent on list mail (RFC 2919 List-Id, RFC 2369 List-*, Precedence:
    list/bulk), on the null reverse-path ``<>``, and when a passing DKIM signature aligned
    with From (DMARC relaxed alignment, RFC 7489 §3.1.1) is shown by a trusted host's
    Authentication-Results (RFC 8601; ``trusted_results``) or by Floodwall's own check.
    A sender can write any Authentication-Results it likes into its own message.
    """

    id: ClassVar[str] = "mail.return_path_mismatch"
    title: ClassVar[str] = "Return-Path differs from From"
    severity: ClassVar[Severity] = Severity.LOW
    attack: ClassVar[tuple[str, ...]] = ("T1566", "T1656")

    def __init__(self, psl: SuffixList, trusted: Iterable[str] = ()) -> None:
        """``psl``: the Public Suffix List (``reference.load_psl()``); ``trusted``: the
        authserv-ids whose Authentication-Results count (``[mail] trusted_authserv``)."""
        self.psl = psl
        self.trusted = frozenset(t.lower() for t in trusted)

    def detect(self, msg: MailMessage) -> list[Finding]:
        """One finding when the envelope and header senders belong to different domains."""
        sender = registered_domain(domain_of(msg.from_addr), self.psl)
        envelope = registered_domain(domain_of(msg.return_path), self.psl)
        if not sender or not envelope or sender == envelope:
            return []
        if any(msg.header(h) for h in _LIST_HEADERS) or _BULK.intersection(
            p.strip().lower() for p in msg.header("precedence")
        ):
            return []
        believed = trusted_results(msg, self.trusted)
        if msg.sender_auth is not None:
            believed.append(msg.sender_auth.header_value())
        for result in believed:
            for resinfo in result.split(";"):
                match = _DKIM_D.search(resinfo)
                if match and registered_domain(match.group(1), self.psl) == sender:
                    return []
        reason = f"Return-Path {msg.return_path} is outside the From domain {sender}"
        return [
            detector_finding(
                self,
                {
                    "reason": reason,
                    "from": msg.from_addr,
                    "return_path": msg.return_path,
                    "from_domain": sender,
                    "return_path_domain": envelope,
                },
                (Observable("email", msg.return_path), Observable("domain", envelope)),
            )
        ]
