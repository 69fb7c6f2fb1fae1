"""The scan pool's worker processes, for real: results as in-process scanning gives
them, and a worker that dies, hangs or has served its time is replaced without losing
a message. Workers are killed and stopped from outside with real signals."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest
from gw_util import ham, sample

from floodwall.mail.scan_pool import ScanConfig, ScanPool
from floodwall.mail.scan_worker import build_worker, scan_one
from floodwall.respond.policy import Policy
from floodwall.settings import Settings

pytestmark = pytest.mark.timeout(180)


def config(tmp_path: Path, timeout: float = 60.0) -> ScanConfig:
    settings = Settings(data_dir=tmp_path / "data")
    return ScanConfig(settings, Policy.load(), use_clamd=False, timeout=timeout)


MESSAGES = [ham(f"m{i}") for i in range(4)] + [sample("html_smuggling")]


def is_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie until reaped: the pool joins its workers, so it does not stay one.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "Z"


def test_workers_give_what_in_process_scanning_gives(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    local = build_worker(cfg, False)
    expected = [scan_one(local, m, "x").verdict for m in MESSAGES]

    async def run() -> tuple[list[object], list[int]]:
        pool = ScanPool(cfg, workers=2)
        await pool.start()
        try:
            results = await asyncio.gather(*(pool.scan(m, "x") for m in MESSAGES))
            return [r.verdict for r in results], pool.pids
        finally:
            await pool.close()

    verdicts, pids = asyncio.run(run())
    assert verdicts == expected
    assert {v.action for v in expected} >= {"accept", "quarantine"}
    assert len(pids) == 2
    assert all(is_gone(pid) for pid in pids)  # close() ends and reaps them


def test_a_killed_worker_is_replaced_and_the_message_scanned(tmp_path: Path) -> None:
    async def run() -> None:
        pool = ScanPool(config(tmp_path), workers=1)
        await pool.start()
        try:
            (victim,) = pool.pids
            os.kill(victim, signal.SIGKILL)
            result = await pool.scan(MESSAGES[0], "x")  # the one worker was dead
            assert result.verdict.action == "accept"
            assert not result.message.unscannable
            deadline = time.monotonic() + 30
            while len(pool.pids) != 1 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert pool.pids != [victim]
            assert pool.started >= 2
            assert (await pool.scan(MESSAGES[1], "x")).verdict.action == "accept"
        finally:
            await pool.close()

    asyncio.run(run())


def test_a_hung_worker_is_killed_and_the_message_held(tmp_path: Path) -> None:
    async def run() -> None:
        # SIGSTOP: the worker's own alarm cannot fire, as in a hang inside C code.
        pool = ScanPool(config(tmp_path, timeout=0.5), workers=1, grace=0.5)
        await pool.start()
        try:
            (victim,) = pool.pids
            os.kill(victim, signal.SIGSTOP)
            result = await asyncio.wait_for(pool.scan(MESSAGES[0], "x"), 30)
            assert result.message.unscannable == ("scan hung past the time limit",)
            assert result.verdict.action == "quarantine"
            # A new worker takes the next message.
            assert (await pool.scan(MESSAGES[1], "x")).verdict.action == "accept"
            assert victim not in pool.pids
            assert is_gone(victim)
        finally:
            await pool.close()

    asyncio.run(run())


def test_workers_are_recycled_without_losing_a_scan(tmp_path: Path) -> None:
    async def run() -> tuple[int, list[int]]:
        pool = ScanPool(config(tmp_path), workers=2, recycle_after=4)
        await pool.start()
        seen: set[int] = set()
        try:
            for _ in range(6):
                results = await asyncio.gather(*(pool.scan(m, "x") for m in MESSAGES))
                assert [r.message.unscannable for r in results] == [()] * len(MESSAGES)
                seen.update(pool.pids)
            return pool.started, sorted(seen)
        finally:
            await pool.close()

    started, seen = asyncio.run(run())
    assert started >= 5  # 2 at start, then a new one every 3 to 5 scans
    assert all(is_gone(pid) for pid in seen)
