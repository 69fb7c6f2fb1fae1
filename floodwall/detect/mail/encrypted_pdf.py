"""A PDF locked with a user password that the message itself gives: the gateway cannot
read it (strings and streams are ciphertext), the recipient can. The PDF counterpart of
``mail.encrypted_archive`` (T1027.013).

pypdf reads the file and checks passwords (ISO 32000-1 7.6.3, ISO 32000-2 7.6.4). A PDF
whose empty user password opens it (an owner password only sets permissions) is read by
anyone, the scanner too: not reported. Nor is a PDF whose password the message does not
give: statements locked with the customer's birth date are honest. A password of the text
(``passwords_in``) counts when it opens the file, or when the file is locked in a way pypdf
does not implement (another security handler or cipher), which cannot be checked.

Attackers write these files: pypdf gets at most ``MAX_BYTES`` of one file and
``MAX_PARSED`` of one message (repairing a broken file costs it ~0.4 s per MB), a message's
PDFs get ``MAX_TRIES`` passwords together, and any error of pypdf means an unreadable file.
"""

from __future__ import annotations

import enum
import io
import logging
import re
from typing import TYPE_CHECKING, ClassVar

from floodwall.detect.mail.findings import attachment_finding
from floodwall.normalize.mime_text import passwords_in
from floodwall.records import Finding, MailMessage, Severity

if TYPE_CHECKING:
    from pypdf import PdfReader

_ESCAPED_NAME = re.compile(rb"/[^\s/<>\[\]()%{}]*#[0-9A-Fa-f]{2}")
MAX_BYTES = 2 << 20  # per PDF; the locked lures seen are under 0.7 MB
MAX_PARSED = 8 << 20  # per message, all its PDFs together
MAX_PDFS, MAX_TRIES = 100, 100  # per message; a try costs ~0.02 ms (RC4) to ~2 ms (AES-256)

# pypdf logs each repair of a broken file (100,000 lines for one hostile 8 MB file). Set
# once here, not around each call: a logger's level is process-wide, so that would race.
logging.getLogger("pypdf").setLevel(logging.CRITICAL + 1)


class Lock(enum.Enum):
    """How a PDF is locked, as far as the gateway is concerned."""

    NONE = "not encrypted"
    OPEN = "an owner password only"  # the empty user password opens it
    USER = "needs a user password"
    UNCHECKABLE = "encrypted in a way that cannot be checked"
    UNREADABLE = "not readable"  # damaged, hostile, or over MAX_BYTES


def may_be_encrypted(data: bytes) -> bool:
    """Whether ``data`` can hold an Encrypt entry. It is in the trailer or the
    cross-reference stream's dictionary, which are never compressed (ISO 32000-1 7.5.5,
    7.5.8.2); a name may spell letters as #xx (7.3.5), so a file with such a name may too.
    Most PDFs have neither, and parsing each with pypdf was the costliest step of a scan."""
    return b"/Encrypt" in data or _ESCAPED_NAME.search(data) is not None


def pdf_lock(data: bytes) -> tuple[Lock, PdfReader | None]:
    """How ``data`` is locked, and for ``Lock.USER`` the reader to try passwords on with
    ``opens``. Never raises."""
    if len(data) > MAX_BYTES:
        return Lock.UNREADABLE, None
    if not may_be_encrypted(data):
        return Lock.NONE, None
    # Imported at the first PDF: pypdf costs ~0.1 s to import, more than all detectors.
    from pypdf import PasswordType, PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))  # reads the trailer and the lock, tries ""
    except NotImplementedError:  # pypdf's word for a handler or cipher it lacks
        return Lock.UNCHECKABLE, None
    except Exception:  # pypdf raises its own errors on damage, and plenty of others
        return Lock.UNREADABLE, None
    if not reader.is_encrypted:
        return Lock.NONE, None
    try:
        if reader.decrypt("") is not PasswordType.NOT_DECRYPTED:
            return Lock.OPEN, None
    except Exception:  # a lock pypdf read but cannot compute (damaged strings)
        return Lock.UNCHECKABLE, None
    return Lock.USER, reader


def opens(reader: PdfReader, password: str) -> bool:
    """Whether ``password`` (the user's or the owner's) decrypts the file."""
    from pypdf import PasswordType

    try:
        return reader.decrypt(password) is not PasswordType.NOT_DECRYPTED
    except Exception:  # hostile lock values: no password opens what cannot be computed
        return False


class EncryptedPdfDetector:
    """A PDF that needs a user password, and a password in the message text opens it (or
    its lock cannot be checked and the text offers a password) (T1027.013)."""

    id: ClassVar[str] = "mail.encrypted_pdf"
    title: ClassVar[str] = "Password-protected PDF with its password in the message"
    severity: ClassVar[Severity] = Severity.MEDIUM
    attack: ClassVar[tuple[str, ...]] = ("T1027.013", "T1566.001")

    def detect(self, msg: MailMessage) -> list[Finding]:
        out: list[Finding] = []
        words: list[str] | None = None
        budget, tries = MAX_PARSED, MAX_TRIES
        # Only the PDFs pypdf will read count against the limits: plain PDFs sent along
        # must not use them up before the locked one.
        pdfs = [
            a
            for a in msg.attachments
            if a.true_type == "pdf" and len(a.data) <= MAX_BYTES and may_be_encrypted(a.data)
        ]
        for att in pdfs[:MAX_PDFS]:
            if (budget := budget - len(att.data)) < 0:
                break
            lock, reader = pdf_lock(att.data)
            if lock not in (Lock.USER, Lock.UNCHECKABLE):
                continue  # not encrypted, anyone reads it, or not a PDF that opens at all
            words = passwords_in(msg.text) if words is None else words
            if reader is None:
                if words:
                    reason = f"{att.path!r} is encrypted in a way that cannot be checked, and"
                    reason += " the text offers a password"
                    out.append(attachment_finding(self, att, reason, opened=False))
                continue
            for word in words[:tries]:
                tries -= 1
                if opens(reader, word):
                    reason = f"{att.path!r} is encrypted; {word!r} from the text opens it"
                    out.append(attachment_finding(self, att, reason, opened=True, password=word))
                    break
        return out
