"""SMTP in: a thin typed adapter over aiosmtpd, so no aiosmtpd type leaves this file.

``SmtpSource`` listens on a host and port and hands each complete message to a
``MessageSink`` as an ``InboundMessage``; the sink's ``Reply`` is what the client gets
for its DATA. The protocol limits live here:

- STARTTLS (RFC 3207) when an ``ssl.SSLContext`` is given;
- SIZE (RFC 1870): the limit is announced, a larger MAIL ... SIZE= is refused and a
  larger DATA is read to its end and answered ``552``, keeping none of it (``read_data``);
- text lines up to ``MAX_LINE`` octets: RFC 5321 §4.5.3.1.6 allows 1000, but about one
  real message in ten has longer lines (12% of phishing_pot, HTML on one line) and
  Postfix takes them; aiosmtpd's own limit of 1001 would refuse that mail for good with
  ``500``. A longer line is still read to its end, dropped, and answered ``500``;
- at most ``max_recipients`` RCPT per message (RFC 5321 §4.5.3.1.8 asks that at
  least 100 be accepted), ``452 4.5.3`` past that;
- a sink that fails unexpectedly gets the client a ``451``: try again later, never a
  silent loss.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email._header_value_parser import get_addr_spec, get_angle_addr
from email.errors import HeaderParseError
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

__all__ = [
    "MAX_LINE",
    "DataLineTooLong",
    "DataTooLarge",
    "InboundMessage",
    "LongLineSMTP",
    "MessageSink",
    "Reply",
    "SmtpSource",
    "read_data",
]

MAX_LINE = 1 << 20  # octets per line, CRLF included; aiosmtpd buffers at most this much

log = logging.getLogger("floodwall.gateway")
# aiosmtpd logs every connection and command at INFO: far too much for a gateway.
logging.getLogger("mail.log").setLevel(logging.WARNING)


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message as received over SMTP, with its envelope (RFC 5321 §2.3.1)."""

    mail_from: str
    rcpt_to: tuple[str, ...]
    data: bytes  # as received: CRLF line ends, dot-stuffing undone
    peer: str  # the client's address
    helo: str  # what it said in HELO/EHLO
    tls: bool  # the session ran STARTTLS


@dataclass(frozen=True, slots=True)
class Reply:
    """An SMTP reply: code and text (RFC 5321 §4.2), with enhanced status (RFC 3463)."""

    code: int
    text: str

    def line(self) -> str:
        """The reply line; CR and LF in the text cannot end it early."""
        text = self.text.replace("\r", " ").replace("\n", " ")
        return f"{self.code} {text}"


MessageSink = Callable[[InboundMessage], Awaitable[Reply]]


def _peer(session: Session) -> str:
    peer = session.peer
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return str(peer or "")


