"""The quarantine store: held messages as durable files plus rows, every action audited,
a release that can never deliver twice, retention, and hostile input."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import stat
import time
import traceback
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from floodwall.ingest.mail_source import RawMail
from floodwall.mail.scan import ScanResult
from floodwall.normalize.mime import parse_message
from floodwall.records import Finding, Origin, Severity
from floodwall.respond.policy import Policy
from floodwall.respond.relay import RelayTemporaryError
from floodwall.store.db import Store, open_store
from floodwall.store.quarantine import QuarantineError, QuarantineStore

ATTACHED = (
    b"From: Accounts <billing@example.com>\r\nTo: victim@example.org\r\n"
    b"Subject: Invoice\r\nMessage-ID: <inv@example.com>\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\n\r\nSee the invoice.\r\n"
    b"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
    b'Content-Disposition: attachment; filename="invoice.pdf.exe"\r\n\r\n'
    b"TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n"
    b"--b--\r\n"
)


def scanned(raw: bytes, *, subject: str | None = None) -> ScanResult:
    """A scan result with a quarantine verdict, without running the detectors."""
    msg = parse_message(RawMail(Origin("test.eml", 1), raw))
    if subject is not None:
        msg = dataclasses.replace(msg, subject=subject)
    findings = [
        Finding(
            "mail.double_extension",
            "double extension",
            Severity.HIGH,
            evidence={"reason": "poses as .pdf", "attachment": "invoice.pdf.exe"},
        )
    ]
    return ScanResult(msg, tuple(findings), Policy.load(None).decide(findings, msg.unscannable))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path) as opened:
        yield opened


@pytest.fixture
def quarantine(store: Store, tmp_path: Path) -> QuarantineStore:
    return QuarantineStore(store, tmp_path / "quarantine")


def hold(q: QuarantineStore, raw: bytes = ATTACHED, **kwargs: Any) -> str:
    kwargs.setdefault("mail_from", "billing@example.com")
    kwargs.setdefault("rcpt_to", ["victim@example.org", "cfo@example.org"])
    return q.hold(raw, scanned(raw), **kwargs)


class Outbox:
    """A ``send`` that records what it was asked to deliver."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[str, ...], bytes]] = []

    def __call__(self, mail_from: str, rcpt_to: Sequence[str], data: bytes) -> str:
        self.sent.append((mail_from, tuple(rcpt_to), data))
        return "250 queued"


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_hold_keeps_exact_bytes_privately_and_audits(quarantine: QuarantineStore) -> None:
    qid = hold(quarantine, actor="gateway-1")
    msg = quarantine.get(qid)
    assert msg is not None
    path = quarantine.root / msg.file
    assert path.read_bytes() == ATTACHED
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (msg.status, msg.verdict, msg.size) == ("held", "quarantine", len(ATTACHED))
    assert msg.rcpt_to == ("victim@example.org", "cfo@example.org")
    assert (msg.subject, msg.from_addr, msg.message_id) == (
        "Invoice",
        "billing@example.com",
        "<inv@example.com>",
    )
    assert [s.id for s in msg.symbols] == ["mail.double_extension"]
    (att,) = msg.attachments
    assert (att.name, att.true_type, att.findings) == (
        "invoice.pdf.exe",
        "pe",
        ("mail.double_extension",),
    )
    assert ("subject", "Invoice") in msg.headers
    assert [(a.actor, a.action) for a in quarantine.audit(qid)] == [("gateway-1", "hold")]
    assert not [p for p in files_under(quarantine.root) if p.name.endswith(".tmp")]


def test_hold_with_the_same_key_holds_once(quarantine: QuarantineStore) -> None:
    first = hold(quarantine, key="spool-0001")
    again = hold(quarantine, key="spool-0001")
    other = hold(quarantine, key="spool-0002")
    assert first == again != other
    assert len(quarantine.list()) == 2
    assert len(files_under(quarantine.root)) == 2


