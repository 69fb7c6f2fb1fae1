"""The gateway's durable spool: every accepted message is on disk before its ``250``.

One file per message under ``DATA/spool``:

- ``tmp/<id>``: being written; never acknowledged, so a restart deletes it;
- ``queue/<id>``: accepted. Written to ``tmp/``, fsynced, renamed here, and the
  directory fsynced, all before the ``250`` reply (RFC 5321 §6.1: a server that
  answers 250 has taken responsibility for the message and must not lose it);
- ``failed/<id>``: the next hop refused it for good; kept for the operator;
- ``damaged/<id>``: a queue file that cannot be read back (disk damage only).

A file holds a magic line, the envelope as one JSON line, the message bytes as
received, then a trailer of state marks appended as the message moves on: each mark
is ``\\n{json}\\n`` and fdatasynced before the gateway acts on it. A mark torn by a
crash is not valid JSON and is ignored, and the newline that starts the next mark
keeps it from swallowing that one. Once every recipient is done the file is unlinked
without a directory fsync: if the unlink is lost, the file comes back with marks
saying it is done, and the next start only removes it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import re
import time
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from floodwall.respond.policy import Symbol, Verdict
from floodwall.store.durable import fsync_dir, write_all, write_durably

__all__ = [
    "Spool",
    "SpoolCommitter",
    "SpoolEntry",
    "SpoolEnvelope",
    "SpoolError",
    "SpoolState",
    "is_spool_id",
    "new_spool_id",
]

_MAGIC = b"FWSPOOL1\n"
_ID = re.compile(r"[0-9a-f]{24}")


class SpoolError(Exception):
    """A spool file cannot be read back; the message says which and why."""


def new_spool_id() -> str:
    """A new id: 24 hex digits, time-ordered (nanoseconds) with 32 random bits."""
    return f"{time.time_ns():016x}{os.urandom(4).hex()}"


def is_spool_id(value: str) -> bool:
    """True for a well-formed spool id, the only names the spool gives its files."""
    return _ID.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class SpoolEnvelope:
    """What the gateway knew when it accepted a message, kept with its bytes."""

    id: str
    mail_from: str
    rcpt_to: tuple[str, ...]
    received: str  # ISO 8601 UTC
    peer: str
    helo: str
    verdict: Verdict  # the verdict the message was accepted under: a restart keeps it
    trace: str  # header fields prepended on delivery (Received, X-Floodwall-*), CRLF ended
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class SpoolState:
    """What the trailer marks say happened to a message so far."""

    delivered: frozenset[str] = frozenset()  # recipients the next hop took
    refused: frozenset[str] = frozenset()  # recipients refused for good (5yz)
    attempts: int = 0  # delivery attempts started
    in_flight: bool = False  # an attempt started and has no outcome: a crash hit it
    held: str = ""  # the quarantine id, once held
    marks: tuple[dict[str, Any], ...] = field(default=(), compare=False)


@dataclass(frozen=True, slots=True)
class SpoolEntry:
    """One spooled message: envelope, bytes and state."""

    envelope: SpoolEnvelope
    raw: bytes
    state: SpoolState

    @property
    def remaining(self) -> tuple[str, ...]:
        """Recipients neither delivered nor refused for good, in envelope order."""
        done = self.state.delivered | self.state.refused
        return tuple(r for r in self.envelope.rcpt_to if r not in done)


def _verdict_obj(v: Verdict) -> dict[str, Any]:
    return {
        "action": v.action,
        "score": v.score,
        "symbols": [[s.id, s.score, s.reason] for s in v.symbols],
        "unscannable": list(v.unscannable),
    }


def _verdict(obj: dict[str, Any]) -> Verdict:
    return Verdict(
        str(obj["action"]),
        float(obj["score"]),
        tuple(Symbol(str(i), float(sc), str(r)) for i, sc, r in obj["symbols"]),
        tuple(str(u) for u in obj["unscannable"]),
    )


def _header(env: SpoolEnvelope) -> bytes:
    obj = {
        "id": env.id, "mail_from": env.mail_from, "rcpt_to": list(env.rcpt_to),
        "received": env.received, "peer": env.peer, "helo": env.helo,
        "verdict": _verdict_obj(env.verdict), "trace": env.trace, "size": env.size,
        "sha256": env.sha256,
    }  # fmt: skip
    # ensure_ascii: the line can hold no raw newline, and lone surrogates survive.
    return json.dumps(obj, ensure_ascii=True).encode("ascii") + b"\n"


def _envelope(obj: dict[str, Any]) -> SpoolEnvelope:
    return SpoolEnvelope(
        id=str(obj["id"]), mail_from=str(obj["mail_from"]),
        rcpt_to=tuple(str(r) for r in obj["rcpt_to"]), received=str(obj["received"]),
        peer=str(obj["peer"]), helo=str(obj["helo"]), verdict=_verdict(obj["verdict"]),
        trace=str(obj["trace"]), size=int(obj["size"]), sha256=str(obj["sha256"]),
    )  # fmt: skip


def _state(trailer: bytes) -> SpoolState:
    delivered: set[str] = set()
    refused: set[str] = set()
    attempts, in_flight, held = 0, False, ""
    marks: list[dict[str, Any]] = []
    for line in trailer.split(b"\n"):
        if not line:
            continue
        try:
            mark = json.loads(line)
        except ValueError:
            continue  # torn by a crash before its fdatasync returned: never acted upon
        if not isinstance(mark, dict):
            continue
        marks.append(mark)
        kind = mark.get("s")
        if kind == "delivering":
            attempts += 1
            in_flight = True
        elif kind in ("delivered", "refused", "deferred"):
            in_flight = False
            target = delivered if kind == "delivered" else refused
            if kind != "deferred":
                target.update(str(r) for r in mark.get("rcpt", ()))
        elif kind == "held":
            held = str(mark.get("qid", ""))
    return SpoolState(frozenset(delivered), frozenset(refused), attempts, in_flight, held,
                      tuple(marks))  # fmt: skip


def parse_spool_file(data: bytes) -> SpoolEntry:
    """A spool file's entry; ``SpoolError`` when it is not one."""
    if not data.startswith(_MAGIC):
        raise SpoolError("not a spool file (bad magic)")
    end = data.find(b"\n", len(_MAGIC))
    if end < 0:
        raise SpoolError("envelope line is cut")
    try:
        env = _envelope(json.loads(data[len(_MAGIC) : end]))
    except (ValueError, KeyError, TypeError) as exc:
        raise SpoolError(f"envelope is damaged: {exc}") from exc
    start = end + 1
    raw = data[start : start + env.size]
    if len(raw) != env.size:
        raise SpoolError(f"message is cut: {len(raw)} of {env.size} bytes")
    return SpoolEntry(env, raw, _state(data[start + env.size :]))


