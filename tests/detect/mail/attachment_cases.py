"""Builders for attachment detector tables (loaded by the attachment test modules)."""

from __future__ import annotations

import hashlib
from typing import Any

from floodwall.records import Attachment, MailMessage, Origin


def att(name: str, true_type: str = "text", data: bytes = b"", **kw: Any) -> Attachment:
    """An attachment as the MIME parser would give it."""
    digest = hashlib.sha256(data).hexdigest()
    return Attachment(name, kw.pop("path", name), kw.pop("depth", 0), len(data), digest, "",
                      true_type, data, **kw)  # fmt: skip


def message(*attachments: Attachment) -> MailMessage:
    """A message carrying ``attachments``."""
    return MailMessage(
        Origin("t", 1), "<m@t>", "0" * 64, (), "a@example.org", "", attachments=attachments
    )


def fired(detector: Any, *attachments: Attachment) -> list[str]:
    """The attachment paths a detector fires on."""
    return [f.evidence["attachment"] for f in detector.detect(message(*attachments))]
