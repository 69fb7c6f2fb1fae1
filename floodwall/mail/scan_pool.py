"""Scanning off the event loop: worker processes that each build the detectors once.

Parsing and scanning are CPU-bound pure Python, so threads would share one core
under the GIL; worker processes use both cores and keep the SMTP event loop free.
Workers are started with ``spawn``: the gateway process has threads, and ``fork``
would copy their locks in whatever state they were.

A message must get a verdict whatever happens to its scan. A scan that runs past its
time is interrupted inside the worker (SIGALRM, repeating, so each remaining detector
fails fast) and the message becomes unscannable; a worker that hangs in C code or
dies (segfault, out of memory) is killed and replaced, and the message becomes
unscannable too. Unscannable mail is held by default (the policy decides).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import multiprocessing
import os
import pickle
import random
import signal
import socket
import struct
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import FrameType
from typing import Any

from floodwall.detect.mail.clamd import ClamdClient
from floodwall.detect.mail.reference import load_psl
from floodwall.enrich.mail_auth import SenderVerifier, build_verifier, session_envelope
from floodwall.ingest.mail_source import RawMail
from floodwall.mail.detectors import build_detectors
from floodwall.mail.scan import MailDetector, ScanResult, scan_message
from floodwall.normalize.mime import parse_message
from floodwall.records import MailMessage, Origin
from floodwall.respond.policy import Policy
from floodwall.settings import Settings

__all__ = ["ScanConfig", "ScanError", "ScanPool", "SmtpSession", "unscannable_result"]

#: What the SMTP session told: the client's address, MAIL FROM and HELO (RFC 5321 §2.3.1).
SmtpSession = tuple[str, str, str]

log = logging.getLogger("floodwall.gateway")


@dataclass(frozen=True)
class ScanConfig:
    """What a worker needs to build its detectors: passed in, never read from a global."""

    settings: Settings
    policy: Policy
    use_clamd: bool = True
    timeout: float = 60.0  # seconds one message may take
    use_intel: bool = True  # match messages against the imported threat intel


class ScanTimeout(Exception):
    """Raised in a worker by SIGALRM when a scan runs past its time."""


@dataclass(frozen=True)
class _WorkerState:
    detectors: list[MailDetector]
    policy: Policy
    timeout: float
    use_alarm: bool
    verifier: SenderVerifier  # SPF, DKIM, DMARC ([mail] dns)


# One per worker process, set by the pool's initializer: a process pool can hand its
# workers state only this way. The gateway process itself never reads it.
_worker: _WorkerState | None = None


def _build(config: ScanConfig, use_alarm: bool) -> _WorkerState:
    clamd = ClamdClient.find() if config.use_clamd else None
    detectors = build_detectors(config.settings, clamd)
    # Threat intel (issue 4): each worker loads the matcher once, from the compact cache.
    from floodwall.enrich.intel.inline import IntelMailDetector
    from floodwall.enrich.intel.loading import load_run_intel

    if config.use_intel and (matcher := load_run_intel(config.settings)) is not None:
        detectors.append(IntelMailDetector(matcher))
    verifier = build_verifier(config.settings.mail_dns, load_psl)
    verifier.probe()  # a resolver down from the start fails lookups at once, not by timeout
    return _WorkerState(detectors, config.policy, config.timeout, use_alarm, verifier)


def _watch_parent(parent: int) -> None:
    # A worker holds both ends of its task pipe, so it never sees EOF when the gateway
    # is killed (kill -9, OOM): it would wait for work forever. It leaves instead.
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _init_worker(config: ScanConfig) -> None:
    global _worker
    # Ctrl-C reaches the whole process group: the parent finishes in-flight work and
    # then stops the pool, so the workers must not die first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    _worker = _build(config, use_alarm=True)


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise ScanTimeout("scan took too long")


def _slim(result: ScanResult) -> ScanResult:
    """The result without attachment bytes and body text, which nothing after the scan
    reads: only this crosses back from the worker."""
    msg = result.message
    attachments = tuple(dataclasses.replace(a, data=b"") for a in msg.attachments)
    slim = dataclasses.replace(msg, attachments=attachments, text="", html="")
    return dataclasses.replace(result, message=slim)


def _scan(
    state: _WorkerState, raw: bytes, path: str, session: SmtpSession | None = None
) -> ScanResult:
    if state.use_alarm:
        signal.signal(signal.SIGALRM, _on_alarm)
        # Repeats each second after the first expiry: every detector still to run then
        # fails at once, and scan_message records each failure as unscannable.
        signal.setitimer(signal.ITIMER_REAL, state.timeout, 1.0)
    try:
        message = parse_message(RawMail(Origin(path, 1), raw))
        if session is not None:  # sender authentication, within the scan's time limit
            envelope = session_envelope(message, *session)
            auth = state.verifier.verify(raw, message, envelope)
            message = dataclasses.replace(message, sender_auth=auth)
        return _slim(scan_message(message, state.detectors, state.policy))
    except ScanTimeout:
        return unscannable_result(raw, path, state.policy, "scan took too long")
    finally:
        if state.use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)


# -- the worker's side of its socket ---------------------------------------------------
# Each frame is an 8-byte length and a pickle. Requests are (raw, path, session); replies are
# (True, ScanResult) or (False, "what went wrong"); an empty frame says "ready".
_FRAME = struct.Struct("!Q")


def _recv_exactly(sock: socket.socket, size: int) -> bytearray | None:
    buf = bytearray(size)
    view, got = memoryview(buf), 0
    while got < size:
        n = sock.recv_into(view[got:])
        if not n:
            return None  # the gateway closed its end, or died
        got += n
    return buf


def _serve(sock: socket.socket, config: ScanConfig) -> None:
    """A scan worker process: build the detectors, say "ready", then scan until EOF."""
    _init_worker(config)
    state = _worker
    assert state is not None
    sock.sendall(_FRAME.pack(0))
    while (head := _recv_exactly(sock, _FRAME.size)) is not None:
        body = _recv_exactly(sock, _FRAME.unpack(head)[0])
        if body is None:
            break
        raw, path, session = pickle.loads(body)
        reply: tuple[bool, ScanResult | str]
        try:
            reply = (True, _scan(state, raw, path, session))
        except Exception as exc:
            reply = (False, f"{type(exc).__name__}: {exc}")
        data = pickle.dumps(reply, pickle.HIGHEST_PROTOCOL)
        sock.sendall(_FRAME.pack(len(data)) + data)
    sock.close()


def unscannable_result(raw: bytes, path: str, policy: Policy, reason: str) -> ScanResult:
    """A result for a message whose scan could not finish: unscannable, held by default."""
    message = MailMessage(
        origin=Origin(path, 1),
        message_id="",
        sha256=hashlib.sha256(raw).hexdigest(),
        headers=(),
        from_addr="",
        from_name="",
        unscannable=(reason,),
    )
    return ScanResult(message, (), policy.decide([], [reason]))


class ScanError(Exception):
    """A scan raised inside its worker; the message says what (the worker is fine)."""


class _Worker:
    """One scan process and the gateway's end of its socket, on the event loop."""

    def __init__(
        self,
        proc: multiprocessing.process.BaseProcess,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        limit: int,
    ) -> None:
        self.proc, self.reader, self.writer, self.limit = proc, reader, writer, limit
        self.scans = 0

    async def frame(self) -> bytes:
        head = await self.reader.readexactly(_FRAME.size)
        return await self.reader.readexactly(_FRAME.unpack(head)[0])

    async def call(self, raw: bytes, path: str, session: SmtpSession | None) -> ScanResult:
        payload = pickle.dumps((raw, path, session), pickle.HIGHEST_PROTOCOL)
        self.writer.write(_FRAME.pack(len(payload)))
        self.writer.write(payload)
        await self.writer.drain()
        ok, value = pickle.loads(await self.frame())
        self.scans += 1
        if not ok:
            raise ScanError(str(value))
        if not isinstance(value, ScanResult):
            raise ScanError(f"worker sent a {type(value).__name__}")
        return value


