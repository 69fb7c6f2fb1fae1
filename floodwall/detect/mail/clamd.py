"""A thin client for clamd, ClamAV's daemon, speaking its socket protocol (clamd(8)).

Only two commands are used, both in their ``z`` form (the command and every reply end
with a NUL byte, clamd(8) "COMMANDS"): ``PING``, answered ``PONG``, and ``INSTREAM``,
which scans bytes sent on the same connection. No ClamAV library is linked: the daemon
is the user's own, optional, and found once at start-up by :meth:`ClamdClient.find`.

The rest of Floodwall sees only :class:`ClamdClient`, :class:`ClamResult` and
:class:`ClamdError`.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

# Where Debian's clamav-daemon listens (LocalSocket), then clamd's usual TCP port.
DEFAULT_CANDIDATES = ("/var/run/clamav/clamd.ctl", "/run/clamav/clamd.ctl", "127.0.0.1:3310")
CONNECT_TIMEOUT = 2.0
# The whole exchange after connecting (sending the stream and waiting for the verdict).
READ_TIMEOUT = 30.0
# clamd(8) INSTREAM: each chunk is "<length><data>", the length a 4-byte unsigned
# integer in network byte order; a zero-length chunk ends the stream.
CHUNK = 64 * 1024
_LENGTH = struct.Struct(">I")
# A reply is one short line ("stream: <signature> FOUND"); more is not clamd.
MAX_REPLY = 4096

Status = Literal["clean", "found", "error"]


class ClamdError(RuntimeError):
    """clamd could not be reached, timed out or broke the protocol: nothing was scanned.

    Raised out of a detector, it makes the message unscannable instead of clean.
    """


@dataclass(frozen=True, slots=True)
class ClamResult:
    """clamd's verdict on one stream.

    ``status`` is ``clean`` ("stream: OK"), ``found`` ("stream: <signature> FOUND",
    ``signature`` set) or ``error`` (clamd answered "... ERROR", e.g. "INSTREAM size
    limit exceeded", or the data was over ``max_stream``); ``detail`` is clamd's reply.
    """

    status: Status
    signature: str = ""
    detail: str = ""


class ClamdClient:
    """One clamd, at a UNIX socket path (anything with a ``/``) or ``host:port``.

    Each call opens its own connection, so one client may be shared between threads.
    ``max_stream`` mirrors the daemon's ``StreamMaxLength`` (clamd.conf(5), 25 MB by
    default) when known: longer data is refused here instead of being cut off by clamd.
    """

    def __init__(
        self,
        address: str,
        *,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        max_stream: int | None = None,
    ) -> None:
        self.address = address
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_stream = max_stream

    def __repr__(self) -> str:
        return f"ClamdClient({self.address!r})"

    @classmethod
    def find(
        cls,
        candidates: Iterable[str] = DEFAULT_CANDIDATES,
        *,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        max_stream: int | None = None,
    ) -> ClamdClient | None:
        """The first candidate that answers PING with PONG, or None when none does.

        Each PING waits at most ``connect_timeout`` for its answer too, so a stalled
        candidate costs start-up seconds, not ``read_timeout``.
        """
        for address in candidates:
            try:
                cls(address, connect_timeout=connect_timeout, read_timeout=connect_timeout).ping()
            except ClamdError:
                continue
            return cls(
                address,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                max_stream=max_stream,
            )
        return None

    def ping(self) -> None:
        """Check that clamd answers (clamd(8) PING, reply "PONG"); raises ClamdError."""
        reply = self._exchange(b"zPING\0", b"")
        if reply != "PONG":
            raise ClamdError(f"clamd at {self.address} answered PING with {reply!r}")

    def scan(self, data: bytes) -> ClamResult:
        """clamd's verdict on ``data`` (clamd(8) INSTREAM).

        Raises :class:`ClamdError` when clamd cannot be reached, closes the connection
        without a verdict, answers something that is not a verdict, or takes longer than
        ``read_timeout``.
        """
        if self.max_stream is not None and len(data) > self.max_stream:
            return ClamResult(
                "error", detail=f"{len(data)} bytes is over the stream limit {self.max_stream}"
            )
        return _parse_scan_reply(self.address, self._exchange(b"zINSTREAM\0", data))

    def _exchange(self, command: bytes, data: bytes) -> str:
        """Send ``command`` (then ``data`` as chunks for INSTREAM) and read one reply."""
        try:
            sock = self._connect()
        except OSError as exc:
            raise ClamdError(f"cannot connect to clamd at {self.address}: {exc}") from exc
        deadline = time.monotonic() + self.read_timeout
        with sock:
            try:
                sock.settimeout(_remaining(deadline, self.address))
                sock.sendall(command)
                if command == b"zINSTREAM\0":
                    _send_stream(sock, data, deadline, self.address)
            except (BrokenPipeError, ConnectionResetError):
                # clamd(8): past StreamMaxLength clamd replies "INSTREAM size limit
                # exceeded" and closes the connection, so the reply may already wait.
                pass
            except TimeoutError as exc:
                raise ClamdError(f"clamd at {self.address} stopped reading: {exc}") from exc
            except OSError as exc:
                raise ClamdError(f"sending to clamd at {self.address} failed: {exc}") from exc
            return _read_reply(sock, deadline, self.address)

    def _connect(self) -> socket.socket:
        if "/" in self.address:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.connect_timeout)
            try:
                sock.connect(self.address)
            except BaseException:
                sock.close()
                raise
            return sock
        host, sep, port = self.address.rpartition(":")
        if not sep or not port.isdigit():
            raise OSError(f"not a socket path or host:port: {self.address!r}")
        return socket.create_connection((host.strip("[]"), int(port)), timeout=self.connect_timeout)


def _remaining(deadline: float, address: str) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise ClamdError(f"clamd at {address} timed out")
    return left


def _send_stream(sock: socket.socket, data: bytes, deadline: float, address: str) -> None:
    """clamd(8) INSTREAM: length-prefixed chunks, then a zero-length chunk."""
    view = memoryview(data)
    for start in range(0, len(view), CHUNK):
        piece = view[start : start + CHUNK]
        sock.settimeout(_remaining(deadline, address))
        sock.sendall(_LENGTH.pack(len(piece)))
        sock.sendall(piece)
    sock.settimeout(_remaining(deadline, address))
    sock.sendall(_LENGTH.pack(0))


def _read_reply(sock: socket.socket, deadline: float, address: str) -> str:
    """One NUL-terminated reply (``z`` commands, clamd(8)); EOF also ends it."""
    buf = bytearray()
    while b"\0" not in buf:
        if len(buf) > MAX_REPLY:
            raise ClamdError(f"clamd at {address} sent an over-long reply")
        try:
            sock.settimeout(_remaining(deadline, address))
            got = sock.recv(MAX_REPLY)
        except TimeoutError as exc:
            raise ClamdError(f"clamd at {address} did not answer in time") from exc
        except OSError as exc:
            raise ClamdError(f"reading from clamd at {address} failed: {exc}") from exc
        if not got:
            break
        buf += got
    reply = bytes(buf).split(b"\0", 1)[0].decode("utf-8", "replace").strip()
    if not reply:
        raise ClamdError(f"clamd at {address} closed the connection without a reply")
    return reply


def _parse_scan_reply(address: str, reply: str) -> ClamResult:
    """clamd(8) INSTREAM replies: "stream: OK", "stream: <sig> FOUND", "... ERROR"."""
    if reply.endswith(" ERROR"):
        return ClamResult("error", detail=reply)
    name, sep, verdict = reply.partition(": ")
    if sep and name == "stream":
        if verdict == "OK":
            return ClamResult("clean", detail=reply)
        if verdict.endswith(" FOUND") and verdict[: -len(" FOUND")].strip():
            return ClamResult("found", signature=verdict[: -len(" FOUND")].strip(), detail=reply)
    raise ClamdError(f"clamd at {address} sent an unexpected reply: {reply[:200]!r}")
