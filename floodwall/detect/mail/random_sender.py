"""A From mailbox name made of random mixed-case letters."""

from __future__ import annotations

import re
from email.utils import getaddresses
from itertools import pairwise
from typing import ClassVar

from floodwall.detect.mail.findings import detector_finding
from floodwall.records import Finding, MailMessage, Observable, Severity

_LETTERS = re.compile(r"[A-Za-z]{5,64}")
# The pieces a reader splits a mixed-case name into: "John", "Mc", "DJ", "z".
_PIECES = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")


def is_random_case(local: str) -> bool:
    """Whether a mailbox name reads as random mixed-case letters (``KLzDTAvI``,
    ``dnVXGjxw``), not words in CamelCase (``JohnSmith``, ``McDonald``): it switches case
    at least twice, splits into three pieces or more, and half or more of its pieces are
    one or two letters long."""
    if not _LETTERS.fullmatch(local):
        return False
    switches = sum(1 for a, b in pairwise(local) if a.isupper() != b.isupper())
    pieces = _PIECES.findall(local)
    if switches < 2 or len(pieces) < 3:
        return False
    return sum(1 for p in pieces if len(p) <= 2) * 2 >= len(pieces)


class RandomSenderDetector:
    """The From mailbox name is random mixed-case letters: ``KLzDTAvI@love.example``.

    Bulk-mail tools draw a fresh random sender name for each message so that no two look
    alike to fingerprinting and reputation filters (ATT&CK T1027 obfuscation, T1566).
    People and mail systems write names, words or numbers; a random mix of capital and
    small letters is machine-made to evade. Read from the From header as written, since
    the address is compared lowercased elsewhere (RFC 5321 §2.4 leaves the case of the
    local part to the receiving host).
    """

    id: ClassVar[str] = "mail.random_sender"
    title: ClassVar[str] = "Randomly generated sender name"
    severity: ClassVar[Severity] = Severity.MEDIUM
    attack: ClassVar[tuple[str, ...]] = ("T1566", "T1027")

    def detect(self, msg: MailMessage) -> list[Finding]:
        """At most one finding, for the first From mailbox."""
        values = msg.header("from")
        if not values:
            return []
        mailboxes = [a for _, a in getaddresses([values[0][:2000]]) if "@" in a]
        if not mailboxes:
            return []
        local = mailboxes[0].rpartition("@")[0]
        if not is_random_case(local):
            return []
        return [
            detector_finding(
                self,
                {
                    "reason": f"the sender name {local!r} is random mixed-case letters",
                    "from": mailboxes[0],
                    "local_part": local,
                },
                (Observable("email", msg.from_addr),),
            )
        ]