class _LineMeter:
    """The longest text line seen so far across DATA chunks, CRLF included.

    Only the first and last line of a chunk can continue another chunk's, so a chunk
    costs a ``find`` and an ``rfind``; its inner lines are measured only when the chunk
    is longer than the limit (only then can one of them be too long).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._run = 0  # octets of the line still open, a trailing CR included
        self._cr = False  # the last chunk ended in CR: its LF may start the next one

    def is_too_long(self, chunk: bytes) -> bool:
        """Feed a chunk; True once some line is longer than ``limit``."""
        limit, start = self.limit, 0
        if self._cr and chunk[:1] == b"\n":  # a CRLF split between two reads
            if self._run + 1 > limit:
                return True
            self._run, start = 0, 1
        first = chunk.find(b"\r\n", start)
        if first < 0:
            self._run += len(chunk) - start
        else:
            if self._run + first - start + 2 > limit:
                return True
            last = chunk.rfind(b"\r\n")
            if last - first > limit and any(
                len(line) + 2 > limit for line in chunk[first + 2 : last].split(b"\r\n")
            ):
                return True
            self._run = len(chunk) - last - 2
        self._cr = chunk.endswith(b"\r")
        return self._run > limit


class DataTooLarge(Exception):
    """DATA ran past the size limit (RFC 1870): read to its end, kept none of it."""


class DataLineTooLong(Exception):
    """DATA held a line longer than ``MAX_LINE``: read to its end, kept none of it."""


async def read_data(reader: asyncio.StreamReader, max_size: int | None, max_line: int) -> bytes:
    """One message's DATA, read up to and including its terminating ``CRLF.CRLF``.

    Returns the content with dot-stuffing undone (RFC 5321 §4.5.2) and its CRLF line
    ends as sent. ``max_size`` counts the octets as sent (dot-stuffed, the final CRLF
    included, the "." line not), as aiosmtpd did. Past either limit the rest is still
    read (RFC 5321 §4.2.5: the reply comes after the end of data) and dropped, so
    memory stays bounded by the stream's buffer, and ``DataTooLarge`` or
    ``DataLineTooLong`` is raised for the first limit broken.

    Why not aiosmtpd's loop: it awaits one ``readuntil`` per line, which cost the
    gateway about 1.3 ms of CPU for a median 16 KiB message. Here one ``readuntil``
    takes everything up to the next ``.CRLF``: the terminator when a CRLF comes right
    before it, else a line that only ends in a period, and the search goes on. Nothing
    past the terminator is consumed, so commands a client pipelines after it (RFC 2920)
    stay in the stream for aiosmtpd. A line longer than the stream's buffer limit
    comes in pieces (``LimitOverrunError``), each taken as it is.
    """
    parts: list[bytes] = []
    size = 0
    tail = b"\r\n"  # the last two octets read; DATA starts as if after a CRLF
    meter = _LineMeter(max_line)
    error: type[Exception] | None = None
    while True:
        try:
            chunk = await reader.readuntil(b".\r\n")
            before = chunk[-5:-3] if len(chunk) >= 5 else (tail + chunk[:-3])[-2:]
            ended = before == b"\r\n"
        except asyncio.LimitOverrunError as exc:
            chunk = await reader.read(exc.consumed)
            ended = False
        if not chunk:  # end of stream: only reachable through a peer closing early
            raise asyncio.IncompleteReadError(b"", None)
        if ended:
            chunk = chunk[:-3]
        size += len(chunk)
        if error is None:
            if max_size and size > max_size:
                error = DataTooLarge
            elif meter.is_too_long(chunk):
                error = DataLineTooLong
            if error is not None:
                parts.clear()  # drop what was kept at once
        if error is None:
            parts.append(chunk)
        if ended:
            break
        tail = chunk[-2:] if len(chunk) >= 2 else (tail + chunk)[-2:]
    if error is not None:
        raise error()
    content = b"".join(parts)
    # RFC 5321 §4.5.2: drop the first "." of every line that starts with one; the
    # first line starts the data, every other one follows a CRLF.
    if content.startswith(b"."):
        content = content[1:]
    return content.replace(b"\r\n.", b"\r\n")


class LongLineSMTP(SMTP):
    """aiosmtpd's server with a longer line limit (a class attribute it reads in
    ``__init__`` for its stream buffer) and a DATA reader that takes blocks rather
    than lines (``read_data``). Also what a test or demo next hop should be: Postfix
    takes such lines too.

    Only ``smtp_DATA`` is replaced; its checks and replies are aiosmtpd's (1.4.6),
    and every other command stays aiosmtpd's own.
    """

    line_length_limit = MAX_LINE

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's address parser for MAIL and RCPT, less the ``typing.Protocol``
        class it defines on every call (a tenth of a millisecond each time)."""
        if not arg:
            return "", ""
        try:
            parse = get_angle_addr if arg.lstrip().startswith("<") else get_addr_spec
            address, rest = parse(arg)
        except HeaderParseError:
            return None, None
        addr: str = address.addr_spec
        localpart = addr.rpartition("@")[0]
        if self.local_part_limit and len(localpart) > self.local_part_limit:
            return None, None
        return addr, rest

    def _end_transaction(self) -> None:
        self._set_post_data_state()  # type: ignore[no-untyped-call]  # aiosmtpd's own reset

    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            content = await read_data(self._reader, self.data_size_limit, self.line_length_limit)
        except DataTooLarge:
            await self.push("552 Error: Too much mail data")
            self._end_transaction()
            return
        except DataLineTooLong:
            await self.push("500 Line too long (see RFC5321 4.5.3.1.6)")
            self._end_transaction()
            return
        except (asyncio.CancelledError, asyncio.IncompleteReadError):
            # The client went away mid-DATA: nothing was accepted, nothing is answered.
            self._writer.close()
            raise
        self.envelope.original_content = content
        if self._decode_data:
            try:
                self.envelope.content = content.decode(
                    "utf-8" if self.enable_SMTPUTF8 else "ascii",
                    "surrogateescape" if self.enable_SMTPUTF8 else "strict",
                )
            except UnicodeDecodeError:
                await self.push("500 Error: strict ASCII mode")
                return
        else:
            self.envelope.content = content
        status: Any = "250 OK"
        if "DATA" in self._handle_hooks:
            status = await self._call_handler_hook("DATA")
        self._end_transaction()
        await self.push(status)


