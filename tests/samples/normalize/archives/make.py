"""Writes double_extension.zip: a PE named invoice.pdf.exe and a readme (run from here).

Fixed timestamps, so the output is the same on every run.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

PE = b"MZ" + b"\x00" * 58 + (64).to_bytes(4, "little") + b"PE\x00\x00" + b"\x00" * 200


def main() -> None:
    target = Path(__file__).with_name("double_extension.zip")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in (("invoice.pdf.exe", PE), ("readme.txt", b"Open the invoice.\n")):
            z.writestr(
                zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED
            )


if __name__ == "__main__":
    main()
