"""The dashboard's top lists count each alert on the same day as the daily figures do."""

from __future__ import annotations

from datetime import date

from floodwall.console.dashboard import top_lists
from floodwall.store.db import Store

DAY = date(2026, 11, 20)


def _alert(store: Store, n: int, created: str, timestamp: str | None, host: str,
           campaign: str | None = None) -> None:  # fmt: skip
    with store.write() as conn:
        conn.execute(
            "INSERT INTO alerts (id, created, timestamp, host, level, severity, rule_id,"
            " rule_title, finding, campaign_id) VALUES (?, ?, ?, ?, 'high', 3, 'sigma.x', 't',"
            " '{}', ?)",
            (f"{n:032x}", created, timestamp, host, campaign),
        )


def test_event_day_first_then_stored_day(store: Store) -> None:
    _alert(store, 1, "2026-11-21T01:00:00+00:00", "2026-11-20T23:00:00Z", "late-host", "C1")
    _alert(store, 2, "2026-11-20T10:00:00+00:00", None, "undated", "C1")
    _alert(store, 3, "2026-11-20T11:00:00+00:00", "Nov 20 11:00:00", "syslog-time")
    _alert(store, 4, "2026-11-20T12:00:00+00:00", "2026-11-19T12:00:00Z", "yesterday")
    _alert(store, 5, "2026-11-20T13:00:00+00:00", "2026-11-20T13:00:00Z", "late-host")
    tops = top_lists(store.connection, DAY)
    assert tops["hosts"] == [
        {"key": "late-host", "alerts": 2},
        {"key": "syslog-time", "alerts": 1},
        {"key": "undated", "alerts": 1},
    ]
    assert tops["campaigns"] == [{"key": "C1", "alerts": 2}]
    assert top_lists(store.connection, date(2026, 11, 19))["hosts"] == [
        {"key": "yesterday", "alerts": 1}
    ]
    assert tops["recipients"] == []


def test_recipients_of_mail_not_simply_accepted(store: Store) -> None:
    with store.write() as conn:
        for i, (verdict, sha) in enumerate(
            [("quarantine", "a"), ("tag", "a"), ("accept", "b"), ("reject", "c")]
        ):
            conn.execute(
                "INSERT INTO messages (id, scanned, source, path, sha256, verdict, score)"
                " VALUES (?, '2026-11-20T09:00:00Z', 'gateway', '-', ?, ?, 1.0)",
                (f"m{i}", sha * 64, verdict),
            )
        conn.executemany(
            "INSERT INTO message_keys (sha256, kind, value) VALUES (?, 'rcpt', ?)",
            [("a" * 64, "cfo@example.org"), ("b" * 64, "all@example.org"),
             ("c" * 64, "cfo@example.org"), ("c" * 64, "it@example.org")],
        )  # fmt: skip
    assert top_lists(store.connection, DAY)["recipients"] == [
        {"key": "cfo@example.org", "messages": 3},
        {"key": "it@example.org", "messages": 1},
    ]
