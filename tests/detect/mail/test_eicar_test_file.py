"""EicarTestFileDetector: the EICAR test file, by the rules of its specification."""

from __future__ import annotations

import mail_util as util
import pytest

from floodwall.detect.mail.eicar_test_file import EicarTestFileDetector
from floodwall.records import Attachment

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def att(data: bytes, name: str = "eicar.txt") -> Attachment:
    return Attachment(name, name, 0, len(data), "0" * 64, "text/plain", "text", data)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (EICAR, True),
        (EICAR + b"\r\n", True),
        (EICAR + b" " * 60, True),  # white space up to 128 bytes
        (EICAR + b" " * 61, False),  # longer than 128 bytes
        (EICAR + b"x", False),  # anything but white space after it
        (b" " + EICAR, False),  # it must start the file
        (EICAR[:-1], False),  # truncated
        (b"", False),
        (b"\xff" * 10_000_000, False),
    ],
)
def test_eicar(data: bytes, expected: bool) -> None:
    msg = util.make_msg(attachments=(att(data),))
    assert util.fired(EicarTestFileDetector(), msg) is expected
