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
import signal
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from types import FrameType

from floodwall.detect.mail.clamd import ClamdClient
from floodwall.ingest.mail_source import RawMail
from floodwall.mail.detectors import build_detectors
from floodwall.mail.scan import MailDetector, ScanResult, scan_message
from floodwall.normalize.mime import parse_message
from floodwall.records import MailMessage, Origin
from floodwall.respond.policy import Policy
from floodwall.settings import Settings

__all__ = ["ScanConfig", "ScanPool", "unscannable_result"]

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


# One per worker process, set by the pool's initializer: a process pool can hand its
# workers state only this way. The gateway process itself never reads it.
_worker: _WorkerState | None = None


def _build(config: ScanConfig, use_alarm: bool) -> _WorkerState:
    clamd = ClamdClient.find() if config.use_clamd else None
    detectors = build_detectors(config.settings, clamd)
    # Threat intel (issue 4): each worker loads the matcher once, from the compact cache.
    from floodwall.enrich.intel.inline import IntelMailDetector, load_run_intel

    if config.use_intel and (matcher := load_run_intel(config.settings)) is not None:
        detectors.append(IntelMailDetector(matcher))
    return _WorkerState(detectors, config.policy, config.timeout, use_alarm)


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


def _scan(state: _WorkerState, raw: bytes, path: str) -> ScanResult:
    if state.use_alarm:
        signal.signal(signal.SIGALRM, _on_alarm)
        # Repeats each second after the first expiry: every detector still to run then
        # fails at once, and scan_message records each failure as unscannable.
        signal.setitimer(signal.ITIMER_REAL, state.timeout, 1.0)
    try:
        message = parse_message(RawMail(Origin(path, 1), raw))
        return _slim(scan_message(message, state.detectors, state.policy))
    except ScanTimeout:
        return unscannable_result(raw, path, state.policy, "scan took too long")
    finally:
        if state.use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)


def _scan_in_worker(raw: bytes, path: str) -> ScanResult:
    if _worker is None:
        raise RuntimeError("scan worker was not initialised")
    return _scan(_worker, raw, path)


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


class ScanPool:
    """Scans messages in ``workers`` processes (0: one thread in this process, for
    tests and small sites; no time limit is enforced then)."""

    def __init__(self, config: ScanConfig, workers: int = 1) -> None:
        self.config = config
        self.workers = workers
        self._pool: Executor | None = None
        self._local: _WorkerState | None = None
        self._generation = 0

    def _new_pool(self) -> Executor:
        if self.workers <= 0:
            return ThreadPoolExecutor(1, thread_name_prefix="floodwall-scan")
        return ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(self.config,),
        )

    async def start(self) -> None:
        """Start the workers and wait until each has built its detectors."""
        if self.workers <= 0:
            self._local = await asyncio.to_thread(_build, self.config, False)
        self._pool = self._new_pool()
        # One tiny scan per worker: start-up errors show now, not on the first message.
        probe = b"From: a@example.org\r\nSubject: warm-up\r\n\r\nhello\r\n"
        await asyncio.gather(*(self.scan(probe, "warm-up") for _ in range(max(1, self.workers))))

    def _submit(self, pool: Executor, raw: bytes, path: str) -> asyncio.Future[ScanResult]:
        loop = asyncio.get_running_loop()
        if self._local is not None:
            return loop.run_in_executor(pool, _scan, self._local, raw, path)
        return loop.run_in_executor(pool, _scan_in_worker, raw, path)

    async def scan(self, raw: bytes, path: str) -> ScanResult:
        """The scan result of ``raw``; never raises for the message's sake."""
        policy = self.config.policy
        for attempt in (1, 2):
            pool, generation = self._pool, self._generation
            if pool is None:
                raise RuntimeError("scan pool is not started")
            try:
                return await asyncio.wait_for(
                    self._submit(pool, raw, path), self.config.timeout + 30.0
                )
            except BrokenProcessPool:
                # A worker died: this message may be the cause, or only a bystander
                # of another's crash. It gets one more try on a fresh pool.
                log.error("scan worker died (scanning %s, attempt %d); restarting", path, attempt)
                self._replace(generation)
            except TimeoutError:
                log.error("scan of %s hung past the time limit; restarting workers", path)
                self._replace(generation, kill=True)
                return unscannable_result(raw, path, policy, "scan hung past the time limit")
        return unscannable_result(raw, path, policy, "scanner worker died twice on this message")

    def _replace(self, generation: int, *, kill: bool = False) -> None:
        if generation != self._generation or self._pool is None:
            return  # another failure already replaced it
        old = self._pool
        self._generation += 1
        self._pool = self._new_pool()
        if kill:
            # ProcessPoolExecutor cannot cancel a running call; its processes can go.
            for proc in list(getattr(old, "_processes", {}).values()):
                proc.kill()
        old.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the workers, waiting for running scans."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