@pytest.mark.parametrize(
    ("status", "since_days", "until_days", "limit", "offset", "expected"),
    [
        ("held", None, None, 100, 0, ["c", "a"]),
        ("released", None, None, 100, 0, ["b"]),
        (None, None, None, 100, 0, ["c", "b", "a"]),
        (None, None, None, 2, 0, ["c", "b"]),
        (None, None, None, 2, 2, ["a"]),
        (None, -1, None, 100, 0, []),  # since tomorrow
        (None, None, -1, 100, 0, ["c", "b", "a"]),  # until tomorrow
        (None, None, 1, 100, 0, []),  # until yesterday
        ("deleted", None, None, 100, 0, []),
    ],
)
def test_list_filters(
    quarantine: QuarantineStore,
    status: str | None,
    since_days: int | None,
    until_days: int | None,
    limit: int,
    offset: int,
    expected: list[str],
) -> None:
    ids = {}
    for name in "abc":
        ids[name] = hold(quarantine)
        time.sleep(0.002)  # ids are time-ordered; held has a one-second grain
    quarantine.release(ids["b"], actor="t", reason="false positive", send=Outbox())
    names = {v: k for k, v in ids.items()}
    now = datetime.now(UTC)

    def ago(days: int | None) -> datetime | None:
        return None if days is None else now - timedelta(days=days)

    found = quarantine.list(status, ago(since_days), ago(until_days), limit, offset)
    assert [names[m.id] for m in found] == expected


def test_list_refuses_unknown_status(quarantine: QuarantineStore) -> None:
    with pytest.raises(ValueError, match="status"):
        quarantine.list("quarantined")


def test_release_delivers_once_and_audits(quarantine: QuarantineStore) -> None:
    qid = hold(quarantine)
    outbox = Outbox()
    assert quarantine.release(qid, actor="alice", reason="vendor invoice", send=outbox) == (
        "250 queued"
    )
    assert outbox.sent == [
        ("billing@example.com", ("victim@example.org", "cfo@example.org"), ATTACHED)
    ]
    msg = quarantine.get(qid)
    assert msg is not None and msg.status == "released" and msg.release_claim is None
    with pytest.raises(QuarantineError, match="released"):
        quarantine.release(qid, actor="bob", reason="again", send=outbox)
    assert len(outbox.sent) == 1
    trail = [(a.actor, a.action, a.reason, a.detail) for a in quarantine.audit(qid)]
    assert trail[1:] == [("alice", "release", "vendor invoice", "'250 queued'")]


def test_release_drops_the_senders_own_floodwall_fields(quarantine: QuarantineStore) -> None:
    """What the sender wrote as Floodwall's verdict or results never reaches the mailbox
    (RFC 8601 §5), as on the gateway's relay; the held file itself is kept as it came."""
    forged = (
        b"X-Floodwall-Verdict: accept\r\n"
        b"Authentication-Results: floodwall; dmarc=pass header.from=example.com\r\n"
    )
    qid = hold(quarantine, forged + ATTACHED)
    outbox = Outbox()
    quarantine.release(qid, actor="alice", reason="checked", send=outbox)
    assert [data for _, _, data in outbox.sent] == [ATTACHED]
    assert quarantine.raw(qid, actor="alice", reason="audit") == forged + ATTACHED


def test_failed_release_is_recorded_and_the_message_stays_held(
    quarantine: QuarantineStore,
) -> None:
    qid = hold(quarantine)

    def down(mail_from: str, rcpt_to: Sequence[str], data: bytes) -> None:
        raise RelayTemporaryError(451, "4.3.0 next hop busy")

    with pytest.raises(RelayTemporaryError):
        quarantine.release(qid, actor="alice", reason="needed", send=down)
    msg = quarantine.get(qid)
    assert msg is not None and msg.status == "held" and msg.release_claim is None
    last = quarantine.audit(qid)[-1]
    assert (last.action, last.actor) == ("release_failed", "alice")
    assert "451" in last.detail and "busy" in last.detail
    outbox = Outbox()
    quarantine.release(qid, actor="alice", reason="retry", send=outbox)  # a retry works
    assert len(outbox.sent) == 1


