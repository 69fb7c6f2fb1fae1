"""Delivery from the spool: a queue of jobs with retries, backoff and the next hop's health.

The queue only schedules; the gateway's ``process`` callback does one attempt and says
whether the job is done, should be retried, or failed for good. A retry waits longer
each time (doubling, with jitter so a queue does not retry in lockstep). When the next
hop comes back, every waiting job is woken at once instead of sleeping out its backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from floodwall.mail.scan import ScanResult
from floodwall.mail.spool import SpoolEnvelope

__all__ = ["DeliveryQueue", "HopHealth", "Job", "Outcome", "RetryPolicy"]

log = logging.getLogger("floodwall.gateway")


class Outcome(enum.Enum):
    """What one attempt at a job came to."""

    DONE = "done"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(eq=False)
class Job:
    """A spooled message on its way, with what this process knows beyond the file."""

    envelope: SpoolEnvelope
    raw: bytes | None = None  # kept for the first attempt; read back from the spool after
    result: ScanResult | None = None  # None after a restart: scanned again if needed
    recorded: bool = False  # its verdict row is in the store
    recording: asyncio.Task[None] | None = None  # its row being stored, as it was accepted
    recovered: bool = False  # found in the spool at start-up
    attempts: int = 0
    delivered: set[str] = field(default_factory=set)  # recipients the next hop took
    refused: set[str] = field(default_factory=set)  # recipients refused for good

    @property
    def id(self) -> str:
        """The spool id."""
        return self.envelope.id


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff between attempts, and when to give up.

    RFC 5321 §4.5.4.1 gives up after 4-5 days; the first retries come sooner than its
    30 minutes because the next hop is the organisation's own mail server.
    """

    first: float = 5.0
    cap: float = 600.0
    max_age: float = 5 * 86400.0

    def delay(self, attempts: int) -> float:
        """Seconds to wait before attempt ``attempts + 1``."""
        base = min(self.cap, self.first * 2.0 ** max(0, attempts - 1))
        return base * random.uniform(0.8, 1.2)


class HopHealth:
    """The next hop is down after ``threshold`` failures in a row, for ``hold`` seconds
    after the last one; one success clears it. While it is down, new mail for it gets
    ``451`` instead of growing the queue. When the hold runs out, the next message is
    accepted again and its delivery probes the hop."""

    def __init__(
        self,
        threshold: int = 3,
        hold: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.hold = hold
        self._clock = clock
        self.failures = 0
        self._last = 0.0

    def is_down(self) -> bool:
        """True while recent consecutive failures say the next hop is unavailable."""
        return self.failures >= self.threshold and self._clock() - self._last < self.hold

    def failed(self) -> None:
        """One more failed attempt."""
        self.failures += 1
        self._last = self._clock()

    def succeeded(self) -> bool:
        """A delivery went through; True when the hop had been counted down."""
        was_down = self.failures >= self.threshold
        self.failures = 0
        return was_down


class DeliveryQueue:
    """Runs ``process`` on jobs, ``concurrency`` at a time, retrying with backoff."""

    def __init__(
        self,
        process: Callable[[Job], Awaitable[Outcome]],
        retry: RetryPolicy,
        concurrency: int = 8,
    ) -> None:
        self._process = process
        self._retry = retry
        self._concurrency = concurrency
        self._ready: asyncio.Queue[Job | None] = asyncio.Queue()
        self._waiting: dict[str, tuple[Job, asyncio.TimerHandle]] = {}
        self._ids: set[str] = set()
        self._workers: list[asyncio.Task[None]] = []
        self._stopping = False
        self._idle = asyncio.Event()
        self._idle.set()

    def __len__(self) -> int:
        """Jobs not finished: ready, running or waiting to retry."""
        return len(self._ids)

    def start(self) -> None:
        """Start the workers."""
        self._workers = [
            asyncio.create_task(self._work(), name=f"delivery-{i}")
            for i in range(self._concurrency)
        ]

    def submit(self, job: Job) -> None:
        """Queue a job for its first attempt."""
        if job.id in self._ids:
            return
        self._ids.add(job.id)
        self._idle.clear()
        self._ready.put_nowait(job)

    def wake_all(self) -> None:
        """Retry every waiting job now (the next hop is back)."""
        for job, handle in list(self._waiting.values()):
            handle.cancel()
            self._requeue(job)

    def _requeue(self, job: Job) -> None:
        self._waiting.pop(job.id, None)
        if not self._stopping:
            self._ready.put_nowait(job)

    async def wait_idle(self) -> None:
        """Until no job is left (tests and benchmarks use it)."""
        await self._idle.wait()

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            job = await self._ready.get()
            if job is None or self._stopping:
                return  # an unfinished job stays in the spool for the next start
            try:
                outcome = await self._process(job)
            except Exception:  # a bug must not lose the job: it stays spooled, retried
                log.exception("delivery of %s failed unexpectedly; will retry", job.id)
                outcome = Outcome.RETRY
            if outcome is Outcome.RETRY:
                if not self._stopping:
                    job.attempts += 1
                    handle = loop.call_later(self._retry.delay(job.attempts), self._requeue, job)
                    self._waiting[job.id] = (job, handle)
            else:
                self._ids.discard(job.id)
                if not self._ids:
                    self._idle.set()

    async def stop(self, grace: float) -> None:
        """Let running attempts finish (up to ``grace`` seconds), start no new ones."""
        self._stopping = True
        for _, handle in self._waiting.values():
            handle.cancel()
        self._waiting.clear()
        for _ in self._workers:
            self._ready.put_nowait(None)
        if not self._workers:
            return
        _, pending = await asyncio.wait(self._workers, timeout=grace)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
