"""Build the harmless sample for the ClamAV detector (run to regenerate clamav/sample.eml).

The message carries the EICAR anti-virus test file, a standard harmless string that
every scanner reports; it is assembled here from two halves so this script itself is
not flagged. A text attachment rides along to show that only the EICAR file is named.
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

HERE = Path(__file__).parent
EICAR = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
NOTES = b"Minutes of Monday's meeting: budget approved, next review in March.\n"


def message() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Accounts <billing@example.com>"
    msg["To"] = "victim@example.org"
    msg["Subject"] = "Invoice tool"
    msg["Message-ID"] = "<invoice-tool@example.com>"
    msg.set_content("Please run the attached tool to see your invoice.")
    msg.add_attachment(
        EICAR.encode(), maintype="application", subtype="octet-stream", filename="eicar.com"
    )
    msg.add_attachment(NOTES, maintype="text", subtype="plain", filename="notes.txt")
    msg.set_boundary("floodwall-clamav-sample")  # fixed, so regenerating changes nothing
    return bytes(msg)


if __name__ == "__main__":
    (HERE / "clamav").mkdir(exist_ok=True)
    (HERE / "clamav" / "sample.eml").write_bytes(message())