def test_interrupted_release_is_refused_until_forced(quarantine: QuarantineStore) -> None:
    qid = hold(quarantine)

    def interrupted(mail_from: str, rcpt_to: Sequence[str], data: bytes) -> None:
        raise KeyboardInterrupt  # nobody knows whether the next hop got it

    with pytest.raises(KeyboardInterrupt):
        quarantine.release(qid, actor="alice", reason="first try", send=interrupted)
    outbox = Outbox()
    with pytest.raises(QuarantineError, match="did not finish"):
        quarantine.release(qid, actor="bob", reason="second", send=outbox)
    with pytest.raises(QuarantineError, match="being released"):
        quarantine.delete(qid, actor="bob", reason="cleanup")
    assert outbox.sent == []
    quarantine.release(qid, actor="bob", reason="checked the next hop", send=outbox, force=True)
    assert len(outbox.sent) == 1
    actions = [a.action for a in quarantine.audit(qid)]
    assert actions == ["hold", "release_failed", "release"]
    assert "forced past the claim of alice" in quarantine.audit(qid)[1].detail


def _release_in_child(data_dir: str, qid: str, barrier: Any, results: Any) -> None:
    try:
        with open_store(Path(data_dir)) as store:
            q = QuarantineStore(store, Path(data_dir) / "quarantine")
            delivered = Path(data_dir) / "delivered"

            def slow_send(mail_from: str, rcpt_to: Sequence[str], data: bytes) -> None:
                with delivered.open("ab") as out:
                    out.write(b"x")
                time.sleep(0.5)  # the other process tries while this one is sending

            barrier.wait()
            try:
                q.release(qid, actor=f"pid{os.getpid()}", reason="race", send=slow_send)
                results.put("released")
            except QuarantineError:
                results.put("refused")
    except BaseException:
        results.put(traceback.format_exc())