class Spool:
    """The spool folder. Thread-safe: each method works on its own file descriptors."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp, self.queue = root / "tmp", root / "queue"
        self.failed, self.damaged = root / "failed", root / "damaged"
        self._lock_fd: int | None = None

    def lock(self) -> None:
        """Take the spool for this process; ``SpoolError`` if another gateway has it.

        Two gateways on one spool would each deliver the other's messages.
        """
        self.open()
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise SpoolError(f"{self.root} is in use by another gateway") from exc
        self._lock_fd = fd

    def unlock(self) -> None:
        """Let the spool go (the lock also ends with the process, even on kill -9)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def open(self) -> None:
        """Create the folders (durably) if they are missing."""
        for folder in (self.root, self.tmp, self.queue, self.failed, self.damaged):
            if not folder.is_dir():
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                fsync_dir(folder.parent)

    def _file(self, sid: str) -> Path:
        if not is_spool_id(sid):  # ids name files: nothing else may reach the file system
            raise ValueError(f"not a spool id: {sid[:40]!r}")
        return self.queue / sid

    def write(self, env: SpoolEnvelope, raw: bytes) -> None:
        """Make the message durable in ``queue/``; raises OSError when it cannot be."""
        write_durably(self.tmp / env.id, self._file(env.id), _MAGIC + _header(env), raw)

    def write_many(self, items: Sequence[tuple[SpoolEnvelope, bytes]]) -> list[OSError | None]:
        """``write`` for several messages with one directory fsync for all (group commit).

        Each file is written to ``tmp/`` and fsynced, then renamed into ``queue/``, and
        ``queue/`` is fsynced once: only then is any of them durable. Returns, per item,
        None when it is durable or the error that kept it from being so; a message that
        failed is not left in ``queue/`` when that can be helped.
        """
        errors: list[OSError | None] = [None] * len(items)
        renamed: list[int] = []
        for i, (env, raw) in enumerate(items):
            temp, final = self.tmp / env.id, self._file(env.id)
            try:
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                try:
                    write_all(fd, _MAGIC + _header(env))
                    write_all(fd, raw)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.replace(temp, final)
            except OSError as exc:
                errors[i] = exc
                with contextlib.suppress(OSError):
                    temp.unlink()
            else:
                renamed.append(i)
        if renamed:
            try:
                fsync_dir(self.queue)
            except OSError as exc:
                for i in renamed:  # not durable, so not acknowledged: the client retries
                    errors[i] = exc
                    with contextlib.suppress(OSError):
                        self._file(items[i][0].id).unlink()
        return errors

    def read(self, sid: str) -> SpoolEntry:
        """The entry of ``sid`` as on disk now."""
        return parse_spool_file(self._file(sid).read_bytes())

    def mark(self, sid: str, mark: dict[str, Any], *, sync: bool = True) -> None:
        """Append a state mark; with ``sync`` it is on disk when this returns."""
        line = b"\n" + json.dumps(mark, ensure_ascii=True).encode("ascii") + b"\n"
        fd = os.open(self._file(sid), os.O_WRONLY | os.O_APPEND)
        try:
            write_all(fd, line)
            if sync:
                os.fdatasync(fd)  # the file exists already: its name needs no dir sync
        finally:
            os.close(fd)

    def finish(self, sid: str) -> None:
        """Remove a message whose every recipient is done (see the module docstring)."""
        with contextlib.suppress(FileNotFoundError):
            self._file(sid).unlink()

    def fail(self, sid: str) -> Path:
        """Move a message the next hop refused for good to ``failed/``, durably."""
        target = self.failed / sid
        os.rename(self._file(sid), target)
        fsync_dir(self.failed)
        fsync_dir(self.queue)
        return target

    def queued(self) -> list[str]:
        """Ids of every message in ``queue/``, oldest first."""
        return sorted(p.name for p in self.queue.iterdir() if is_spool_id(p.name))

    def recover(self) -> tuple[list[SpoolEntry], list[str]]:
        """After a stop or a crash: drop unacknowledged temp files and read the queue.

        Returns the entries still to finish, oldest first, and one note per file that
        could not be read back (moved to ``damaged/``, never deleted).
        """
        self.open()
        for temp in self.tmp.iterdir():
            # Never renamed into queue/, so never answered 250: the client retries it.
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
        entries: list[SpoolEntry] = []
        notes: list[str] = []
        for sid in self.queued():
            try:
                entries.append(self.read(sid))
            except (OSError, SpoolError) as exc:
                notes.append(f"spool file {sid} cannot be read ({exc}); moved to damaged/")
                with contextlib.suppress(OSError):
                    os.rename(self.queue / sid, self.damaged / sid)
        if notes:
            fsync_dir(self.damaged)
        return entries, notes


