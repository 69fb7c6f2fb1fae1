"""FreeHostingLinkDetector: landing pages on cloud storage, free site builders, forms, IPFS."""

from __future__ import annotations

import mail_util as util
import pytest

from floodwall.detect.mail import reference
from floodwall.detect.mail.free_hosting_link import FreeHostingLinkDetector

make_msg, fired = util.make_msg, util.fired

DETECTOR = FreeHostingLinkDetector(util.psl(), reference.load_free_hosting())
CID = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"


@pytest.mark.parametrize(
    ("sender", "url", "expected"),
    [
        ("it@bank.example", "https://storage.googleapis.com/x7/login.html", True),
        ("a@b.example", "https://firebasestorage.googleapis.com/v0/b/x/o/p.html", True),
        ("a@b.example", "https://pub-1234.r2.dev/index.html", True),
        ("a@b.example", "https://acct.blob.core.windows.net/web/login.htm", True),
        ("a@b.example", "https://europe-west6-cat-364619.cloudfunctions.net/antec", True),
        ("a@b.example", "https://secure-update.web.app/", True),
        ("a@b.example", "https://x.pages.dev/", True),
        ("a@b.example", "https://forms.gle/AbCdEf", True),
        ("a@b.example", "https://docs.google.com/forms/d/e/1FAIpQL/viewform", True),
        ("a@b.example", f"https://gateway.example.net/ipfs/{CID}", True),
        ("a@b.example", f"https://{CID}.ipfs.dweb.link/", True),
        ("a@b.example", "HTTPS://STORAGE.GOOGLEAPIS.COM/x/y.html", True),
        # S3 has an endpoint per region: buckets as hosts or as paths, dash or dot forms
        ("a@b.example", "https://bkt.s3.us-east-1.amazonaws.com/i.html", True),
        ("a@b.example", "https://s3.eu-west-3.amazonaws.com/bkt/i.html", True),
        ("a@b.example", "https://bkt.s3-us-west-2.amazonaws.com/i.html", True),
        ("a@b.example", "https://bkt.s3-website-us-east-1.amazonaws.com/", True),
        ("a@b.example", "https://bkt.s3.dualstack.ap-south-1.amazonaws.com/x", True),
        ("a@b.example", "https://telegra.ph/Secure-Document-11-24", True),
        ("a@b.example", "https://ec2-1-2-3-4.compute-1.amazonaws.com/", False),
        ("a@b.example", "https://s3.amazonaws.com.evil.example/", False),
        ("a@b.example", "https://xs3.us-east-1.amazonaws.com/", False),
        # the provider's own mail, and ordinary links, do not count
        ("noreply@x.web.app", "https://x.web.app/verify", False),
        ("a@b.example", "https://docs.google.com/document/d/1x/edit", False),
        ("a@b.example", "https://someone.blogspot.com/", False),
        ("a@b.example", "https://www.example.com/storage.googleapis.com", False),
        ("a@b.example", "https://googleapis.com.evil.example/", False),
        ("a@b.example", "mailto:x@storage.googleapis.com", False),
        ("a@b.example", "https://example.com/ipfs/short", False),
        ("", "https://[::1/", False),
        ("", "", False),
    ],
)
def test_free_hosting_link(sender: str, url: str, expected: bool) -> None:
    assert fired(DETECTOR, make_msg(from_addr=sender, links=[url])) is expected


def test_one_finding_lists_every_link() -> None:
    links = [f"https://storage.googleapis.com/b/{i}.html" for i in range(50)]
    found = DETECTOR.detect(make_msg(from_addr="a@b.example", links=links))
    assert len(found) == 1 and len(found[0].evidence["urls"]) == 20
    assert found[0].evidence["kinds"] == ["storage"]


def test_hostile_urls_do_not_crash() -> None:
    links = ["http://" + "a." * 50_000 + "web.app/", "https://\udcff.r2.dev/", "http://%zz/ipfs/",
             "http://" + "s3-" * 30_000 + ".amazonaws.co/", "http://" + "s3-x." * 30_000 + "x/"]  # fmt: skip
    assert fired(DETECTOR, make_msg(from_addr="a@b.example", links=links))