@pytest.mark.timeout(60)
def test_two_processes_releasing_at_once_deliver_once(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        qid = hold(QuarantineStore(store, tmp_path / "quarantine"))
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [
        ctx.Process(target=_release_in_child, args=(str(tmp_path), qid, barrier, results))
        for _ in range(2)
    ]
    for p in procs:
        p.start()
    outcomes = sorted(results.get(timeout=50) for _ in procs)
    for p in procs:
        p.join(10)
    assert outcomes == ["refused", "released"]
    assert (tmp_path / "delivered").read_bytes() == b"x"


def _hold_in_child(data_dir: str, writer: int, barrier: Any, results: Any) -> None:
    try:
        with open_store(Path(data_dir)) as store:
            q = QuarantineStore(store, Path(data_dir) / "quarantine")
            barrier.wait()
            ids = [hold(q, key=f"w{writer}-{n}") for n in range(15)]
            ids += [hold(q, key=f"shared-{n}") for n in range(10)]
        results.put(ids)
    except BaseException:
        results.put(traceback.format_exc())


@pytest.mark.timeout(120)
def test_concurrent_holds_from_two_processes(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [
        ctx.Process(target=_hold_in_child, args=(str(tmp_path), w, barrier, results))
        for w in (1, 2)
    ]
    for p in procs:
        p.start()
    got = [results.get(timeout=100) for _ in procs]
    for p in procs:
        p.join(10)
    assert all(isinstance(g, list) for g in got), got
    first, second = got
    assert first[15:] == second[15:]  # the shared keys resolved to the same holds
    with open_store(tmp_path) as store:
        q = QuarantineStore(store, tmp_path / "quarantine")
        held = q.list(limit=1000)
        assert len(held) == 15 + 15 + 10
        assert len(files_under(q.root)) == 40  # no orphan left by a lost race
        assert len(q.audit(limit=1000)) == 40


def test_delete_removes_the_file_keeps_the_record(quarantine: QuarantineStore) -> None:
    qid = hold(quarantine)
    msg = quarantine.get(qid)
    assert msg is not None
    quarantine.delete(qid, actor="carol", reason="confirmed malware")
    assert not (quarantine.root / msg.file).exists()
    gone = quarantine.get(qid)
    assert gone is not None and gone.status == "deleted"
    for act in (
        lambda: quarantine.delete(qid, actor="c", reason="again"),
        lambda: quarantine.release(qid, actor="c", reason="oops", send=Outbox()),
        lambda: quarantine.raw(qid, actor="c", reason="look"),
    ):
        with pytest.raises(QuarantineError, match="deleted"):
            act()
    last = quarantine.audit(qid)[-1]
    assert (last.actor, last.action, last.reason) == ("carol", "delete", "confirmed malware")


@pytest.mark.parametrize("reason", ["", "   ", "\n"])
def test_reason_is_required(quarantine: QuarantineStore, reason: str) -> None:
    qid = hold(quarantine)
    outbox = Outbox()
    with pytest.raises(ValueError, match="reason"):
        quarantine.release(qid, actor="a", reason=reason, send=outbox)
    with pytest.raises(ValueError, match="reason"):
        quarantine.delete(qid, actor="a", reason=reason)
    with pytest.raises(ValueError, match="reason"):
        quarantine.raw(qid, actor="a", reason=reason)
    assert outbox.sent == []
    assert [a.action for a in quarantine.audit(qid)] == ["hold"]


def test_raw_and_show_are_audited(quarantine: QuarantineStore) -> None:
    qid = hold(quarantine)
    assert quarantine.show(qid, actor="dave").id == qid
    assert quarantine.raw(qid, actor="dave", reason="send to the sandbox") == ATTACHED
    trail = [(a.actor, a.action, a.reason) for a in quarantine.audit(qid)]
    assert trail[1:] == [("dave", "show", ""), ("dave", "download", "send to the sandbox")]


@pytest.mark.parametrize(
    ("age_days", "retention", "expired"),
    [(31, 30, 1), (29, 30, 0), (1, 0, 1), (400, 365, 1)],
)
def test_purge_expires_held_messages_past_retention(
    quarantine: QuarantineStore, age_days: int, retention: int, expired: int
) -> None:
    qid = hold(quarantine)
    msg = quarantine.get(qid)
    assert msg is not None
    later = datetime.now(UTC) + timedelta(days=age_days)
    assert quarantine.purge(retention, now=later) == expired
    after = quarantine.get(qid)
    assert after is not None
    assert after.status == ("expired" if expired else "held")
    assert (quarantine.root / msg.file).exists() is not bool(expired)
    if expired:
        last = quarantine.audit(qid)[-1]
        assert (last.actor, last.action) == ("retention", "expire")
        assert quarantine.purge(retention, now=later) == 0  # only once


def test_purge_drops_files_of_old_released_messages(quarantine: QuarantineStore) -> None:
    qid = hold(quarantine)
    quarantine.release(qid, actor="a", reason="ok", send=Outbox())
    msg = quarantine.get(qid)
    assert msg is not None
    later = datetime.now(UTC) + timedelta(days=31)
    assert quarantine.purge(30, now=later) == 1
    after = quarantine.get(qid)
    assert after is not None and after.status == "released" and after.file == ""
    assert not (quarantine.root / msg.file).exists()
    assert quarantine.purge(30, now=later) == 0
    with pytest.raises(QuarantineError, match="gone"):
        quarantine.raw(qid, actor="a", reason="look")


def test_purge_refuses_negative_retention(quarantine: QuarantineStore) -> None:
    with pytest.raises(ValueError):
        quarantine.purge(-1)


@pytest.mark.parametrize(
    "bad_id",
    [
        "../../../etc/passwd",
        "..",
        "",
        "18eafc0b6cf26a39933d213445c6550",  # 31 digits
        "18EAFC0B6CF26A39933D213445C65509",  # upper case
        "18eafc0b6cf26a39933d213445c65509/../x",
        "18eafc0b6cf26a39933d213445c6550\x00",
        "%2e%2e%2f%2e%2e",
    ],
)
def test_malformed_ids_are_refused(quarantine: QuarantineStore, bad_id: str) -> None:
    hold(quarantine)
    with pytest.raises(ValueError, match="not a quarantine id"):
        quarantine.get(bad_id)
    with pytest.raises(ValueError, match="not a quarantine id"):
        quarantine.raw(bad_id, actor="a", reason="r")
    with pytest.raises(ValueError, match="not a quarantine id"):
        quarantine.release(bad_id, actor="a", reason="r", send=Outbox())
    with pytest.raises(ValueError, match="not a quarantine id"):
        quarantine.delete(bad_id, actor="a", reason="r")
    with pytest.raises(ValueError, match="not a quarantine id"):
        quarantine.audit(bad_id)


def test_unknown_id_is_none_or_refused(quarantine: QuarantineStore) -> None:
    unknown = "0" * 32
    assert quarantine.get(unknown) is None
    with pytest.raises(QuarantineError, match="no quarantined message"):
        quarantine.delete(unknown, actor="a", reason="r")


def test_a_tampered_file_path_cannot_leave_the_root(
    quarantine: QuarantineStore, store: Store
) -> None:
    qid = hold(quarantine)
    with store.write() as conn:
        conn.execute("UPDATE quarantine SET file = '../floodwall.db' WHERE id = ?", (qid,))
    with pytest.raises(QuarantineError, match="outside"):
        quarantine.raw(qid, actor="a", reason="r")


def test_resolve_prefix(quarantine: QuarantineStore) -> None:
    qid = hold(quarantine)
    assert quarantine.resolve(qid) == qid
    with pytest.raises(QuarantineError, match="no quarantined"):
        quarantine.resolve("ffffff")
    with pytest.raises(ValueError):
        quarantine.resolve("../x")
    other = hold(quarantine)
    # Ids start with the time in nanoseconds: two holds a moment apart share 8 digits.
    assert qid[:8] == other[:8]
    with pytest.raises(QuarantineError, match="more than one"):
        quarantine.resolve(qid[:8])
    assert quarantine.resolve(other[:31]) == other


def test_ten_megabyte_message(quarantine: QuarantineStore) -> None:
    raw = ATTACHED + b"A" * 76 + (b"\r\n" + b"B" * 76) * (10 * 1024 * 1024 // 78)
    assert len(raw) > 10_000_000
    qid = quarantine.hold(raw, scanned(raw), mail_from="a@x.org", rcpt_to=["b@x.org"])
    msg = quarantine.get(qid)
    assert msg is not None and msg.size == len(raw)
    assert quarantine.raw(qid, actor="a", reason="check") == raw


def test_invalid_utf8_headers(quarantine: QuarantineStore) -> None:
    raw = (
        b"From: \xff\xfe <x@example.com>\r\nSubject: caf\xe9 \xc3\x28 =?bogus?Q?x?=\r\n"
        b"X-Odd: \x80\x81\r\n\r\nbody\r\n"
    )
    qid = quarantine.hold(raw, scanned(raw), mail_from="x@example.com", rcpt_to=["y@x.org"])
    msg = quarantine.get(qid)
    assert msg is not None
    assert "caf" in msg.subject
    assert msg.subject.encode("utf-8")  # stored text is valid UTF-8
    assert quarantine.raw(qid, actor="a", reason="r") == raw


def test_lone_surrogates_are_replaced(quarantine: QuarantineStore) -> None:
    result = scanned(ATTACHED, subject="urgent \udcff\ud800 pay")
    qid = quarantine.hold(
        ATTACHED, result, mail_from="\udce9vil@x.org", rcpt_to=["b\udc80@x.org"], actor="\ud800"
    )
    msg = quarantine.get(qid)
    assert msg is not None
    assert msg.subject == "urgent ?? pay"
    assert msg.mail_from == "?vil@x.org" and msg.rcpt_to == ("b?@x.org",)
    assert quarantine.audit(qid)[0].actor == "?"
