"""A local HTML page that asks for a password and sends it elsewhere (T1566.001 with
credential harvesting, T1056.003 web portal capture)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import ClassVar

from floodwall.detect.mail.findings import attachment_finding
from floodwall.detect.mail.html_smuggling import is_html
from floodwall.records import Finding, MailMessage, Observable, Severity

_PASSWORD = re.compile(rb"<input[^>]{0,200}type\s*=\s*['\"]?password", re.IGNORECASE)
# Where the secret goes: a form posting to a web address, or script sending it.
_SEND = re.compile(
    rb"<form[^>]{0,300}action\s*=\s*['\"]?(https?://[^'\"\s>]+)|"
    rb"(?:fetch|\.open)\s*\(\s*['\"](?:post['\"]\s*,\s*['\"])?(https?://[^'\"\s]+)|"
    rb"\$\.(?:post|ajax)\s*\(",
    re.IGNORECASE,
)


class HtmlCredentialFormDetector:
    """HTML attachment with a password field that posts to a remote address."""

    id: ClassVar[str] = "mail.html_credential_form"
    title: ClassVar[str] = "HTML attachment harvests credentials"
    severity: ClassVar[Severity] = Severity.HIGH
    attack: ClassVar[tuple[str, ...]] = ("T1566.001", "T1056.003")

    def detect(self, msg: MailMessage) -> list[Finding]:
        out = []
        for att in msg.attachments:
            if not is_html(att) or not _PASSWORD.search(att.data):
                continue
            sent = _SEND.search(att.data)
            if sent is None:
                continue
            target = next((g for g in sent.groups() if g), b"script").decode(errors="replace")
            reason = f"{att.path!r} asks for a password and sends it to {target}"
            found = attachment_finding(self, att, reason, target=target)
            if target.startswith("http"):
                found = replace(found, observables=(*found.observables, Observable("url", target)))
            out.append(found)
        return out
