"""The mail gateway's pipeline: scan during DATA, spool, then act on the verdict.

For each message, while the client waits for its DATA reply:

1. scan it (in the scan pool, off the event loop);
2. ``reject``: record the verdict and answer ``550 5.7.1 ... (ref <id>)``; the message
   is not accepted, so nothing is spooled;
3. otherwise write it to the spool (fsynced) and only then answer ``250``; when the
   spool cannot be written, or the next hop is known down for mail that must go
   there, answer ``451`` so the client keeps the message and retries.

Scanning comes before spooling so that a message refused with ``550`` is never
accepted at all (RFC 5321 §6.1: after ``250`` it could only be bounced). The verdict is
spooled with the message, so a restart acts on the verdict it was accepted under.

Once spooled and answered, the verdict row goes to the store (counted once per recipient;
the store's rows are batched into one commit), and the delivery queue relays the message
(``accept``; ``tag`` with ``X-Floodwall-*`` headers) or holds it (``quarantine``). See
``spool.py`` for what survives a crash; a row not yet stored then is stored on recovery.

Memory stays flat when deliveries fall behind: a queued message keeps its bytes in memory
only while the queue is short (``keep_in_memory``), and once its row is stored it keeps
its scan result only if it is to be held. Past that it is read back from the spool.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from floodwall.ingest.smtp_source import InboundMessage, Reply
from floodwall.mail.delivery import DeliveryQueue, HopHealth, Job, Outcome, RetryPolicy
from floodwall.mail.recorder import GatewayRecorder
from floodwall.mail.scan import ScanResult
from floodwall.mail.scan_pool import ScanPool
from floodwall.mail.spool import Spool, SpoolCommitter, SpoolEnvelope, new_spool_id
from floodwall.mail.trace_headers import trace_fields
from floodwall.respond.header_filter import strip_own_fields
from floodwall.respond.relay import (
    RelayConnection,
    RelayPermanentError,
    RelayResult,
    RelayTemporaryError,
)

__all__ = ["Gateway", "GatewayConfig"]

log = logging.getLogger("floodwall.gateway")
_T = TypeVar("_T")


@dataclass(frozen=True)
class GatewayConfig:
    """How the gateway relays and how much it queues."""

    relay_host: str
    relay_port: int
    hostname: str = field(default_factory=socket.getfqdn)  # names us in Received:
    relay_timeout: float = 30.0
    relay_concurrency: int = 32  # each delivery waits on two fsyncs and the next hop
    keep_in_memory: int = 256  # queued messages whose bytes stay in memory
    max_queue: int = 10_000  # spooled messages not yet finished; 451 past that
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    hop_down_after: int = 3  # consecutive failures that make the next hop "down"
    hop_down_hold: float = 30.0  # seconds it stays down after the last failure
    grace: float = 60.0  # seconds in-flight deliveries get at shutdown


def _authentication(result: ScanResult) -> str | None:
    """Floodwall's Authentication-Results value for a scanned message, None when its
    sender was not verified at all."""
    auth = result.message.sender_auth
    return auth.header_value() if auth is not None else None


def _age(received: str) -> float:
    try:
        then = datetime.fromisoformat(received)
    except ValueError:
        return 0.0
    return (datetime.now(UTC) - then).total_seconds()


class Gateway:
    """Scans, spools, records, relays and holds; ``on_message`` is the SMTP sink."""

    def __init__(
        self, data_dir: Path, config: GatewayConfig, scanner: ScanPool, recorder: GatewayRecorder
    ) -> None:
        self.config = config
        self.spool = Spool(data_dir / "spool")
        self.scanner = scanner
        self.recorder = recorder
        self.health = HopHealth(config.hop_down_after, config.hop_down_hold)
        self.queue = DeliveryQueue(self._process, config.retry, config.relay_concurrency)
        # Separate threads for disk and network: a hung next hop must never hold up the
        # fsyncs that stand between a client and its 250. Every delivery marks the spool
        # twice (fsynced), so there are more disk threads than deliveries at once.
        disk_threads = 16 + config.relay_concurrency
        self._io = ThreadPoolExecutor(disk_threads, thread_name_prefix="floodwall-spool")
        self._relay = ThreadPoolExecutor(config.relay_concurrency, "floodwall-relay")
        self._recording: set[asyncio.Task[None]] = set()  # verdict rows being stored
        self._committer = SpoolCommitter(self.spool, self._io)
        # Each relay thread keeps its connection to the next hop open between messages.
        self._local = threading.local()
        self._connections: list[RelayConnection] = []
        self._connections_lock = threading.Lock()

    async def _on(self, pool: ThreadPoolExecutor, fn: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.get_running_loop().run_in_executor(pool, functools.partial(fn, *args))

    # -- start and stop ----------------------------------------------------------------

    async def start(self) -> int:
        """Lock and recover the spool, open the store, start the scanners and the
        deliveries. Returns how many spooled messages were taken up again."""
        self.spool.lock()
        entries, notes = await self._on(self._io, self.spool.recover)
        for note in notes:
            log.error("%s", note)
        await self.recorder.open()
        await self.scanner.start()
        self.queue.start()
        for entry in entries:
            state = entry.state
            if state.in_flight:
                log.warning(
                    "spool %s: a delivery was under way when the gateway stopped; it is sent"
                    " again, and the next hop may get it twice (X-Floodwall-Spool-Id: %s)",
                    entry.envelope.id, entry.envelope.id,
                )  # fmt: skip
            job = Job(entry.envelope, recovered=True)
            job.delivered.update(state.delivered)
            job.refused.update(state.refused)
            self.queue.submit(job)
        if entries:
            log.info("recovered %d spooled message(s)", len(entries))
        return len(entries)

    async def stop(self) -> None:
        """Finish running deliveries (up to the grace), then close everything.
        Messages not finished stay in the spool for the next start."""
        await self.queue.stop(self.config.grace)
        await asyncio.gather(*self._recording)  # rows of messages still queued
        await self.recorder.close()
        await self.scanner.close()
        self._relay.shutdown(wait=True)
        for connection in self._connections:
            connection.close()
        self._io.shutdown(wait=True)
        self.spool.unlock()

    # -- during DATA -------------------------------------------------------------------

    async def on_message(self, msg: InboundMessage) -> Reply:
        """The reply to one message's DATA."""
        sid = new_spool_id()
        result = await self.scanner.scan(
            msg.data, f"gateway/{sid}", (msg.peer, msg.mail_from, msg.helo)
        )
        verdict = result.verdict
        if verdict.action == "reject":
            try:
                await self.recorder.record(result, len(msg.rcpt_to), peer=msg.peer)
            except Exception:
                # Refusing without a record would hide an attack from the counts.
                log.exception("spool %s: cannot record a reject; answering 451", sid)
                return Reply(451, "4.3.0 Cannot record the message now; try again later")
            log.info("%s reject from=<%s> score=%g peer=%s", sid, msg.mail_from,
                     verdict.score, msg.peer)  # fmt: skip
            return Reply(550, f"5.7.1 Message refused as unsafe (ref {sid})")
        if verdict.action != "quarantine" and self.health.is_down():
            return Reply(451, "4.4.1 Next hop unavailable; try again later")
        if len(self.queue) >= self.config.max_queue:
            return Reply(451, "4.3.1 Queue full; try again later")
        now = datetime.now(UTC)
        env = SpoolEnvelope(
            id=sid, mail_from=msg.mail_from, rcpt_to=msg.rcpt_to,
            received=now.isoformat(timespec="seconds"), peer=msg.peer, helo=msg.helo,
            verdict=verdict, size=len(msg.data), sha256=result.message.sha256,
            trace=trace_fields(
                sid=sid, verdict=verdict, helo=msg.helo, peer=msg.peer,
                hostname=self.config.hostname, rcpt_to=msg.rcpt_to, tls=msg.tls,
                when=now.astimezone(), authentication=_authentication(result),
            ),
        )  # fmt: skip
        try:
            await self._committer.write(env, msg.data)
        except OSError as exc:
            log.error("spool %s: cannot write the spool (%s); answering 451", sid, exc)
            return Reply(451, "4.3.0 Cannot queue the message now; try again later")
        keep = len(self.queue) < self.config.keep_in_memory
        job = Job(env, raw=msg.data if keep else None, result=result)
        # The row is stored while the client already has its 250: the spool holds the
        # verdict, and a crash before the row's commit is caught up on recovery
        # (``if_missing``). The delivery waits for it (``_process``), and retries it
        # after a failure; nothing is refused for it.
        task = asyncio.create_task(self._record_accepted(job, result, peer=msg.peer))
        job.recording = task
        self._recording.add(task)
        task.add_done_callback(self._recording.discard)
        self.queue.submit(job)
        log.info("%s %s from=<%s> rcpt=%d score=%g peer=%s", sid, verdict.action,
                 msg.mail_from, len(msg.rcpt_to), verdict.score, msg.peer)  # fmt: skip
        return Reply(250, f"2.0.0 OK queued as {sid}")

    async def _record_accepted(self, job: Job, result: ScanResult, *, peer: str) -> None:
        try:
            await self.recorder.record(result, len(job.envelope.rcpt_to), peer=peer)
        except Exception:
            log.exception("spool %s: cannot record the verdict yet; the delivery retries", job.id)
        else:
            job.recorded = True
            if job.envelope.verdict.action != "quarantine":
                job.result = None  # only a hold needs it again

    # -- from the spool ----------------------------------------------------------------

    async def _raw(self, job: Job) -> bytes:
        if job.raw is not None:
            return job.raw
        return (await self._on(self._io, self.spool.read, job.id)).raw

    async def _result(self, job: Job) -> ScanResult:
        """The scan result; after a restart the message is scanned again and keeps the
        verdict it was accepted under."""
        if job.result is None:
            env = job.envelope
            fresh = await self.scanner.scan(
                await self._raw(job), f"gateway/{job.id}", (env.peer, env.mail_from, env.helo)
            )
            job.result = dataclasses.replace(fresh, verdict=job.envelope.verdict)
        return job.result

    async def _process(self, job: Job) -> Outcome:
        env = job.envelope
        if job.recording is not None:
            await job.recording  # never raises: a failure leaves ``recorded`` false
            job.recording = None
        if not job.recorded:
            try:
                await self.recorder.record(
                    await self._result(job), len(env.rcpt_to), if_missing=job.recovered,
                    peer=env.peer,
                )  # fmt: skip
            except Exception:
                log.exception("spool %s: cannot record the verdict yet", job.id)
                return Outcome.RETRY
            job.recorded = True
        if env.verdict.action == "quarantine":
            return await self._hold(job)
        job.result = None  # not needed to relay: the queue's memory stays small
        return await self._deliver(job)

    async def _hold(self, job: Job) -> Outcome:
        env = job.envelope
        try:
            qid = await self.recorder.hold(
                await self._raw(job), await self._result(job),
                mail_from=env.mail_from, rcpt_to=env.rcpt_to, key=job.id,
            )  # fmt: skip
        except Exception:
            log.exception("spool %s: cannot quarantine yet", job.id)
            return Outcome.RETRY
        await self._on(self._io, self.spool.finish, job.id)
        log.info("%s held in quarantine as %s", job.id, qid)
        return Outcome.DONE

    async def _deliver(self, job: Job) -> Outcome:
        env = job.envelope
        remaining = [r for r in env.rcpt_to if r not in job.delivered and r not in job.refused]
        if not remaining:
            return await self._close(job)
        if _age(env.received) > self.config.retry.max_age:
            log.error("spool %s: undelivered after %.0f s; giving up", job.id, _age(env.received))
            await self._on(self._io, self.spool.mark, job.id, {"s": "refused", "rcpt": remaining,
                           "reply": "expired in the queue"})  # fmt: skip
            job.refused.update(remaining)
            return await self._close(job)
        # A sender's own X-Floodwall-* and "Authentication-Results: floodwall" fields go
        # before ours are added (RFC 8601 §5), so downstream can trust the ones it sees.
        data = env.trace.encode("ascii") + strip_own_fields(await self._raw(job))
        job.raw = None  # a retry reads it back from the spool
        # One call on a relay thread marks, sends, marks again and, when every recipient
        # is done, removes the file: one hand-off between threads instead of four.
        finish = not job.refused and not job.delivered
        try:
            sent = await self._on(
                self._relay, self._attempt, job.id, job.attempts + 1, env.mail_from, remaining,
                data, finish,
            )  # fmt: skip
        except RelayTemporaryError as exc:
            self.health.failed()
            await self._on(self._io, functools.partial(self.spool.mark, sync=False),
                           job.id, {"s": "deferred", "reply": str(exc)})  # fmt: skip
            log.warning("spool %s: next hop deferred: %s", job.id, exc)
            return Outcome.RETRY
        except RelayPermanentError as exc:
            # 5yz for the sender, for DATA, or for every recipient: none of them has it.
            await self._on(self._io, self.spool.mark, job.id,
                           {"s": "refused", "rcpt": remaining, "reply": str(exc)})  # fmt: skip
            job.refused.update(remaining)
            log.error("spool %s: next hop refused it for good: %s", job.id, exc)
            return await self._close(job)
        job.delivered.update(sent.accepted)
        if self.health.succeeded():
            log.info("next hop is back; retrying queued mail now")
            self.queue.wake_all()
        if finish and len(sent.accepted) == len(remaining):
            log.info("%s delivered", job.id)  # and its file is gone (``_attempt``)
            return Outcome.DONE
        hard = [r.recipient for r in sent.refused if r.code >= 500]
        if hard:
            await self._on(self._io, self.spool.mark, job.id,
                           {"s": "refused", "rcpt": hard, "reply": str(sent.refused)})  # fmt: skip
            job.refused.update(hard)
        if len(job.delivered) + len(job.refused) < len(set(env.rcpt_to)):
            return Outcome.RETRY  # some recipients got a 4xx: only they are tried again
        return await self._close(job)

    def _connection(self) -> RelayConnection:
        """This relay thread's connection to the next hop."""
        connection: RelayConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = RelayConnection(
                self.config.relay_host, self.config.relay_port,
                timeout=self.config.relay_timeout, helo=self.config.hostname,
            )  # fmt: skip
            self._local.connection = connection
            with self._connections_lock:
                self._connections.append(connection)
        return connection

    def _attempt(
        self, sid: str, attempt: int, mail_from: str, rcpt_to: list[str], data: bytes,
        finish: bool,
    ) -> RelayResult:  # fmt: skip
        """One delivery attempt, on a relay thread; raises what ``RelayConnection.send`` does.

        Marked before sending: if we crash before "delivered" is written, the next start
        knows this attempt may have reached the next hop (see ``start``). That mark is
        not fsynced: it survives a killed process in the page cache, and all that a
        power cut could take from it is the start's warning. "delivered" is fsynced right
        after the next hop's 250: the window for a duplicate is that write.
        With ``finish`` (no recipient done before) and every recipient taken, the file
        is removed here too.
        """
        self.spool.mark(sid, {"s": "delivering", "n": attempt}, sync=False)
        sent = self._connection().send(mail_from, rcpt_to, data)
        self.spool.mark(sid, {"s": "delivered", "rcpt": list(sent.accepted),
                              "reply": f"{sent.code} {sent.text}"})  # fmt: skip
        if finish and len(sent.accepted) == len(rcpt_to):
            self.spool.finish(sid)
        return sent

    async def _close(self, job: Job) -> Outcome:
        """Every recipient is done: drop the file, or keep it in failed/ if some refused."""
        if job.refused:
            target = await self._on(self._io, self.spool.fail, job.id)
            log.error("spool %s: not delivered to %s; kept in %s",
                      job.id, ", ".join(sorted(job.refused)), target)  # fmt: skip
            return Outcome.FAILED
        await self._on(self._io, self.spool.finish, job.id)
        log.info("%s delivered", job.id)
        return Outcome.DONE
