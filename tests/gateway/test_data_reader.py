"""The block-wise DATA reader (``smtp_source.read_data``) on a real asyncio stream.

Every test feeds the wire bytes to a ``StreamReader`` in pieces while the reader waits,
so the terminator, a CRLF, or a stuffed dot can fall across any two reads, and a small
stream limit makes the long-line path (``LimitOverrunError``) run on small messages.
The reference is RFC 5321 §4.5.2 applied line by line, as aiosmtpd did it.
"""

from __future__ import annotations

import asyncio
import itertools
import random

import pytest

from floodwall.ingest.smtp_source import DataLineTooLong, DataTooLarge, read_data

pytestmark = pytest.mark.timeout(120)


def wire(content: bytes) -> bytes:
    """The wire form of ``content`` (CRLF-ended lines): dot-stuffed, then ".CRLF".
    Lines end only at CRLF (a bare LF does not start one), so no regex ``^``."""
    lines = content.split(b"\r\n")
    return b"\r\n".join(b"." + line if line.startswith(b".") else line for line in lines) + (
        b".\r\n"
    )


async def _read(
    pieces: list[bytes],
    *,
    limit: int = 1 << 16,
    max_size: int | None = None,
    max_line: int = 1 << 20,
    after: bytes = b"",
) -> tuple[bytes | Exception, bytes]:
    """Feed ``pieces`` one loop turn apart; return what ``read_data`` gave (or raised)
    and the next line left in the stream (what a pipelining client sent after)."""
    reader = asyncio.StreamReader(limit=limit)
    task = asyncio.ensure_future(read_data(reader, max_size, max_line))
    for piece in [*pieces, after]:
        await asyncio.sleep(0)
        reader.feed_data(piece)
    reader.feed_eof()
    try:
        got: bytes | Exception = await asyncio.wait_for(task, 10)
    except (DataTooLarge, DataLineTooLong) as exc:
        got = exc
    rest = await reader.read()
    return got, rest


def read(data: bytes, **kwargs: object) -> tuple[bytes | Exception, bytes]:
    return asyncio.run(_read([data], **kwargs))  # type: ignore[arg-type]


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    edges = [0, *sorted(cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


DOTS = b".\r\n..\r\n...\r\n.x\r\nx.\r\nend.\r\n. \r\n\r\n.\r\n"  # lone dots, leading and trailing


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\r\n",
        b"x\r\n",
        b".\r\n",
        DOTS,
        b"From: a@example.org\r\n\r\nline one.\r\nline two.\r\n",
        b"bare LF\nin a line\n.\nnot an end\r\n",  # \n.\n and \n.\r\n end nothing
        b"bare CR\r.\r\nlast\r\r\n",
        bytes(range(256)) + b"\r\n" + b"\xff\xfe\xc3\x28\xed\xa0\x80\r\n",  # 8-bit, bad UTF-8
    ],
)
def test_dot_stuffing_round_trips_byte_exact(content: bytes) -> None:
    data = wire(content)
    got, rest = read(data, after=b"QUIT\r\n")
    assert got == content
    assert rest == b"QUIT\r\n"  # nothing past the terminator was taken


def test_terminator_and_stuffed_dots_cut_at_every_position() -> None:
    content = b"a\r\n.\r\n..b\r\nc.\r\n\r\n"
    data = wire(content)
    for i in range(len(data) + 1):
        for j in range(i, len(data) + 1):
            got, rest = asyncio.run(_read(split_at(data, [i, j]), limit=4, after=b"NOOP\r\n"))
            assert (got, rest) == (content, b"NOOP\r\n"), (i, j)


