"""Deliver one message to the next hop over SMTP: a thin typed adapter over smtplib.

The gateway and ``floodwall quarantine release`` both hand a message on with
``relay_message``. Its outcome is one of three, so that a caller can decide between
"done", "try again later" and "bounce" without reading SMTP codes itself:

- a ``RelayResult``: at least one recipient was accepted and DATA got a 2xx reply
  (RFC 5321 §3.3); recipients refused one by one are listed in it;
- ``RelayTemporaryError``: a 4xx reply, or the next hop could not be reached or
  dropped the connection (RFC 5321 §4.2.1: 4yz is transient, so keep the message);
- ``RelayPermanentError``: a 5xx reply that no retry will change (5yz), for the
  sender, for DATA, or for every recipient.

The transaction is driven command by command instead of through ``sendmail`` so the
final DATA reply (the next hop's queue id) is kept and each failure keeps its code.
"""

from __future__ import annotations

import contextlib
import re
import select
import smtplib
import socket
import ssl
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

__all__ = [
    "RecipientRefusal",
    "RelayConnection",
    "RelayError",
    "RelayPermanentError",
    "RelayResult",
    "RelayTemporaryError",
    "relay_message",
]

# RFC 5321 §2.3.8: lines end in CRLF; a bare LF must not be sent. Messages read from
# .eml files often use LF alone, so they are normalised here, once, on the way out.
_BARE_LF = re.compile(rb"(?<!\r)\n")


def _crlf(data: bytes) -> bytes:
    """``data`` with every bare LF made CRLF. Counting first is ten times cheaper than
    the substitution, and a message from SMTP has no bare LF to fix."""
    if data.count(b"\n") == data.count(b"\r\n"):
        return data
    return _BARE_LF.sub(b"\r\n", data)


