"""DKIM (RFC 6376) with dkimpy (zlib licence), its key lookups made through ``Lookups``.

At most ``max_signatures`` signatures are verified (RFC 6376 §6.1 lets a verifier limit
them; each costs a lookup and a hash of the body): first those whose ``d=`` aligns with
the From domain, which are the ones DMARC needs, then the others from the top.

Results (RFC 8601 §2.7.1): ``fail`` only when the cryptography says no (the body hash or
the signature does not verify with the published key). A signature that cannot be read is
``neutral``; a missing, unusable or too short key (RFC 8301: at least 1024 bits) is
``permerror``; a lookup that failed is ``temperror``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import dkim
from dkim.util import InvalidTagValueList, parse_tag_value

from floodwall.enrich.mail_auth.resolver import DnsPermanent, DnsTemporary, Lookups
from floodwall.records import AuthCheck

__all__ = ["check_dkim", "signing_domain"]


class _Notes:
    """dkimpy's logger: keeps the error lines, which say why a key was not used."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.errors.append(str(msg) % args if args else str(msg))

    def debug(self, *args: Any, **kwargs: Any) -> None:
        pass

    info = warning = debug

    def isEnabledFor(self, level: int) -> bool:  # logging.Logger's name
        return level >= logging.ERROR


class _KeyLookup:
    """The ``dnsfunc`` dkimpy calls for a key: remembers whether it was called and what
    went wrong, since dkimpy turns a failed lookup into a plain "missing key"."""

    def __init__(self, lookups: Lookups) -> None:
        self.lookups = lookups
        self.called = False
        self.temporary = ""
        self.permanent = ""

    def __call__(self, name: bytes | str, timeout: float = 5) -> bytes | None:
        self.called = True
        text = name.decode("utf-8", "replace") if isinstance(name, bytes) else name
        try:
            records = self.lookups.txt(text)
        except DnsTemporary as exc:
            self.temporary = str(exc)
            return None
        except DnsPermanent as exc:
            self.permanent = str(exc)
            return None
        return records[0] if records else None  # RFC 6376 §3.6.2.2: the first one


def _text(value: bytes | None) -> str:
    return (value or b"").decode("ascii", "replace").strip().lower()


def _tag(value: bytes, name: bytes) -> str:
    try:
        return _text(parse_tag_value(value).get(name))
    except (InvalidTagValueList, ValueError, IndexError):
        return ""


def signing_domain(value: bytes) -> str:
    """The ``d=`` of a DKIM-Signature value, ``""`` when it cannot be read."""
    return _tag(value, b"d")


def check_dkim(
    raw: bytes, lookups: Lookups, aligned: Callable[[str], bool], max_signatures: int
) -> list[AuthCheck]:
    """One result per signature verified (none: ``dkim=none``)."""
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    if b"dkim-signature" not in raw[: min(ends, default=len(raw))].lower():
        return [AuthCheck("dkim", "none", "message not signed")]  # dkimpy parses it all
    notes = _Notes()
    try:
        verifier = dkim.DKIM(raw, logger=notes, minkey=1024)
    except Exception as exc:  # dkimpy's parser on hostile bytes
        return [AuthCheck("dkim", "permerror", f"message cannot be read: {exc}"[:200])]
    values = [v for k, v in verifier.headers if k.lower() == b"dkim-signature"]
    if not values:
        return [AuthCheck("dkim", "none", "message not signed")]
    domains = [signing_domain(v) for v in values]
    order = sorted(range(len(values)), key=lambda i: (not aligned(domains[i]), i))
    checks = [
        _verify(verifier, i, (("header.d", domains[i]), ("header.s", _tag(values[i], b"s"))),
                lookups, notes)
        for i in order[:max_signatures]
    ]  # fmt: skip
    if len(values) > max_signatures:
        more = len(values) - max_signatures
        reason = f"{more} more signature(s) not verified: at most {max_signatures} a message"
        checks.append(AuthCheck("dkim", "neutral", reason))
    return checks


def _verify(
    verifier: Any, idx: int, props: tuple[tuple[str, str], ...], lookups: Lookups, notes: _Notes
) -> AuthCheck:
    key = _KeyLookup(lookups)
    verifier.pk = None
    notes.errors.clear()
    try:
        ok = verifier.verify(idx=idx, dnsfunc=key)
    except Exception as exc:  # dkimpy raises DKIMException, and others on hostile tags
        why = str(exc)[:160] or type(exc).__name__
        if not key.called:
            return AuthCheck("dkim", "neutral", f"signature cannot be used: {why}", props)
        if key.temporary:
            return AuthCheck("dkim", "temperror", key.temporary, props)
        if why.startswith("body hash mismatch"):
            return AuthCheck("dkim", "fail", "body hash did not verify", props)
        if isinstance(exc, dkim.NaClNotFoundError):  # PyNaCl (pinned) missing from the install
            return AuthCheck("dkim", "neutral", "ed25519 keys [RFC 8463] not supported", props)
        if isinstance(exc, dkim.KeyFormatError):
            return AuthCheck("dkim", "permerror", f"key not usable: {why}", props)
        return AuthCheck("dkim", "neutral", f"signature cannot be verified: {why}", props)
    if ok:
        return AuthCheck("dkim", "pass", "", props)
    if key.temporary:
        return AuthCheck("dkim", "temperror", key.temporary, props)
    if key.permanent:
        return AuthCheck("dkim", "permerror", key.permanent, props)
    if getattr(verifier, "pk", None) is None:
        why = notes.errors[-1] if notes.errors else "no key published"
        return AuthCheck("dkim", "permerror", f"key not usable: {why}"[:200], props)
    return AuthCheck("dkim", "fail", "signature did not verify", props)