class SpoolCommitter:
    """Group commit for ``Spool.write``. Up to ``parallel`` batches are made durable at
    once (the file system merges fsyncs that run together into one journal commit);
    messages that arrive while all of them are busy wait and go together in the next
    batch, in one thread hand-off and one directory fsync. Each caller still returns
    only once its own message is durable (RFC 5321 §6.1), so each ``250`` still follows
    its own fsync.
    """

    def __init__(self, spool: Spool, executor: Executor, parallel: int = 8) -> None:
        self._spool = spool
        self._executor = executor
        self._parallel = parallel
        self._pending: list[tuple[SpoolEnvelope, bytes, asyncio.Future[None]]] = []
        self._drainers: set[asyncio.Task[None]] = set()
        self.batches = 0  # batches written so far (for figures and tests)

    async def write(self, env: SpoolEnvelope, raw: bytes) -> None:
        """Make the message durable in ``queue/``; raises OSError when it cannot be."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((env, raw, done))
        if len(self._drainers) < self._parallel:
            task = asyncio.create_task(self._drain())
            self._drainers.add(task)
            task.add_done_callback(self._drainers.discard)
        await done

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, self._pending = self._pending, []
            items = [(env, raw) for env, raw, _ in batch]
            try:
                errors = await loop.run_in_executor(self._executor, self._spool.write_many, items)
            except Exception as exc:  # e.g. a bad id: every message of the batch fails
                errors = [OSError(str(exc)) for _ in batch]
            self.batches += 1
            for (_, _, done), error in zip(batch, errors, strict=True):
                if done.done():
                    continue
                if error is None:
                    done.set_result(None)
                else:
                    done.set_exception(error)
