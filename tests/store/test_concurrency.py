"""Separate processes write and read the same store at once, and nobody is locked out.

Two writer processes add findings in many small transactions while a reader process
polls counts and lists, all for about three seconds, starting together on a fresh
data directory (so they also race to create and migrate it). Every error in a child
is sent back, so a "database is locked" cannot hide in a child's stderr.
"""

from __future__ import annotations

import multiprocessing
import time
import traceback
from pathlib import Path
from typing import Any

import pytest

from floodwall.ingest.intake import IntakeLog
from floodwall.records import Event, Finding, Origin, Severity
from floodwall.store.alerts import AlertStore
from floodwall.store.db import open_store
from floodwall.store.migrations import load_migrations

RUN_S = 3.0


def _finding(writer: int, n: int) -> Finding:
    event = Event(
        origin=Origin(f"/logs/writer{writer}.ndjson", n + 1),
        timestamp=f"2024-05-01T00:00:{n % 60:02d}Z",
        host_name=f"host-{writer}",
        fields={"writer": writer, "n": n, "CommandLine": "x" * 200},
    )
    return Finding(f"test.writer{writer}", "concurrency", Severity(n % 5), event=event)


def _writer(data_dir: str, writer: int, barrier: Any, results: Any) -> None:
    try:
        barrier.wait()
        with open_store(Path(data_dir)) as store:
            alerts = AlertStore(store)
            hunt = alerts.start_hunt(["writer", str(writer)], [])
            written = calls = 0
            began = time.time()
            while time.time() - began < RUN_S:
                size = 1 + calls % 3  # 1..3 findings: many small transactions
                batch = [_finding(writer, written + i) for i in range(size)]
                written += alerts.add_findings(hunt, batch)
                calls += 1
            intake = IntakeLog()
            intake.count(f"/logs/writer{writer}.ndjson", written)
            alerts.finish_hunt(
                hunt, events=written, matches=written, rules_loaded=1, rules_failed=0, intake=intake
            )
        results.put(("writer", writer, hunt, written, calls, began, time.time()))
    except BaseException:
        results.put(("error", writer, traceback.format_exc()))


def _reader(data_dir: str, barrier: Any, results: Any) -> None:
    try:
        barrier.wait()
        with open_store(Path(data_dir)) as store:
            alerts = AlertStore(store)
            polls = last = 0
            went_back = []
            began = time.time()
            while time.time() - began < RUN_S + 0.5:
                count = alerts.count_alerts()
                if count < last:
                    went_back.append((last, count))
                last = count
                alerts.list_alerts(limit=20, level_at_least=Severity.HIGH)
                polls += 1
        results.put(("reader", polls, last, went_back))
    except BaseException:
        results.put(("error", "reader", traceback.format_exc()))


def test_two_writers_and_a_reader_in_separate_processes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = multiprocessing.get_context("spawn")
    data = str(tmp_path / "shared")
    barrier = ctx.Barrier(3)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_writer, args=(data, 1, barrier, results)),
        ctx.Process(target=_writer, args=(data, 2, barrier, results)),
        ctx.Process(target=_reader, args=(data, barrier, results)),
    ]
    for p in procs:
        p.start()
    try:
        outcomes = [results.get(timeout=120) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=60)
        results.close()
        results.join_thread()

    errors = [o for o in outcomes if o[0] == "error"]
    assert not errors, "\n".join(str(e[2]) for e in errors)
    assert [p.exitcode for p in procs] == [0, 0, 0]

    writers = {o[1]: o for o in outcomes if o[0] == "writer"}
    (reader,) = [o for o in outcomes if o[0] == "reader"]
    _, polls, _, went_back = reader
    assert went_back == [], "a reader saw the count go down"
    assert polls > 20, f"reader only polled {polls} times"

    # The writers ran at the same time, each in many transactions.
    (_, _, _, _, calls1, began1, ended1) = writers[1]
    (_, _, _, _, calls2, began2, ended2) = writers[2]
    assert max(began1, began2) < min(ended1, ended2)
    assert calls1 > 50 and calls2 > 50, (calls1, calls2)
    with capsys.disabled():
        print(f"\nconcurrency: writer transactions {calls1} + {calls2}, reader polls {polls}")

    with open_store(Path(data)) as store:
        alerts = AlertStore(store)
        for _, writer, hunt, written, *_ in writers.values():
            assert alerts.count_alerts(hunt_id=hunt) == written
            stored = alerts.get_hunt(hunt)
            assert stored is not None and stored.events == written
            assert stored.intake[0].received == written
            (row,) = store.connection.execute(
                "SELECT count(DISTINCT json_extract(finding, '$.event.fields.n'))"
                " FROM alerts WHERE hunt_id = ?",
                (hunt,),
            ).fetchall()
            assert row == (written,), f"writer {writer} lost or duplicated findings"
        assert alerts.count_alerts() == sum(w[3] for w in writers.values())
        applied = store.connection.execute("SELECT count(*) FROM schema_migrations").fetchone()
        assert applied == (len(load_migrations()),)
