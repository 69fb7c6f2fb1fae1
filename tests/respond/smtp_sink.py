"""A real SMTP server on loopback for tests: aiosmtpd in a thread, with scripted replies.

It listens on a socket bound before the server starts (port 0), so parallel test runs
never race for a port. Every message it accepts is kept, byte for byte, in
``handler.received``.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True)
class Delivery:
    """One message the sink accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes


@dataclass
class SinkHandler:
    """Replies as scripted: ``rcpt_replies[address]`` refuses that recipient,
    ``mail_reply`` / ``data_reply`` replace the sender's and DATA's replies."""

    rcpt_replies: dict[str, str] = field(default_factory=dict)
    mail_reply: str | None = None
    data_reply: str = "250 2.0.0 Ok: queued as SINK1"
    received: list[Delivery] = field(default_factory=list)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.mail_reply is not None:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.rcpt_replies.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply.startswith("250"):
            assert envelope.original_content is not None
            self.received.append(
                Delivery(
                    str(envelope.mail_from), tuple(envelope.rcpt_tos), envelope.original_content
                )
            )
        return self.data_reply


class _BoundController(Controller):
    """A Controller serving on an already bound socket (no port race)."""

    def __init__(self, handler: Any, sock: socket.socket, **kwargs: Any) -> None:
        self._sock = sock
        host, port = sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, **kwargs)

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)


@contextmanager
def smtp_sink(
    handler: SinkHandler | None = None,
    *,
    tls_context: ssl.SSLContext | None = None,
    smtputf8: bool = True,
) -> Iterator[tuple[SinkHandler, str, int]]:
    """Run a sink on 127.0.0.1; yields (handler, host, port) and stops it afterwards."""
    handler = handler or SinkHandler()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    controller = _BoundController(handler, sock, tls_context=tls_context, enable_SMTPUTF8=smtputf8)
    controller.start()
    try:
        yield handler, "127.0.0.1", controller.port
    finally:
        controller.stop()
        sock.close()