def test_random_messages_match_the_line_by_line_reference() -> None:
    rng = random.Random(5321)
    alphabet = [b"a", b".", b"\r", b"\n", b"\r\n", b"\xff"]
    for _ in range(400):
        lines = [
            b"".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
            for _ in range(rng.randrange(0, 8))
        ]
        content = b"".join(line.replace(b"\r\n", b"") + b"\r\n" for line in lines)
        data = wire(content)
        stuffed = data[:-3]
        max_size = rng.choice([None, len(stuffed), max(0, len(stuffed) - 1), 10_000])
        max_line = rng.choice([1 << 20, 4, 8, 16])
        longest = max((len(x) + 2 for x in stuffed.split(b"\r\n")[:-1]), default=0)
        expected: set[type[Exception]] = set()
        if max_size and len(stuffed) > max_size:
            expected.add(DataTooLarge)
        if longest > max_line:
            expected.add(DataLineTooLong)
        cuts = [rng.randrange(len(data) + 1) for _ in range(rng.randrange(0, 5))]
        got, rest = asyncio.run(
            _read(
                split_at(data, cuts),
                limit=rng.choice([3, 5, 64]),
                max_size=max_size,
                max_line=max_line,
                after=b"RSET\r\n",
            )
        )
        assert rest == b"RSET\r\n", (data, cuts)
        if expected:
            assert type(got) in expected, (data, max_size, max_line, got)
        else:
            assert got == content, (data, cuts)


def test_size_limit_exact_passes_one_octet_more_does_not() -> None:
    content = b"Subject: x\r\n\r\n" + b"y" * 100 + b"\r\n"
    size = len(wire(content)) - 3
    assert read(wire(content), max_size=size)[0] == content
    got, rest = read(wire(content), max_size=size - 1, after=b"MAIL FROM:<a@b>\r\n")
    assert isinstance(got, DataTooLarge)
    assert rest == b"MAIL FROM:<a@b>\r\n"  # read to its end: the session can go on


def test_size_counts_octets_as_sent_dot_stuffing_included() -> None:
    content = b".\r\n" * 10  # 30 octets, 40 on the wire
    assert read(wire(content), max_size=40)[0] == content
    assert isinstance(read(wire(content), max_size=39)[0], DataTooLarge)


def test_line_limit_exact_passes_one_octet_more_does_not() -> None:
    # The limit counts the CRLF (RFC 5321 §4.5.3.1.6 counts it in its 1000 octets).
    for limit in (3, 8):  # a stream limit below and above the line length
        ok = b"x" * 8 + b"\r\n"
        assert read(wire(ok * 3), max_line=10, limit=limit)[0] == ok * 3
        long = b"x" * 9 + b"\r\n"
        assert isinstance(read(wire(ok + long + ok), max_line=10, limit=limit)[0], DataLineTooLong)


def test_crlf_cut_between_reads_ends_the_line() -> None:
    line = b"x" * 8 + b"\r\n"  # exactly the limit
    data = wire(line * 4)
    for cut in range(len(data) + 1):
        got, _ = asyncio.run(_read(split_at(data, [cut]), limit=3, max_line=10))
        assert got == line * 4, cut


def test_huge_data_past_the_limit_keeps_nothing() -> None:
    piece = b"z" * 65_536 + b"\r\n"

    async def run() -> tuple[bytes | Exception, bytes]:
        pieces = [piece] * 512  # 32 MiB through a 1 MiB limit
        return await _read([*pieces, b".\r\n"], max_size=1 << 20, after=b"QUIT\r\n")

    got, rest = asyncio.run(run())
    assert isinstance(got, DataTooLarge)
    assert rest == b"QUIT\r\n"


def test_peer_closing_mid_data_raises() -> None:
    async def run() -> None:
        reader = asyncio.StreamReader(limit=64)
        task = asyncio.ensure_future(read_data(reader, None, 1 << 20))
        reader.feed_data(b"Subject: cut\r\n\r\nhalf a bo")
        await asyncio.sleep(0)
        reader.feed_eof()
        with pytest.raises(asyncio.IncompleteReadError):
            await asyncio.wait_for(task, 5)

    asyncio.run(run())


def test_very_long_line_in_pieces_is_byte_exact() -> None:
    line = bytes(range(256)).replace(b"\r", b"").replace(b"\n", b"") * 4000 + b"\r\n"  # 1 MB
    content = b"Subject: long\r\n\r\n" + line + b".dot\r\n"
    got, _ = asyncio.run(_read(split_at(wire(content), [7, 5000, 500_000]), limit=1 << 16))
    assert got == content
