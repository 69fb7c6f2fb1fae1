"""The hunt's side of the observable archive: values stored in the intel normal form,
hostile values left out, and the memo of normalized values (bounded) giving the same
rows as normalizing every time."""

from __future__ import annotations

from pathlib import Path

import pytest

from floodwall.hunt import observed
from floodwall.hunt.observed import ObservedArchive
from floodwall.settings import Settings
from floodwall.store.archive import ObservableArchive

SHA = "d" * 64
ROWS = [
    ("2026-11-02T10:00:00Z", "ws1", "a.ndjson#1", [("ip", "10.0.0.1"), ("sha256", SHA.upper())]),
    ("2026-11-02T10:00:01Z", "ws1", "a.ndjson#2", [("ip", "10.0.0.1"), ("ip", "999.1.1.1")]),
    ("2026-11-02T10:00:02Z", None, "a.ndjson#3", [("hostname", "WWW.Example.COM.")]),
    ("bad time", "ws2", "a.ndjson#4", [("sha256", SHA.upper()), ("ip", "\udcff")]),
    ("2026-11-02T10:00:03Z", "ws2", "a.ndjson#5", [("ip", "2001:DB8::1"), ("nonsense", "x")]),
]


@pytest.mark.parametrize("limit", [65536, 1])
def test_rows_are_normalized_and_hostile_values_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    monkeypatch.setattr(observed, "MEMO_LIMIT", limit)
    archive = ObservedArchive.open(Settings(data_dir=tmp_path))
    assert archive is not None
    archive.add("logs", ROWS)
    archive.add("logs", ROWS[:2])  # again, from the memo (or after it was cleared)
    archive.__exit__(None, None, None)
    assert archive.written == 9
    got = sorted(
        (o.ref, o.kind, o.value, o.host)
        for o in ObservableArchive(tmp_path / "archive" / "observables").read()
    )
    once = [
        ("a.ndjson#1", "ip", "10.0.0.1", "ws1"),
        ("a.ndjson#1", "sha256", SHA, "ws1"),
        ("a.ndjson#2", "ip", "10.0.0.1", "ws1"),
    ]
    assert got == sorted(
        [
            *once,
            *once,
            ("a.ndjson#3", "domain", "www.example.com", ""),
            ("a.ndjson#4", "sha256", SHA, "ws2"),
            ("a.ndjson#5", "ip", "2001:db8::1", "ws2"),
        ]
    )
    assert len(archive._normal) <= max(limit, 1)
