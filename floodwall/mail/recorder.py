"""The gateway's writes to the store: verdict rows for the daily counts, and holds.

A sqlite3 connection belongs to the thread that opened it, so each writer here is a
one-thread executor with its own ``Store``. Verdict rows go through one writer that
commits them in groups: every row that arrives while a commit runs waits for the
next one, so the fsync of ``synchronous=FULL`` is paid once per group, not per
message. Holds go through a few writers of their own, because a hold fsyncs a file
and two directories before its commit, and those waits overlap.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from floodwall.enrich.addresses import as_public_ip, mail_source_ip
from floodwall.enrich.context import AlertContextEnricher
from floodwall.mail.scan import ScanResult
from floodwall.store.db import Store, open_store
from floodwall.store.messages import MessageStore
from floodwall.store.quarantine import QuarantineStore

__all__ = ["GatewayRecorder"]

SOURCE = "gateway"
_T = TypeVar("_T")


@dataclass(frozen=True)
class _Row:
    result: ScanResult
    recipients: int
    if_missing: bool  # after a crash the row may already be there: check first
    done: asyncio.Future[None]
    peer: str = ""  # the connecting client's address


class _Writer:
    """One thread and the store connection it owns."""

    def __init__(self, data_dir: Path, name: str) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=name)
        self._data_dir = data_dir
        self.store: Store | None = None

    async def run(self, fn: Callable[[Store], _T]) -> _T:
        def call() -> _T:
            if self.store is None:
                self.store = open_store(self._data_dir, durable=True)
            return fn(self.store)

        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def close(self) -> None:
        def shut() -> None:
            if self.store is not None:
                self.store.close()
                self.store = None

        await asyncio.get_running_loop().run_in_executor(self._executor, shut)
        self._executor.shutdown(wait=True)


def has_row(store: Store, result: ScanResult) -> bool:
    """True when the store already holds the gateway's row for this message."""
    cur = store.connection.execute(
        "SELECT 1 FROM messages WHERE sha256 = ? AND path = ? AND source = ? LIMIT 1",
        (result.message.sha256, result.message.origin.path, SOURCE),
    )  # the sha256 index finds it; the path holds the spool id
    return cur.fetchone() is not None


class GatewayRecorder:
    """Records verdicts (counted once per envelope recipient) and holds messages."""

    def __init__(
        self,
        data_dir: Path,
        *,
        hold_writers: int = 3,
        enricher: AlertContextEnricher | None = None,
    ) -> None:
        """``enricher`` gives each row its origin (issue 4); without it, unknown."""
        self._data_dir = data_dir
        self._enricher = enricher
        self._rows = _Writer(data_dir, "floodwall-store")
        self._holders = [_Writer(data_dir, f"floodwall-hold{i}") for i in range(hold_writers)]
        self._next_holder = itertools.cycle(self._holders)
        self._pending: list[_Row] = []
        self._flusher: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Open the store (applying migrations) before the first message."""
        await self._rows.run(lambda store: None)

    async def record(
        self, result: ScanResult, recipients: int, *, if_missing: bool = False, peer: str = ""
    ) -> None:
        """Store the verdict row; returns once it is committed (raises if it was not)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append(_Row(result, recipients, if_missing, done, peer))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await done

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self._rows.run(functools.partial(_write_rows, batch, self._enricher))
            except Exception as exc:
                for row in batch:
                    if not row.done.done():
                        row.done.set_exception(exc)
            else:
                for row in batch:
                    if not row.done.done():
                        row.done.set_result(None)

    async def hold(
        self, raw: bytes, result: ScanResult, *, mail_from: str, rcpt_to: Sequence[str], key: str
    ) -> str:
        """Quarantine the message; idempotent per ``key`` (the spool id)."""
        writer = next(self._next_holder)
        return await writer.run(
            lambda store: QuarantineStore(store, self._data_dir / "quarantine").hold(
                raw, result, mail_from=mail_from, rcpt_to=rcpt_to, source=SOURCE, key=key
            )
        )

    async def close(self) -> None:
        """Wait for queued rows, then close every connection in its own thread."""
        while self._flusher is not None and not self._flusher.done():
            await self._flusher
        for writer in (self._rows, *self._holders):
            await writer.close()


def _write_rows(batch: list[_Row], enricher: AlertContextEnricher | None, store: Store) -> None:
    keep = [row for row in batch if not (row.if_missing and has_row(store, row.result))]
    # The source is the connecting client when it is public; behind an internal relay,
    # the first external Received hop (RFC 5321 §4.4), as for a scanned file.
    contexts = (
        enricher.for_addresses(
            [as_public_ip(row.peer) or mail_source_ip(row.result.message) for row in keep]
        )
        if enricher is not None
        else None
    )
    MessageStore(store).add(
        [row.result for row in keep],
        source=SOURCE,
        recipients=[row.recipients for row in keep],
        contexts=contexts,
    )
