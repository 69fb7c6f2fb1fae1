"""Known-bad attachment hashes: listed files fire, others and near misses do not."""

from __future__ import annotations

import hashlib
from typing import Any

import attachment_cases as cases
import pytest

from floodwall.detect.mail.hash_ioc import HashIocDetector

att, fired, message = cases.att, cases.fired, cases.message

BAD = b"pretend this is a known dropper\n"
BAD_SHA = hashlib.sha256(BAD).hexdigest()
# Feeds write hashes in upper case too (LOKI hash-iocs.txt does).
KNOWN = {BAD_SHA.upper(): "signature-base hash-iocs: test dropper"}


@pytest.mark.parametrize(
    ("attachment", "fires"),
    [
        (att("invoice.exe", "pe", BAD), True),
        (att("dropper.bin", path="a.zip/dropper.bin", depth=1, data=BAD), True),
        (att("notes.txt", "text", BAD + b" "), False),
        (att("empty.txt", "text", b""), False),
    ],
)
def test_detector(attachment: Any, fires: bool) -> None:
    detector = HashIocDetector(KNOWN)
    assert fired(detector, attachment) == ([attachment.path] if fires else [])


def test_evidence_names_the_source() -> None:
    (f,) = HashIocDetector(KNOWN).detect(message(att("invoice.exe", "pe", BAD)))
    assert f.id == f.detector == "mail.hash_ioc"
    assert f.evidence["source"] == "signature-base hash-iocs: test dropper"
    assert "signature-base hash-iocs" in f.evidence["reason"]
    assert f.observables[0].value == BAD_SHA


def test_empty_list_fires_nothing() -> None:
    assert HashIocDetector({}).detect(message(att("invoice.exe", "pe", BAD))) == []
