"""Build the harmless sample for the ClamAV detector (run to regenerate clamav/sample.eml).

The message carries the EICAR anti-virus test file, a standard harmless string that
every scanner reports; it is assembled here from two halves so this script itself is
not flagged. A text attachment rides along to show that only the EICAR file is named.
"""

from __future__ import annotations

from pathlib import Path

from sample_mail import message

HERE = Path(__file__).parent
EICAR = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
NOTES = b"Minutes of Monday's meeting: budget approved, next review in March.\n"


def sample() -> bytes:
    files = [("eicar.com", EICAR.encode(), "application/octet-stream"),
             ("notes.txt", NOTES, "text/plain")]  # fmt: skip
    return message(
        "Invoice tool", files, "Please run the attached tool to see your invoice.",
        boundary="floodwall-clamav-sample",
    )  # fmt: skip


if __name__ == "__main__":
    (HERE / "clamav").mkdir(exist_ok=True)
    (HERE / "clamav" / "sample.eml").write_bytes(sample())
