"""HTML smuggling: an HTML attachment whose script assembles a file in the browser and
hands it to the user, so the payload never crosses the gateway as a file (T1027.006)."""

from __future__ import annotations

import re
from typing import ClassVar

from floodwall.detect.mail.findings import attachment_finding
from floodwall.normalize.filetype import extensions
from floodwall.records import Attachment, Finding, MailMessage, Severity

HTML_EXTENSIONS = frozenset({"htm", "html", "shtml", "xhtml", "svg", "hta", "mht"})
# Building the payload: a Blob or an inline data: URL of a file type, or a large base64
# string decoded in the page.
_BUILD = re.compile(
    rb"new\s+blob\s*\(|createobjecturl|data:application/(?:octet-stream|zip|x-[a-z0-9.-]+)"
    rb"[^,]{0,40};base64,|atob\s*\(\s*['\"][a-z0-9+/=]{200,}",
    re.IGNORECASE,
)
# Handing it over: a download attribute, msSaveOrOpenBlob, or a scripted click.
_DELIVER = re.compile(
    rb"\.download\s*=|\sdownload\s*=|mssaveoropenblob|mssaveblob|\.click\s*\(\s*\)|"
    rb"location(?:\.href)?\s*=\s*[a-z_$][\w$]*\s*;",
    re.IGNORECASE,
)


def is_html(att: Attachment) -> bool:
    """Whether the attachment is a page a browser would render."""
    exts = extensions(att.name)
    return att.true_type in ("html", "hta") or bool(exts and exts[-1] in HTML_EXTENSIONS)


class HtmlSmugglingDetector:
    """HTML attachment that builds a file from script and triggers its download."""

    id: ClassVar[str] = "mail.html_smuggling"
    title: ClassVar[str] = "HTML smuggling"
    severity: ClassVar[Severity] = Severity.HIGH
    attack: ClassVar[tuple[str, ...]] = ("T1027.006", "T1566.001")

    def detect(self, msg: MailMessage) -> list[Finding]:
        out = []
        for att in msg.attachments:
            if not is_html(att) or b"<script" not in att.data.lower():
                continue
            build, deliver = _BUILD.search(att.data), _DELIVER.search(att.data)
            if build and deliver:
                built = build.group().decode(errors="replace")[:40]
                given = deliver.group().decode(errors="replace")[:40]
                reason = (
                    f"{att.path!r} builds a file in script ({built}) and hands it over ({given})"
                )
                out.append(attachment_finding(self, att, reason))
        return out