class _Handler:
    """aiosmtpd's hooks, turned into calls of the sink."""

    def __init__(self, source: SmtpSource) -> None:
        self._source = source

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if len(envelope.rcpt_tos) >= self._source.max_recipients:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = InboundMessage(
            mail_from=str(envelope.mail_from or ""),
            rcpt_to=tuple(envelope.rcpt_tos),
            data=bytes(content),
            peer=_peer(session),
            helo=str(session.host_name or ""),
            tls=session.ssl is not None,
        )
        return await self._source.deliver(message)


class SmtpSource:
    """An SMTP server on ``host:port`` feeding ``sink``."""

    def __init__(
        self,
        sink: MessageSink,
        host: str,
        port: int,
        *,
        hostname: str | None = None,
        tls_context: ssl.SSLContext | None = None,
        require_tls: bool = False,
        max_size: int = 25 << 20,
        max_recipients: int = 100,
        timeout: float = 300.0,
    ) -> None:
        self._sink = sink
        self.host, self.port = host, port
        self.hostname = hostname or socket.getfqdn()
        self.tls_context = tls_context
        self.require_tls = require_tls
        self.max_size = max_size
        self.max_recipients = max_recipients
        self.timeout = timeout
        self._server: asyncio.Server | None = None
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()
        self._in_flight = 0
        self._drained = asyncio.Event()
        self._drained.set()

    @staticmethod
    def tls_context_from(cert: str, key: str) -> ssl.SSLContext:
        """A server context for STARTTLS from PEM files; TLS 1.2 at least."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert, key)
        return context

    def _protocol(self) -> SMTP:
        smtp = LongLineSMTP(
            _Handler(self),
            data_size_limit=self.max_size,
            enable_SMTPUTF8=True,  # RFC 6531: international addresses pass through
            decode_data=False,
            hostname=self.hostname,
            ident="Floodwall ESMTP",
            tls_context=self.tls_context,
            require_starttls=self.require_tls,
            timeout=self.timeout,
            loop=asyncio.get_running_loop(),
        )
        self._sessions.add(smtp)
        return smtp

    async def start(self) -> None:
        """Listen; ``port`` 0 picks a free port, read back from ``self.port``."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol, self.host, self.port, reuse_address=True
        )
        sockets = self._server.sockets
        if sockets:
            self.port = int(sockets[0].getsockname()[1])

    async def deliver(self, message: InboundMessage) -> str:
        """The reply line to one DATA: the sink's, or 451 when the sink fails."""
        self._in_flight += 1
        self._drained.clear()
        try:
            reply = await self._sink(message)
        except Exception:
            log.exception("handling a message from %s failed", message.peer)
            reply = Reply(451, "4.3.0 Local error; try again later")
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._drained.set()
        return reply.line()

    async def stop(self, grace: float = 60.0) -> None:
        """Stop listening, wait for messages being handled, then close every session
        with ``421`` (RFC 5321 §3.8: the server is shutting down)."""
        if self._server is not None:
            self._server.close()
        try:
            await asyncio.wait_for(self._drained.wait(), grace)
        except TimeoutError:
            log.warning("%d message(s) still being handled at shutdown", self._in_flight)
        for smtp in list(self._sessions):
            transport: Any = smtp.transport
            if transport is not None and not transport.is_closing():
                transport.write(b"421 4.3.2 Service shutting down\r\n")
                transport.close()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
