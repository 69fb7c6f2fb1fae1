"""DATA over real loopback SMTP: ``SmtpSource`` with its block-wise reader, byte by byte.

A raw client (asyncio streams) sends exactly the octets each test names, so the size
limit can be hit to the octet and a client can vanish mid-DATA. The last tests run the
whole gateway: a cut DATA leaves nothing in the spool and nothing counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP
from gw_util import InProcessGateway, Sink, SinkHandler, ham, send

from floodwall.ingest.smtp_source import (
    MAX_LINE,
    InboundMessage,
    LongLineSMTP,
    Reply,
    SmtpSource,
)

pytestmark = pytest.mark.timeout(120)


class Client:
    """An SMTP client that sends what it is told, no more (no dot-stuffing, no CRLF fix)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def reply(self) -> int:
        while True:
            line = await asyncio.wait_for(self.reader.readline(), 30)
            if not line:
                return 0  # the server closed the connection
            if line[3:4] != b"-":
                return int(line[:3])

    async def cmd(self, line: bytes) -> int:
        self.writer.write(line + b"\r\n")
        return await self.reply()

    async def envelope(self) -> None:
        assert await self.cmd(b"MAIL FROM:<a@example.org>") == 250
        assert await self.cmd(b"RCPT TO:<b@example.net>") == 250
        assert await self.cmd(b"DATA") == 354

    async def data(self, wire: bytes) -> int:
        """A whole transaction; ``wire`` is sent as is and must end with CRLF.CRLF."""
        await self.envelope()
        self.writer.write(wire)
        return await self.reply()


@asynccontextmanager
async def serving(
    max_size: int = 1 << 20, timeout: float = 30.0
) -> AsyncIterator[tuple[list[InboundMessage], Callable[[], Awaitable[Client]]]]:
    got: list[InboundMessage] = []

    async def sink(msg: InboundMessage) -> Reply:
        got.append(msg)
        return Reply(250, "2.0.0 OK")

    source = SmtpSource(sink, "127.0.0.1", 0, hostname="t.test", max_size=max_size,
                        timeout=timeout)  # fmt: skip
    await source.start()
    clients: list[Client] = []

    async def connect() -> Client:
        client = Client(*await asyncio.open_connection("127.0.0.1", source.port))
        clients.append(client)
        assert await client.reply() == 220
        assert await client.cmd(b"EHLO client.test") == 250
        return client

    try:
        yield got, connect
    finally:
        for client in clients:
            client.writer.close()
            with contextlib.suppress(OSError):
                await client.writer.wait_closed()
        await source.stop(5.0)


def stuffed(content: bytes) -> bytes:
    lines = content.split(b"\r\n")
    return b"\r\n".join(b"." + x if x.startswith(b".") else x for x in lines) + b".\r\n"


CONTENT = (
    b"From: a@example.org\r\nSubject: dots\r\n\r\n.\r\n..\r\n.hidden\r\nend.\r\n"
    b"bare\nLF\n.\nstill one line\r\n8-bit \xff\xfe\xc3\x28\xed\xa0\x80\x00\r\n"
)


def test_dot_stuffing_8bit_and_bare_lf_arrive_byte_exact() -> None:
    async def run() -> None:
        async with serving() as (got, connect):
            client = await connect()
            assert await client.data(stuffed(CONTENT)) == 250
            # Pipelined after the final dot (RFC 2920): left for the next command.
            client.writer.write(b"MAIL FROM:<c@example.org>\r\nRSET\r\n")
            assert await client.reply() == 250
            assert await client.reply() == 250
            assert await client.data(b".\r\n") == 250  # an empty message
        assert [m.data for m in got] == [CONTENT, b""]

    asyncio.run(run())


def test_size_limit_to_the_octet() -> None:
    content = b"Subject: size\r\n\r\n" + b"x" * 200 + b"\r\n"
    limit = len(content)

    async def run() -> None:
        async with serving(max_size=limit) as (got, connect):
            client = await connect()
            assert await client.data(content + b".\r\n") == 250
            assert await client.data(b"y" + content + b".\r\n") == 552
            # The session goes on after the 552.
            assert await client.data(content + b".\r\n") == 250
        assert [m.data for m in got] == [content, content]

    asyncio.run(run())


def test_line_limit_to_the_octet() -> None:
    ok = b"x" * (MAX_LINE - 2) + b"\r\n"

    async def run() -> None:
        async with serving(max_size=8 << 20) as (got, connect):
            client = await connect()
            assert await client.data(b"Subject: l\r\n\r\n" + ok + b".\r\n") == 250
            assert await client.data(b"Subject: l\r\n\r\nx" + ok + b".\r\n") == 500
            assert await client.data(b"Subject: after\r\n\r\n.\r\n") == 250
        assert [len(m.data) for m in got] == [14 + MAX_LINE, 18]

    asyncio.run(run())


