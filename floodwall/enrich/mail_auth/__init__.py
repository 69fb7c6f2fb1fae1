"""Sender authentication done by Floodwall itself: SPF (RFC 7208), DKIM (RFC 6376) and
DMARC (RFC 7489), with DNS lookups, when ``[mail] dns`` allows them.

This module loads no DNS library: with ``dns = "off"`` (the default) nothing is looked up
and ``DnsOff`` says so in every message's result (``floodwall; none (not verified: ...)``,
RFC 8601 §2.2), so nothing ever claims a verification that did not happen. Otherwise
``build_verifier`` gives a ``SenderAuthVerifier`` (``verifier.py``).

The envelope comes from the SMTP session at the gateway (``session_envelope``) and, for
stored messages, from their headers (``file_envelope``): the client address and HELO name
of the first public ``Received`` hop outside the trusted relays (as for ``source``), and
MAIL FROM from ``Return-Path`` (RFC 5321 §4.4), which the final delivery wrote.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Protocol

from floodwall.detect.mail.domains import SuffixList
from floodwall.enrich.addresses import DEFAULT_TRUSTED_RELAYS, as_public_ip, mail_source_hop
from floodwall.enrich.mail_auth.target import DnsTarget, parse_dns_setting
from floodwall.records import MailMessage, SenderAuth, SmtpEnvelope

__all__ = [
    "OFF_NOTE",
    "DnsOff",
    "DnsTarget",
    "SenderVerifier",
    "authenticated",
    "build_verifier",
    "file_envelope",
    "not_verified_notice",
    "parse_dns_setting",
    "session_envelope",
]

OFF_NOTE = 'not verified: [mail] dns is "off"'


class SenderVerifier(Protocol):
    """What the scan needs of a verifier (``SenderAuthVerifier`` or ``DnsOff``)."""

    def describe(self) -> str:
        """Where lookups go, for messages."""

    def probe(self) -> str:
        """``""`` when lookups can be made, else why not."""

    def verify(self, raw: bytes, msg: MailMessage, envelope: SmtpEnvelope) -> SenderAuth:
        """Floodwall's own results for one message; never raises for the message's sake."""


class DnsOff:
    """``[mail] dns = "off"``: no lookup; every message's result says it was not verified."""

    RESULT = SenderAuth((), OFF_NOTE)

    def describe(self) -> str:
        return "off"

    def probe(self) -> str:
        return OFF_NOTE.removeprefix("not verified: ")

    def verify(self, raw: bytes, msg: MailMessage, envelope: SmtpEnvelope) -> SenderAuth:
        return self.RESULT


def build_verifier(setting: str, psl: Callable[[], SuffixList]) -> SenderVerifier:
    """The verifier for ``[mail] dns``; ``ValueError`` for a setting that cannot be read.
    ``psl`` loads the Public Suffix List, only when lookups are on."""
    target = parse_dns_setting(setting)
    if target.mode == "off":
        return DnsOff()
    from floodwall.enrich.mail_auth.verifier import SenderAuthVerifier  # dnspython, dkimpy

    return SenderAuthVerifier(target, psl())


def authenticated(
    msg: MailMessage,
    raw: bytes,
    verifier: SenderVerifier,
    envelope: Callable[[MailMessage], SmtpEnvelope],
) -> MailMessage:
    """``msg`` with Floodwall's own results (``raw`` as received, for DKIM's hashes).
    ``envelope(msg)`` is worked out (Received headers read) only when there is a lookup
    to make: with ``dns = "off"`` every message gets the same result."""
    off = isinstance(verifier, DnsOff)
    auth = DnsOff.RESULT if off else verifier.verify(raw, msg, envelope(msg))
    return dataclasses.replace(msg, sender_auth=auth)


def not_verified_notice(why: str) -> str:
    """What ``mail scan`` and the gateway say once when lookups cannot be made (``why``,
    from ``probe``)."""
    return (
        f"Sender authentication: {why}; SPF, DKIM and DMARC are not verified, only read "
        "from the Authentication-Results of trusted hosts"
    )


def file_envelope(
    msg: MailMessage, trusted_relays: Sequence[str] = DEFAULT_TRUSTED_RELAYS
) -> SmtpEnvelope:
    """The envelope of a stored message, as its headers tell it. MAIL FROM is unknown
    (``None``) without a Return-Path; ``Return-Path: <>`` is the null path."""
    hop = mail_source_hop(msg, trusted_relays)
    mail_from = msg.return_path if msg.header("return-path") else None
    if hop is None:
        return SmtpEnvelope(None, mail_from, "", "received")
    return SmtpEnvelope(hop.from_ip, mail_from, hop.from_host, "received")


def session_envelope(
    msg: MailMessage,
    peer: str,
    mail_from: str,
    helo: str,
    trusted_relays: Sequence[str] = DEFAULT_TRUSTED_RELAYS,
) -> SmtpEnvelope:
    """The envelope of a message received over SMTP. A client on a private or loopback
    address is a relay of the organisation's own (Postfix handing mail to the gateway
    as a content filter): the client that matters is then the one its Received names."""
    ip = as_public_ip(peer)
    if ip is not None:
        return SmtpEnvelope(ip, mail_from, helo, "session")
    hop = mail_source_hop(msg, trusted_relays)
    if hop is None:
        return SmtpEnvelope(None, mail_from, helo, "session")
    return SmtpEnvelope(hop.from_ip, mail_from, hop.from_host, "received")
