"""The EICAR anti-virus test file, found without an anti-virus engine."""

from __future__ import annotations

from typing import ClassVar

from floodwall.detect.mail.findings import attachment_finding
from floodwall.records import Finding, MailMessage, Severity

# The 68-byte standard string (https://www.eicar.org/download-anti-malware-testfile/),
# kept in two halves so this source file is not itself taken for the test file.
_EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
# EICAR: the file starts with the string, which may be followed by white space, and is
# at most 128 bytes long; scanners must flag exactly that.
_MAX = 128


class EicarTestFileDetector:
    """An attachment (or a file inside an archive) that is the EICAR test file.

    Anti-virus engines report it as if it were malware so that a deployment can be tested
    end to end; Floodwall does the same when no ClamAV runs, so the test still holds the
    message (T1204.002 stands in for "user opens a malicious file").
    """

    id: ClassVar[str] = "mail.eicar_test_file"
    title: ClassVar[str] = "EICAR anti-virus test file"
    severity: ClassVar[Severity] = Severity.HIGH
    attack: ClassVar[tuple[str, ...]] = ("T1204.002",)

    def detect(self, msg: MailMessage) -> list[Finding]:
        """One finding per attachment that is the test file."""
        return [
            attachment_finding(self, att, f"{att.path} is the EICAR anti-virus test file")
            for att in msg.attachments
            if att.data.startswith(_EICAR)
            and len(att.data) <= _MAX
            and not att.data[len(_EICAR) :].strip()
        ]
