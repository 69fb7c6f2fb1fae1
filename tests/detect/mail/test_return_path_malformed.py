"""ReturnPathMalformedDetector: an envelope sender on a domain that cannot exist."""

from __future__ import annotations

from pathlib import Path

import mail_util as util
import pytest

from floodwall.detect.mail.return_path_malformed import ReturnPathMalformedDetector
from floodwall.ingest.mail_source import RawMail
from floodwall.normalize.mime import parse_message
from floodwall.records import Origin

make_msg, fired = util.make_msg, util.fired
DETECTOR = ReturnPathMalformedDetector(util.psl())
SAMPLE = Path(__file__).parents[2] / "samples" / "detect" / "mail" / "return_path_malformed"


@pytest.mark.parametrize(
    ("return_path", "expected"),
    [
        ("x@5wc0f8nzjx6ei6.cuk", True),  # no such top-level domain
        ("bounce@localhost", True),  # no dot: no domain anyone else can reach
        ("a@bank_secure.com", True),  # no host name has "_"
        ("a@-bad-.com", True),
        ("a@", True),
        ("bounces+123-abc=acme.com@esp.example.com", False),  # VERP: odd local part, real domain
        ("b@mail.example.co.uk", False),
        ("b@iki.fi", False),  # a domain that is itself a private suffix
        ("b@xn--bcher-kva.de", False),
        ("b@bücher.de", False),  # an internationalized name that encodes (RFC 5890)
        ("MAILER-DAEMON", False),  # local mail inside one host
        ("", False),  # the null reverse-path <>
    ],
)
def test_return_path_malformed(return_path: str, expected: bool) -> None:
    msg = make_msg(from_addr="a@shop.example.com", return_path=return_path)
    assert fired(DETECTOR, msg) is expected


def test_hostile_return_paths_end_with_a_verdict() -> None:
    for address in ("a@" + "x." * 100_000 + "cuk", "a@" + "\udcff" * 1000, "@" * 10_000):
        found = DETECTOR.detect(make_msg(return_path=address))
        assert len(found) == 1 and len(found[0].evidence["reason"]) < 1000


def test_sample_fires() -> None:
    path = SAMPLE / "sample.eml"
    msg = parse_message(RawMail(Origin(str(path), 1), path.read_bytes()))
    assert fired(DETECTOR, msg)
