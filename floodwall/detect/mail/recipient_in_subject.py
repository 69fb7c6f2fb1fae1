"""The recipient's own address merged into the subject or the sender's display name."""

from __future__ import annotations

from typing import ClassVar

from floodwall.detect.mail.findings import detector_finding
from floodwall.records import Finding, MailMessage, Severity

#: Recipients looked for: a message to more than this many is a list, not a mail merge.
MAX_RECIPIENTS = 20
#: A subject or display name longer than this is cut here (the merge field sits first).
MAX_TEXT = 4_000


class RecipientInSubjectDetector:
    """The subject or the From display name holds a To/Cc address in full:
    ``Subject: jane@corp.example, your mailbox is full`` or
    ``From: "jane@corp.example" <offers@mailer.example>``.

    Bulk phishing and spam tools merge the address they send to into the subject or the
    sender's name to look personal and to make every copy differ for fingerprinting
    (T1566, T1036), as rspamd's TO_IN_SUBJECT symbol notes. People address others by
    name; mail systems that quote an address (a password reset, a list welcome) quote it
    in the body. The whole address is required, compared without case (RFC 5321 §2.4
    leaves the local part's case to the receiving host, which never changes it in
    practice), so a name or a bare domain never fires.
    """

    id: ClassVar[str] = "mail.recipient_in_subject"
    title: ClassVar[str] = "Recipient address merged into the subject or sender name"
    severity: ClassVar[Severity] = Severity.MEDIUM
    attack: ClassVar[tuple[str, ...]] = ("T1566", "T1036")

    def detect(self, msg: MailMessage) -> list[Finding]:
        """At most one finding, for the first recipient found."""
        recipients = [a for a in msg.to[:MAX_RECIPIENTS] if "@" in a.strip("@")]
        if not recipients:
            return []
        places = (("subject", msg.subject), ("sender name", msg.from_name))
        for where, text in places:
            lowered = text[:MAX_TEXT].lower()
            for address in recipients:
                if address.lower() in lowered:
                    reason = f"the {where} holds the recipient's address {address!r}"
                    return [detector_finding(self, {"reason": reason, "where": where})]
        return []
