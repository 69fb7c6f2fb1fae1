"""The spool on real files: what is written comes back, marks add up, and a restart
keeps every accepted message and drops only what was never acknowledged."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from floodwall.mail.spool import (
    Spool,
    SpoolCommitter,
    SpoolEnvelope,
    SpoolError,
    is_spool_id,
    new_spool_id,
    parse_spool_file,
)
from floodwall.respond.policy import Symbol, Verdict

RAW = b"From: a@x.org\r\nSubject: s\r\n\r\nbody \xff\r\n.dot\r\n"


def envelope(
    sid: str | None = None, rcpt: tuple[str, ...] = ("b@x.org", "c@x.org")
) -> SpoolEnvelope:
    return SpoolEnvelope(
        id=sid or new_spool_id(), mail_from="a@x.org", rcpt_to=rcpt,
        received="2026-01-02T03:04:05+00:00", peer="127.0.0.1", helo="client\udcff",
        verdict=Verdict("tag", 5.5, (Symbol("mail.x", 5.5, "why \u202e\n"),), ("u",)),
        trace="Received: x\r\n", size=len(RAW), sha256="0" * 64,
    )  # fmt: skip


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    s = Spool(tmp_path / "spool")
    s.open()
    return s


def test_ids() -> None:
    ids = [new_spool_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(is_spool_id(i) for i in ids)
    assert not is_spool_id("../../etc/passwd")
    assert not is_spool_id("A" * 24)


def test_write_then_read_round_trip(spool: Spool) -> None:
    env = envelope()
    spool.write(env, RAW)
    entry = spool.read(env.id)
    assert entry.envelope == env
    assert entry.raw == RAW
    assert entry.remaining == ("b@x.org", "c@x.org")
    assert not list(spool.tmp.iterdir())
    assert oct((spool.queue / env.id).stat().st_mode & 0o777) == "0o600"


def test_marks_add_up(spool: Spool) -> None:
    env = envelope()
    spool.write(env, RAW)
    spool.mark(env.id, {"s": "delivering", "n": 1})
    spool.mark(env.id, {"s": "deferred"}, sync=False)
    spool.mark(env.id, {"s": "delivering", "n": 2})
    spool.mark(env.id, {"s": "delivered", "rcpt": ["b@x.org"]})
    state = spool.read(env.id).state
    assert (state.attempts, state.in_flight, state.delivered) == (2, False, {"b@x.org"})
    assert spool.read(env.id).remaining == ("c@x.org",)
    spool.mark(env.id, {"s": "delivering", "n": 3})
    assert spool.read(env.id).state.in_flight


def test_a_torn_mark_is_ignored_and_does_not_swallow_the_next(spool: Spool) -> None:
    env = envelope()
    spool.write(env, RAW)
    with (spool.queue / env.id).open("ab") as f:
        f.write(b'\n{"s": "delivered", "rcpt": ["b@x')  # a crash cut this write
    spool.mark(env.id, {"s": "delivered", "rcpt": ["c@x.org"]})
    state = spool.read(env.id).state
    assert state.delivered == {"c@x.org"}


def test_unsafe_ids_never_reach_the_file_system(spool: Spool) -> None:
    with pytest.raises(ValueError, match="not a spool id"):
        spool.read("../../etc/passwd")
    with pytest.raises(ValueError, match="not a spool id"):
        spool.write(envelope(sid="../x"), RAW)


def test_recover_drops_temp_files_keeps_queue_and_moves_damage_aside(spool: Spool) -> None:
    kept = envelope()
    spool.write(kept, RAW)
    (spool.tmp / new_spool_id()).write_bytes(b"half written, never answered 250")
    bad = new_spool_id()
    (spool.queue / bad).write_bytes(b"FWSPOOL1\n{not json")
    (spool.queue / "README").write_text("not a spool file name: left alone")
    entries, notes = spool.recover()
    assert [e.envelope.id for e in entries] == [kept.id]
    assert not list(spool.tmp.iterdir())
    assert len(notes) == 1 and bad in notes[0]
    assert (spool.damaged / bad).exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "bad magic"),
        (b"FWSPOOL1\n", "envelope line is cut"),
        (b"FWSPOOL1\n[]\n", "envelope is damaged"),
        (b"FWSPOOL1\n\xff\xfe\n", "envelope is damaged"),
    ],
)
def test_parse_refuses_damage(data: bytes, message: str) -> None:
    with pytest.raises(SpoolError, match=message):
        parse_spool_file(data)


def test_parse_refuses_a_cut_message(spool: Spool) -> None:
    env = envelope()
    spool.write(env, RAW)
    data = (spool.queue / env.id).read_bytes()
    header_end = data.index(b"\n", 9) + 1
    with pytest.raises(SpoolError, match="message is cut"):
        parse_spool_file(data[: header_end + 5])


def test_finish_and_fail(spool: Spool) -> None:
    a, b = envelope(), envelope()
    spool.write(a, RAW)
    spool.write(b, RAW)
    spool.finish(a.id)
    spool.finish(a.id)  # twice is fine: a lost unlink is done again after a restart
    target = spool.fail(b.id)
    assert target.read_bytes().startswith(b"FWSPOOL1\n")
    assert spool.queued() == []


def test_write_failure_leaves_nothing(spool: Spool) -> None:
    spool.tmp.rmdir()
    spool.tmp.write_text("in the way")
    env = envelope()
    with pytest.raises(OSError):
        spool.write(env, RAW)
    assert spool.queued() == []


def test_lock_is_exclusive(tmp_path: Path) -> None:
    first, second = Spool(tmp_path / "s"), Spool(tmp_path / "s")
    first.lock()
    try:
        with pytest.raises(SpoolError, match="in use"):
            second.lock()
    finally:
        first.unlock()
    second.lock()
    second.unlock()


def test_large_message(spool: Spool) -> None:
    raw = os.urandom(3 << 20)
    env = dataclasses.replace(envelope(), size=len(raw))
    spool.write(env, raw)
    assert spool.read(env.id).raw == raw


def test_group_commit_writes_each_and_fails_only_its_own(spool: Spool) -> None:
    good = [envelope() for _ in range(3)]
    clash = envelope()
    (spool.tmp / clash.id).write_bytes(b"")  # a temp file in the way: O_EXCL refuses
    items = [(good[0], RAW), (clash, RAW), (good[1], RAW), (good[2], RAW + b"more\r\n")]
    items[3] = (dataclasses.replace(good[2], size=len(RAW) + 6), items[3][1])
    errors = spool.write_many(items)
    assert [e is None for e in errors] == [True, False, True, True]
    assert isinstance(errors[1], FileExistsError)
    assert spool.queued() == sorted(e.id for e in good)
    assert spool.read(good[2].id).raw == RAW + b"more\r\n"
    assert not (spool.queue / clash.id).exists()


def test_committer_batches_concurrent_writers(spool: Spool) -> None:
    async def run() -> SpoolCommitter:
        with ThreadPoolExecutor(2) as pool:
            committer = SpoolCommitter(spool, pool)
            envs = [envelope() for _ in range(40)]
            await asyncio.gather(*(committer.write(env, RAW) for env in envs))
            # A temp file in the way: that one caller gets the error, the batch does not.
            clash = envelope()
            (spool.tmp / clash.id).write_bytes(b"")
            results = await asyncio.gather(
                committer.write(envelope(), RAW), committer.write(clash, RAW),
                return_exceptions=True,
            )  # fmt: skip
            assert results[0] is None
            assert isinstance(results[1], FileExistsError)
            return committer

    committer = asyncio.run(run())
    assert len(spool.queued()) == 41
    assert all(spool.read(sid).raw == RAW for sid in spool.queued())
    assert committer.batches < 41  # writers that came together shared a batch
