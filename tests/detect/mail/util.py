"""Builders for the phishing detector tables (loaded by path by each test module)."""

from __future__ import annotations

import functools
from typing import Any

from floodwall.detect.mail import reference
from floodwall.detect.mail.reference import Brands
from floodwall.records import Link, MailMessage, Origin


def make_msg(**kw: Any) -> MailMessage:
    """A message with only the fields a case needs.

    ``links`` takes URLs or (url, text) pairs; ``headers`` a dict (names any case).
    """
    links = tuple(
        Link(*item) if isinstance(item, tuple) else Link(item) for item in kw.pop("links", ())
    )
    headers = tuple((k.lower(), v) for k, v in kw.pop("headers", {}).items())
    kw.setdefault("from_addr", "")
    kw.setdefault("from_name", "")
    return MailMessage(Origin("t", 1), "<m@t>", "0" * 64, headers, links=links, **kw)


@functools.cache
def psl() -> Any:
    """The bundled Public Suffix List, loaded once per run."""
    return reference.load_psl()


@functools.cache
def brands() -> Brands:
    """The bundled brands, loaded once per run."""
    return reference.load_brands(psl())


def fired(detector: Any, msg: MailMessage) -> bool:
    """Whether ``detector`` finds anything in ``msg``, checking the finding's shape."""
    findings = detector.detect(msg)
    for f in findings:
        assert f.id == f.detector == detector.id
        assert f.title == detector.title and f.severity == detector.severity
        assert f.attack == detector.attack
        assert isinstance(f.evidence["reason"], str) and f.evidence["reason"]
    return bool(findings)
