"""Scanning off the event loop: worker processes that each build the detectors once.

Parsing and scanning are CPU-bound pure Python, so threads would share one core
under the GIL; worker processes use both cores and keep the SMTP event loop free.
Workers are started with ``spawn``: the gateway process has threads, and ``fork``
would copy their locks in whatever state they were.

A message must get a verdict whatever happens to its scan. A scan that runs past its
time is interrupted inside the worker (``scan_worker.py``: the worker's side) and the
message becomes unscannable; a worker that hangs in C code or dies (segfault, out of
memory) is killed and replaced, and the message becomes unscannable too. Unscannable
mail is held by default (the policy decides).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import pickle
import random
import socket
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from floodwall.mail.scan import ScanResult
from floodwall.mail.scan_worker import (
    FRAME,
    ScanConfig,
    SmtpSession,
    WorkerState,
    build_worker,
    scan_one,
    serve,
    unscannable_result,
)

__all__ = ["ScanConfig", "ScanError", "ScanPool", "SmtpSession", "unscannable_result"]

log = logging.getLogger("floodwall.gateway")


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
        head = await self.reader.readexactly(FRAME.size)
        return await self.reader.readexactly(FRAME.unpack(head)[0])

    async def call(self, raw: bytes, path: str, session: SmtpSession | None) -> ScanResult:
        payload = pickle.dumps((raw, path, session), pickle.HIGHEST_PROTOCOL)
        self.writer.write(FRAME.pack(len(payload)))
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
        self._local: WorkerState | None = None
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
            # Built on the thread that scans: the domain history's SQLite connection may
            # only be used on the thread that opened it.
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="floodwall-scan")
            loop = asyncio.get_running_loop()
            self._local = await loop.run_in_executor(self._thread, build_worker, self.config, False)
        else:
            for worker in await asyncio.gather(*(self._spawn() for _ in range(self.workers))):
                self._idle.put_nowait(worker)
        # One tiny scan per worker: start-up errors show now, not on the first message.
        probe = b"From: a@example.org\r\nSubject: warm-up\r\n\r\nhello\r\n"
        await asyncio.gather(*(self.scan(probe, "warm-up") for _ in range(max(1, self.workers))))

    async def _spawn(self) -> _Worker:
        parent, child = socket.socketpair()
        proc = multiprocessing.get_context("spawn").Process(
            target=serve, args=(child, self.config), name="floodwall-scan", daemon=True
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
            local = self._local
            return await loop.run_in_executor(self._thread, scan_one, local, raw, path, session)
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
            if self._local is not None and self._local.domains is not None:
                # What the in-process scanner saw since its last write (a worker process
                # writes it when it sees EOF).
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(self._thread, self._local.domains.flush)
            await asyncio.to_thread(self._thread.shutdown, True)
            self._thread = None
