"""The delivery queue's rules: backoff grows and is capped, the next hop counts as down
after failures in a row and only for a while, and a job is retried until it is done."""

from __future__ import annotations

import asyncio

import pytest

from floodwall.mail.delivery import DeliveryQueue, HopHealth, Job, Outcome, RetryPolicy
from floodwall.mail.spool import SpoolEnvelope, new_spool_id
from floodwall.respond.policy import Verdict


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    retry = RetryPolicy(first=1.0, cap=10.0)
    for attempts, base in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (30, 10.0)]:
        delays = [retry.delay(attempts) for _ in range(200)]
        assert all(0.8 * base <= d <= 1.2 * base for d in delays)
        assert len(set(delays)) > 1  # jitter: a queue does not retry in lockstep


def test_hop_is_down_after_failures_in_a_row_and_only_for_a_while() -> None:
    now = [100.0]
    health = HopHealth(threshold=3, hold=30.0, clock=lambda: now[0])
    health.failed()
    health.failed()
    assert not health.is_down()
    health.failed()
    assert health.is_down()
    now[0] += 29.0
    assert health.is_down()
    now[0] += 2.0
    assert not health.is_down()  # the next message is taken, and probes the hop
    health.failed()
    assert health.is_down()
    assert health.succeeded() is True
    assert not health.is_down()
    assert health.succeeded() is False


def job() -> Job:
    env = SpoolEnvelope(
        id=new_spool_id(), mail_from="a@x.org", rcpt_to=("b@x.org",), received="",
        peer="", helo="", verdict=Verdict("accept", 0.0), trace="", size=0, sha256="",
    )  # fmt: skip
    return Job(env)


@pytest.mark.timeout(30)
def test_queue_retries_until_done_and_survives_a_crashing_attempt() -> None:
    outcomes = {"a": [Outcome.RETRY, Outcome.RETRY, Outcome.DONE]}
    seen: list[str] = []

    async def main() -> None:
        async def process(j: Job) -> Outcome:
            seen.append(j.id)
            if len(seen) == 1:
                raise RuntimeError("a bug in one attempt")  # must not lose the job
            return outcomes["a"].pop(0)

        queue = DeliveryQueue(process, RetryPolicy(first=0.01, cap=0.02), concurrency=2)
        queue.start()
        j = job()
        queue.submit(j)
        queue.submit(j)  # the same job twice is queued once
        assert len(queue) == 1
        await asyncio.wait_for(queue.wait_idle(), 10)
        assert len(queue) == 0
        assert j.attempts == 3
        await queue.stop(1.0)

    asyncio.run(main())
    assert len(seen) == 4


@pytest.mark.timeout(30)
def test_wake_all_retries_waiting_jobs_at_once_and_stop_leaves_the_rest() -> None:
    async def main() -> None:
        calls: list[str] = []

        async def process(j: Job) -> Outcome:
            calls.append(j.id)
            return Outcome.RETRY if len(calls) <= 2 else Outcome.DONE

        queue = DeliveryQueue(process, RetryPolicy(first=3600.0, cap=3600.0), concurrency=1)
        queue.start()
        a, b = job(), job()
        queue.submit(a)
        queue.submit(b)
        while len(calls) < 2:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        assert len(calls) == 2  # both wait an hour
        queue.wake_all()
        await asyncio.wait_for(queue.wait_idle(), 5)
        assert len(calls) == 4
        queue.submit(job())
        queue.submit(job())
        await queue.stop(1.0)

    asyncio.run(main())