def _data(smtp: smtplib.SMTP, body: bytes) -> tuple[int, bytes]:
    """``smtplib.SMTP.data`` for a body whose lines already end in CRLF, with the
    dot-stuffing (RFC 5321 §4.5.2) done by ``bytes.replace`` instead of a regular
    expression over the whole message (a third of a millisecond for 30 KB)."""
    code, reply = smtp.docmd("data")
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    stuffed = body.replace(b"\r\n.", b"\r\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    smtp.send(stuffed + b".\r\n")
    return smtp.getreply()


@dataclass(frozen=True, slots=True)
class RecipientRefusal:
    """One envelope recipient the next hop refused at RCPT TO."""

    recipient: str
    code: int
    text: str


@dataclass(frozen=True, slots=True)
class RelayResult:
    """The next hop took the message for ``accepted``; ``refused`` it did not take."""

    code: int  # the reply to the end of DATA, e.g. 250
    text: str  # its text, often with the next hop's queue id
    accepted: tuple[str, ...]
    refused: tuple[RecipientRefusal, ...]


class RelayError(Exception):
    """Delivery to the next hop failed; ``code`` is the SMTP reply (0 when none came)."""

    def __init__(self, code: int, text: str, *, refused: tuple[RecipientRefusal, ...] = ()) -> None:
        super().__init__(f"{code} {text}" if code else text)
        self.code = code
        self.text = text
        self.refused = refused


class RelayTemporaryError(RelayError):
    """Worth retrying: a 4xx reply, or a network failure (refused, timeout, reset)."""


class RelayPermanentError(RelayError):
    """Not worth retrying: a 5xx reply for the sender, DATA, or every recipient."""


def _decode(reply: bytes | str) -> str:
    if isinstance(reply, bytes):
        return reply.decode("utf-8", "replace")
    return reply


def _fail(
    code: int, text: bytes | str, *, refused: tuple[RecipientRefusal, ...] = ()
) -> RelayError:
    """The error class an SMTP reply calls for: 5yz is permanent, anything else is not."""
    cls = RelayPermanentError if 500 <= code <= 599 else RelayTemporaryError
    return cls(code, _decode(text), refused=refused)


def relay_message(
    host: str,
    port: int,
    mail_from: str,
    rcpt_to: Sequence[str],
    data: bytes,
    *,
    timeout: float = 30.0,
    helo: str | None = None,
    starttls: bool = False,
    ssl_context: ssl.SSLContext | None = None,
) -> RelayResult:
    """Send ``data`` from ``mail_from`` to ``rcpt_to`` through the SMTP server at host:port.

    ``starttls=True`` requires STARTTLS (RFC 3207) and fails temporarily when the next
    hop does not offer it, rather than sending in clear text against the caller's wish.
    ``data`` is sent unchanged except that bare LFs become CRLF and dot-stuffing
    (RFC 5321 §4.5.2), which the receiver undoes.
    """
    if not rcpt_to:
        raise ValueError("relay_message needs at least one recipient")
    body = _crlf(data)
    smtp: smtplib.SMTP | None = None
    try:
        with _as_relay_errors(host, port):
            smtp = smtplib.SMTP(host, port, local_hostname=helo, timeout=timeout)
            return _transaction(smtp, mail_from, rcpt_to, body, starttls, ssl_context)
    finally:
        if smtp is not None:
            _close(smtp)


@contextlib.contextmanager
def _as_relay_errors(host: str, port: int) -> Iterator[None]:
    """smtplib's and the socket's failures as the relay's own errors."""
    try:
        yield
    except RelayError:
        raise
    except smtplib.SMTPResponseException as e:
        # Greeting or EHLO refused (SMTPConnectError, SMTPHeloError) or STARTTLS failed.
        raise _fail(e.smtp_code, e.smtp_error) from e
    except (smtplib.SMTPException, OSError, UnicodeError) as e:
        # Refused, timed out, reset, TLS handshake failed, server hung up: all transient
        # from the sender's side (RFC 5321 §4.5.4.1 retries on connection failures).
        reason = str(e) or type(e).__name__
        raise RelayTemporaryError(0, f"{host}:{port}: {reason}") from e


def _transaction(
    smtp: smtplib.SMTP,
    mail_from: str,
    rcpt_to: Sequence[str],
    body: bytes,
    starttls: bool,
    ssl_context: ssl.SSLContext | None,
) -> RelayResult:
    smtp.ehlo_or_helo_if_needed()
    if starttls:
        if not smtp.has_extn("starttls"):
            raise RelayTemporaryError(0, "next hop does not offer STARTTLS, which was required")
        smtp.starttls(context=ssl_context)
        smtp.ehlo()  # RFC 3207 §4.2: forget what was learnt before TLS, ask again
    options: list[str] = []
    if smtp.does_esmtp and smtp.has_extn("8bitmime") and not body.isascii():
        options.append("BODY=8BITMIME")  # RFC 6152
    if not (mail_from.isascii() and all(r.isascii() for r in rcpt_to)):
        if not smtp.has_extn("smtputf8"):
            # RFC 6531 §3.4: without SMTPUTF8 such an address cannot be sent at all.
            raise RelayPermanentError(553, "next hop lacks SMTPUTF8 for a non-ASCII address")
        options.append("SMTPUTF8")  # smtplib then encodes the commands as UTF-8
    code, text = smtp.mail(mail_from, options)
    if code != 250:
        _reset(smtp)
        raise _fail(code, text)
    accepted: list[str] = []
    refused: list[RecipientRefusal] = []
    for rcpt in rcpt_to:
        code, text = smtp.rcpt(rcpt)
        if code in (250, 251):
            accepted.append(rcpt)
        else:
            refused.append(RecipientRefusal(rcpt, code, _decode(text)))
    if not accepted:
        _reset(smtp)
        # Permanent only when every refusal was: one 4xx means a retry may succeed.
        is_permanent = all(500 <= r.code <= 599 for r in refused)
        cls = RelayPermanentError if is_permanent else RelayTemporaryError
        first = refused[0]
        raise cls(first.code, f"all recipients refused: {first.text}", refused=tuple(refused))
    code, text = _data(smtp, body)
    if code != 250:
        _reset(smtp)
        raise _fail(code, text, refused=tuple(refused))
    return RelayResult(code, _decode(text), tuple(accepted), tuple(refused))


def _reset(smtp: smtplib.SMTP) -> None:
    # RFC 5321 §4.1.1.5: abort the transaction; the connection closes right after, so a
    # failure here changes nothing.
    with contextlib.suppress(smtplib.SMTPException, OSError):
        smtp.rset()


def _close(smtp: smtplib.SMTP) -> None:
    # Not ``with smtplib.SMTP(...)``: its __exit__ raises when QUIT gets anything but
    # 221, which would turn a delivered message into a failure, and a retry into a
    # second delivery. Once DATA has its 250, nothing said after it matters.
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _is_quiet(sock: socket.socket | None) -> bool:
    """True when the peer has neither hung up nor sent anything since its last reply."""
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


class RelayConnection:
    """A connection to the next hop kept open across messages, as an MTA's connection
    cache keeps one (Postfix: ``smtp_connection_cache_*``): a TCP set-up, greeting and
    EHLO for every message cost both ends more than a small message does.

    Not thread-safe: one thread uses one. A connection is used again only while it is
    fresh (``max_idle`` seconds since its last message, ``max_messages`` in all) and the
    next hop has said nothing out of turn, such as a ``421`` before it hangs up (RFC
    5321 §3.8) or an EOF. Any failure closes it; the next message opens a new one.
    ``send`` maps outcomes as ``relay_message`` does.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float = 30.0,
        helo: str | None = None,
        max_idle: float = 10.0,
        max_messages: int = 1000,
    ) -> None:
        self.host, self.port, self.timeout, self.helo = host, port, timeout, helo
        self.max_idle, self.max_messages = max_idle, max_messages
        self.opened = 0  # connections opened so far (for tests and figures)
        self._smtp: smtplib.SMTP | None = None
        self._used = 0
        self._last = 0.0

    def _reusable(self) -> smtplib.SMTP | None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return None
        if not _is_quiet(smtp.sock):
            smtp.close()  # it hung up or spoke out of turn: no QUIT to wait on
        elif time.monotonic() - self._last < self.max_idle and self._used < self.max_messages:
            return smtp
        else:
            _close(smtp)
        return None

    def send(self, mail_from: str, rcpt_to: Sequence[str], data: bytes) -> RelayResult:
        """Send one message (see ``relay_message``), on the kept connection if it is fit."""
        if not rcpt_to:
            raise ValueError("relay needs at least one recipient")
        body = _crlf(data)
        smtp = self._reusable()
        kept = False
        try:
            with _as_relay_errors(self.host, self.port):
                if smtp is None:
                    smtp = smtplib.SMTP(self.host, self.port, local_hostname=self.helo,
                                        timeout=self.timeout)  # fmt: skip
                    self.opened += 1
                    self._used = 0
                result = _transaction(smtp, mail_from, rcpt_to, body, False, None)
                kept = True
        finally:
            if not kept and smtp is not None:
                _close(smtp)  # after any failure the session's state is unknown
        self._smtp, self._used, self._last = smtp, self._used + 1, time.monotonic()
        return result

    def close(self) -> None:
        """Say QUIT and close, if a connection is open."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            _close(smtp)
