"""OneNote notebooks carrying files: the 2023 lure that replaced macros."""

from __future__ import annotations

import uuid
from typing import ClassVar

from floodwall.detect.mail.findings import attachment_finding
from floodwall.normalize.filetype import true_type
from floodwall.records import Finding, MailMessage, Severity

# [MS-ONESTORE] 2.6.13 FileDataStoreObject: guidHeader, cbLength (8), unused (4),
# reserved (8), then the file's bytes.
FILE_DATA_GUID = uuid.UUID("bde316e7-2665-4511-a4c4-8d4d0b7a9eac").bytes_le
_DATA_AT = 16 + 8 + 4 + 8
_PICTURES = frozenset({"png", "jpeg", "gif", "empty"})  # pictures are stored the same way


def embedded_types(data: bytes) -> list[str]:
    """The sniffed type of every file stored in a OneNote section, in order."""
    kinds: list[str] = []
    at = data.find(FILE_DATA_GUID)
    while at >= 0 and len(kinds) < 100:
        start = at + _DATA_AT
        kinds.append(true_type(data[start : start + 4096]) if start < len(data) else "empty")
        at = data.find(FILE_DATA_GUID, at + 16)
    return kinds


class OnenoteEmbeddedDetector:
    """A OneNote section (``.one``) with an embedded file that is not a picture: the
    FileDataStoreObject GUID {BDE316E7-2665-4511-A4C4-8D4D0B7A9EAC} (T1566.001).

    The evidence counts the files and names their types from their magic (``pe``,
    ``lnk``, ``hta``, ``text`` for scripts ...).
    """

    id: ClassVar[str] = "mail.onenote_embedded"
    title: ClassVar[str] = "OneNote document with an embedded file"
    severity: ClassVar[Severity] = Severity.HIGH
    attack: ClassVar[tuple[str, ...]] = ("T1566.001", "T1204.002")

    def detect(self, msg: MailMessage) -> list[Finding]:
        out = []
        for att in msg.attachments:
            if att.true_type != "one":
                continue
            kinds = embedded_types(att.data)
            files = [k for k in kinds if k not in _PICTURES]
            if not files:
                continue
            reason = f"{att.path!r} embeds {len(files)} file(s): {', '.join(sorted(set(files)))}"
            out.append(attachment_finding(self, att, reason, count=len(files), types=files[:20]))
        return out
