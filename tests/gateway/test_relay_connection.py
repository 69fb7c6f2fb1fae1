"""The gateway's kept connection to the next hop (``relay.RelayConnection``), against a
real aiosmtpd next hop on loopback: reused while fit, replaced when the next hop hung
up or failed, never at the cost of a message."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from gw_util import InProcessGateway, Sink, SinkHandler, _BoundController, ham, send

from floodwall.respond.relay import RelayConnection, RelayTemporaryError

pytestmark = pytest.mark.timeout(120)


@dataclass
class CountingHandler(SinkHandler):
    """A sink that also counts its SMTP sessions (one EHLO each)."""

    sessions: int = 0

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.sessions += 1
        session.host_name = hostname
        return responses


@pytest.fixture
def sink() -> Iterator[Sink]:
    s = Sink(CountingHandler()).start()
    yield s
    s.close()


def sessions(sink: Sink) -> int:
    handler = sink.handler
    assert isinstance(handler, CountingHandler)
    return handler.sessions


def test_one_connection_carries_many_messages(sink: Sink) -> None:
    relay = RelayConnection(sink.host, sink.port, helo="gw.test")
    try:
        for i in range(5):
            result = relay.send("a@example.org", ["b@example.net"], ham(f"m{i}"))
            assert result.code == 250
    finally:
        relay.close()
    assert [g.token for g in sink.received] == [f"m{i}" for i in range(5)]
    assert (relay.opened, sessions(sink)) == (1, 1)


def test_a_stale_connection_is_replaced(sink: Sink) -> None:
    relay = RelayConnection(sink.host, sink.port, helo="gw.test", max_idle=0.0)
    try:
        relay.send("a@example.org", ["b@example.net"], ham("one"))
        relay.send("a@example.org", ["b@example.net"], ham("two"))
    finally:
        relay.close()
    assert relay.opened == 2
    assert [g.token for g in sink.received] == ["one", "two"]


def test_next_hop_hanging_up_between_messages_costs_nothing() -> None:
    handler = CountingHandler()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    port = int(sock.getsockname()[1])
    # aiosmtpd closes a connection idle for ``timeout`` seconds, without a word.
    controller = _BoundController(handler, sock, enable_SMTPUTF8=True, timeout=0.3)
    controller.start()
    relay = RelayConnection("127.0.0.1", port, helo="gw.test")
    try:
        relay.send("a@example.org", ["b@example.net"], ham("before"))
        time.sleep(1.0)  # the next hop hangs up meanwhile
        relay.send("a@example.org", ["b@example.net"], ham("after"))
    finally:
        relay.close()
        controller.stop()
        sock.close()
    assert relay.opened == 2
    assert [g.token for g in handler.received] == ["before", "after"]


def test_a_failure_closes_the_connection(sink: Sink) -> None:
    relay = RelayConnection(sink.host, sink.port, helo="gw.test")
    try:
        relay.send("a@example.org", ["b@example.net"], ham("ok"))
        sink.handler.data_reply = "451 4.3.0 try later"
        with pytest.raises(RelayTemporaryError):
            relay.send("a@example.org", ["b@example.net"], ham("deferred"))
        sink.handler.data_reply = "250 2.0.0 Ok: queued"
        relay.send("a@example.org", ["b@example.net"], ham("again"))
    finally:
        relay.close()
    assert relay.opened == 2
    assert [g.token for g in sink.received] == ["ok", "again"]


def test_gateway_reuses_its_connections(tmp_path: Path, sink: Sink) -> None:
    with InProcessGateway(tmp_path / "data", sink.port) as gw:
        for i in range(12):
            assert send(gw.port, ham(f"g{i}"))[0] == 250
            gw.wait_idle()
    assert sorted(g.token for g in sink.received) == sorted(f"g{i}" for i in range(12))
    assert sessions(sink) < 12


@pytest.mark.parametrize(
    ("data", "arrives"),
    [
        (b".lead\r\n..two\r\nmid\r\n.\r\nend", b".lead\r\n..two\r\nmid\r\n.\r\nend\r\n"),
        (b"bare\nLF\n.dot\n", b"bare\r\nLF\r\n.dot\r\n"),  # RFC 5321 §2.3.8: CRLF only
        (b"8-bit \xff\xfe\r\n\r\n", b"8-bit \xff\xfe\r\n\r\n"),
    ],
)
def test_data_arrives_as_sent_with_crlf_line_ends(sink: Sink, data: bytes, arrives: bytes) -> None:
    relay = RelayConnection(sink.host, sink.port, helo="gw.test")
    try:
        relay.send("a@example.org", ["b@example.net"], data)
    finally:
        relay.close()
    assert [g.data for g in sink.received] == [arrives]
