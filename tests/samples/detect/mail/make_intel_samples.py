"""Build the harmless samples for the YARA and known-bad-hash detectors (run to regenerate).

The YARA sample carries the EICAR anti-virus test file, a standard harmless string that
every scanner reports; it is assembled here from two halves so this script itself is
not flagged. The hash sample is a short text file whose SHA-256 the script prints, for
a test list of known-bad hashes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from sample_mail import message

HERE = Path(__file__).parent
EICAR = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
# An Excel web query: matches the bundled InQuest IQY_File rule, so the sample fires with
# the shipped rules too (the bundled set has no EICAR rule).
IQY = b"WEB\r\n1\r\nhttps://example.com/report.txt\r\n"
KNOWN_BAD = b"Floodwall test file: its SHA-256 is listed as known bad in the tests.\n"


SAMPLES = {
    "yara": (
        "Scan result",
        [
            ("eicar.com", EICAR.encode(), "application/octet-stream"),
            ("report.iqy", IQY, "text/plain"),
        ],
    ),
    "hash_ioc": ("Notes", [("notes.txt", KNOWN_BAD, "text/plain")]),
}

if __name__ == "__main__":
    for name, (subject, files) in SAMPLES.items():
        (HERE / name).mkdir(exist_ok=True)
        (HERE / name / "sample.eml").write_bytes(message(subject, files))
    print("hash_ioc sha256:", hashlib.sha256(KNOWN_BAD).hexdigest())