class ScanPool:
    """Scans messages in ``workers`` processes (0: one thread in this process, for
    tests and small sites; no time limit is enforced then).

    Each worker is a spawned process joined to the gateway by a socket pair that the
    event loop reads, one message at a time: no executor threads in between, which
    cost the gateway a third of a millisecond per message in thread hand-offs. A
    worker is replaced after about ``recycle_after`` scans (ProcessPoolExecutor's
    ``max_tasks_per_child`` can deadlock on Python 3.11, CPython gh-115634), so what
    the detectors cache cannot grow without end; the replacement is started first and
    takes work once it has built its detectors.
    """

    def __init__(
        self,
        config: ScanConfig,
        workers: int = 1,
        *,
        recycle_after: int = 20_000,
        grace: float = 30.0,
    ) -> None:
        self.config = config
        self.workers = workers
        self.recycle_after = recycle_after
        self.grace = grace  # seconds past the scan's own time limit before a kill
        self.started = 0  # worker processes started so far (for tests and figures)
        self._local: _WorkerState | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._all: set[_Worker] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    @property
    def pids(self) -> list[int]:
        """Process ids of the worker processes now."""
        return [w.proc.pid for w in self._all if w.proc.pid is not None]

    async def start(self) -> None:
        """Start the workers and wait until each has built its detectors."""
        if self.workers <= 0:
            self._local = await asyncio.to_thread(_build, self.config, False)
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="floodwall-scan")
        else:
            for worker in await asyncio.gather(*(self._spawn() for _ in range(self.workers))):
                self._idle.put_nowait(worker)
        # One tiny scan per worker: start-up errors show now, not on the first message.
        probe = b"From: a@example.org\r\nSubject: warm-up\r\n\r\nhello\r\n"
        await asyncio.gather(*(self.scan(probe, "warm-up") for _ in range(max(1, self.workers))))

    async def _spawn(self) -> _Worker:
        parent, child = socket.socketpair()
        proc = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(child, self.config), name="floodwall-scan", daemon=True
        )
        try:
            await asyncio.to_thread(proc.start)
        finally:
            child.close()
        reader, writer = await asyncio.open_connection(sock=parent)
        # Spread the recycling so that the workers are not all replaced at once.
        limit = int(self.recycle_after * random.uniform(0.75, 1.25))
        worker = _Worker(proc, reader, writer, limit)
        self._all.add(worker)
        self.started += 1
        try:
            await worker.frame()  # "ready": the detectors are built
        except (OSError, asyncio.IncompleteReadError) as exc:
            await self._retire(worker, kill=True)
            raise RuntimeError(f"scan worker did not start (exit code {proc.exitcode})") from exc
        return worker

    async def _retire(self, worker: _Worker, *, kill: bool) -> None:
        self._all.discard(worker)
        worker.writer.close()  # EOF: an idle worker leaves on its own
        if kill:
            worker.proc.kill()
        await asyncio.to_thread(worker.proc.join, 10.0)
        if worker.proc.is_alive():
            worker.proc.kill()
            await asyncio.to_thread(worker.proc.join, 10.0)

    def _in_background(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _replace(self, worker: _Worker, *, kill: bool) -> None:
        """Retire ``worker`` and start another in its place (retrying until one starts)."""
        if not kill and not self._closing:
            # Recycling: the replacement first, so the pool keeps its size meanwhile.
            await self._add_worker()
            await self._retire(worker, kill=False)
            return
        await self._retire(worker, kill=kill)
        await self._add_worker()

    async def _add_worker(self) -> None:
        delay = 1.0
        while not self._closing:
            try:
                new = await self._spawn()
            except Exception:
                log.exception("cannot start a scan worker; trying again in %.0f s", delay)
                await asyncio.sleep(delay)
                delay = min(60.0, delay * 2)
                continue
            if self._closing:
                await self._retire(new, kill=False)
            else:
                self._idle.put_nowait(new)
            return

    async def scan(self, raw: bytes, path: str, session: SmtpSession | None = None) -> ScanResult:
        """The scan result of ``raw``; never raises for the message's sake (a scan that
        raises inside a worker raises ``ScanError``: the gateway answers 451). With the
        SMTP ``session``, the sender is authenticated too (SPF, DKIM, DMARC)."""
        policy = self.config.policy
        if self._local is not None:
            assert self._thread is not None
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._thread, _scan, self._local, raw, path, session)
        for attempt in (1, 2):
            worker = await self._idle.get()
            try:
                result = await asyncio.wait_for(
                    worker.call(raw, path, session), self.config.timeout + self.grace
                )
            except TimeoutError:
                log.error("scan of %s hung past the time limit; restarting its worker", path)
                self._in_background(self._replace(worker, kill=True))
                return unscannable_result(raw, path, policy, "scan hung past the time limit")
            except (OSError, asyncio.IncompleteReadError):
                # The worker died: this message may be the cause, or only a bystander
                # (killed from outside, out of memory). It gets one more try.
                log.error("scan worker died (scanning %s, attempt %d); restarting", path, attempt)
                self._in_background(self._replace(worker, kill=True))
                continue
            except ScanError:
                self._idle.put_nowait(worker)
                raise
            except BaseException:
                # Cancelled mid-call: a reply may still be on its way, so the worker's
                # socket is out of step. It goes, and another takes its place.
                self._in_background(self._replace(worker, kill=True))
                raise
            if worker.scans >= worker.limit:
                self._in_background(self._replace(worker, kill=False))
            else:
                self._idle.put_nowait(worker)
            return result
        return unscannable_result(raw, path, policy, "scanner worker died twice on this message")

    async def close(self) -> None:
        """Stop the workers (each finishes the scan it has, if any, then sees EOF)."""
        self._closing = True
        # Replacements under way finish first (a start takes about a second), so that
        # no process is left half started; one stuck retrying is cancelled.
        if self._tasks:
            _, stuck = await asyncio.wait(list(self._tasks), timeout=30.0)
            for task in stuck:
                task.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)
        await asyncio.gather(*(self._retire(w, kill=False) for w in list(self._all)))
        if self._thread is not None:
            await asyncio.to_thread(self._thread.shutdown, True)
            self._thread = None