def test_client_gone_mid_data_delivers_nothing() -> None:
    async def run() -> None:
        async with serving() as (got, connect):
            client = await connect()
            await client.envelope()
            client.writer.write(b"Subject: cut\r\n\r\nhalf of it\r\n")
            await client.writer.drain()
            client.writer.close()
            await asyncio.sleep(0.3)
            other = await connect()  # the server is fine
            assert await other.data(b"Subject: next\r\n\r\n.\r\n") == 250
        assert [m.data for m in got] == [b"Subject: next\r\n\r\n"]

    asyncio.run(run())


def test_data_that_never_ends_times_out() -> None:
    async def run() -> None:
        async with serving(timeout=1.0) as (got, connect):
            client = await connect()
            await client.envelope()
            client.writer.write(b"Subject: slow\r\n\r\nand then nothing")
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            # The server closes the connection (RFC 5321 §4.5.3.2.7): EOF, no reply.
            assert await asyncio.wait_for(client.reader.read(), 10) == b""
            assert loop.time() - t0 < 5
        assert got == []

    asyncio.run(run())


# -- through the whole gateway ---------------------------------------------------------


def test_gateway_cut_data_spools_and_counts_nothing(tmp_path: Path) -> None:
    sink = Sink().start()
    try:
        with InProcessGateway(tmp_path / "data", sink.port) as gw:

            async def cut() -> None:
                reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
                client = Client(reader, writer)
                assert await client.reply() == 220
                assert await client.cmd(b"EHLO client.test") == 250
                await client.envelope()
                writer.write(ham("cut")[:40])
                await writer.drain()
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()

            asyncio.run(cut())
            assert send(gw.port, ham("whole"))[0] == 250
            gw.wait_idle()
        assert [g.token for g in sink.received] == ["whole"]
        spool = tmp_path / "data" / "spool"
        assert [p for p in spool.rglob("*") if p.is_file() and p.name != "lock"] == []
        conn = sqlite3.connect(tmp_path / "data" / "floodwall.db")
        try:
            assert conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 1
        finally:
            conn.close()
    finally:
        sink.close()


def test_gateway_relays_stuffed_and_8bit_lines_byte_exact(tmp_path: Path) -> None:
    sink = Sink().start()
    try:
        with InProcessGateway(tmp_path / "data", sink.port) as gw:
            original = ham("dots", body=".\r\n..\r\n.x\r\nend.\r\n\xe9t\xe9".replace("\xe9", "e"))
            original = original.replace(b"ete", b"\xe9t\xe9\xff")
            assert send(gw.port, original)[0] == 250
            gw.wait_idle()
        (got,) = sink.received
        assert got.data.endswith(original)
    finally:
        sink.close()


ADDRESSES = [
    "<a@example.org>", "<>", "a@example.org", "<\"quoted local\"@example.org>",
    "<a@[127.0.0.1]>", "<<bad@example.org>", "<a@>", "", "<" + "l" * 65 + "@example.org>",
    "<a@example.org> SIZE=100", "<\u00e9@example.org> SMTPUTF8", "<a@example.org",
]  # fmt: skip


def test_mail_and_rcpt_addresses_parse_as_aiosmtpd_does() -> None:
    """``LongLineSMTP._getaddr`` replaces aiosmtpd's; every reply must stay the same."""

    async def replies(factory: type[SMTP]) -> list[int]:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: factory(SinkHandler(), enable_SMTPUTF8=True, loop=loop), "127.0.0.1", 0
        )
        port = server.sockets[0].getsockname()[1]
        codes: list[int] = []
        try:
            client = Client(*await asyncio.open_connection("127.0.0.1", port))
            await client.reply()
            await client.cmd(b"EHLO client.test")
            for address in ADDRESSES:
                codes.append(await client.cmd(f"MAIL FROM:{address}".encode()))
                codes.append(await client.cmd(f"RCPT TO:{address}".encode()))
                codes.append(await client.cmd(b"RSET"))
            client.writer.close()
            with contextlib.suppress(OSError):
                await client.writer.wait_closed()
        finally:
            server.close()
            await server.wait_closed()
        return codes

    async def run() -> tuple[list[int], list[int]]:
        return await replies(SMTP), await replies(LongLineSMTP)

    stock, ours = asyncio.run(run())
    assert ours == stock, stock
    assert {250, 553, 501} <= set(stock), stock  # some taken, some refused
