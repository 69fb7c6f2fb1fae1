"""The dashboard: one data path for the web page, the API and the report; its top lists
count each alert on the same day as the daily figures do; its trend cache."""

from __future__ import annotations

import re
from contextlib import closing
from datetime import date
from pathlib import Path

import pytest
from console_util import PASSWORD, build_console, live_server, sign_in

from floodwall.console.dashboard import TREND_DAYS, DashboardReader, top_lists
from floodwall.console.passwords import PasswordHasherAdapter
from floodwall.console.report import gather
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
    assert tops["campaigns"] == [{"key": "C1", "alerts": 2, "messages": 0}]
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
    with store.write() as conn:  # mail-only campaigns count in the top list too
        conn.execute("UPDATE messages SET campaign_id = 'M1' WHERE id IN ('m0', 'm3')")
    assert top_lists(store.connection, DAY)["campaigns"] == [
        {"key": "M1", "alerts": 0, "messages": 2}
    ]
    assert top_lists(store.connection, DAY)["recipients"] == [
        {"key": "cfo@example.org", "messages": 3},
        {"key": "it@example.org", "messages": 1},
    ]


def _page_number(html: str, figure: str) -> int:
    found = re.search(rf'id="fig-{figure}">.*?class="num">(\d+)<', html, re.DOTALL)
    assert found is not None, f"no {figure} figure on the page"
    return int(found.group(1))


def test_page_and_api_show_the_same_dashboard_through_one_cache(
    tmp_path: Path, hasher: PasswordHasherAdapter
) -> None:
    app, store, *_ = build_console(tmp_path, hasher)
    # The last day with a log alert: the samples are stored an hour apart up to two hours
    # ago, so between 02:00 and 03:00 UTC the newest day holds only the mail alert, which
    # the figures count with the messages, not as a log detection.
    (last,) = store.connection.execute(
        "SELECT max(substr(created, 1, 10)) FROM alerts WHERE rule_id NOT LIKE 'mail.%'"
    ).fetchone()
    reader: DashboardReader = app.state.console.dashboards
    with live_server(app) as base, closing(sign_in(base, "viewer", PASSWORD)) as c:
        api = c.get("/api/dashboard", params={"day": last})
        assert api.status_code == 200, api.text
        dash = api.json()
        assert reader.computed_days == TREND_DAYS - 1  # the day itself came with its figures
        page = c.get("/", params={"day": last})
        assert page.status_code == 200
        assert reader.computed_days == 0  # the page's trend came from the API's cache
        fig = dash["figures"]
        assert fig["seen"] > 0
        for name, key in (("seen", "seen"), ("blocked", "blocked"), ("through", "got_through")):
            assert _page_number(page.text, name) == fig[key]
        assert dash["figures_trend"][-1]["seen"] == fig["seen"]
        for row in dash["top"]["hosts"]:
            assert f'<td>{row["key"]}</td><td class="n">{row["alerts"]}</td>' in page.text
        for t in dash["top"]["techniques"]:
            assert t["url"] in page.text and t["key"] != "none"
        # The daily report reads the same path.
        report = gather(store, date.fromisoformat(last), home_country="")
        assert report.figures.to_json() == fig
        assert [t.seen for t in report.trend] == [t["seen"] for t in dash["figures_trend"]]
    store.close()


def test_trend_cache_counts_only_the_days_that_changed(store: Store) -> None:
    # (From an empty table, the first row moves min(rowid), which the cache reads as a
    # deletion and recounts everything: start with one.)
    _alert(store, 1, "2026-11-20T10:00:00+00:00", "2026-11-20T10:00:00Z", "ws1")
    reader = DashboardReader()
    first = reader.dashboard(store, DAY, home_country="DE")
    assert reader.computed_days == TREND_DAYS - 1 and len(first.trend) == TREND_DAYS
    again = reader.dashboard(store, DAY, home_country="DE")
    assert reader.computed_days == 0 and again.trend == first.trend
    # An alert arrives for three days ago: that day alone is counted again, and right.
    _alert(store, 9, "2026-11-20T08:00:00+00:00", "2026-11-17T08:00:00Z", "late-host")
    after = reader.dashboard(store, DAY, home_country="DE")
    assert reader.computed_days == 1
    assert {t.day: t.seen for t in after.trend if t.seen} == {
        date(2026, 11, 17): 1,
        DAY: 1,
    }
    assert reader.trend(store, date(2026, 11, 17), date(2026, 11, 17))[0].seen == 1
    with pytest.raises(ValueError, match="trend covers"):
        reader.dashboard(store, DAY, home_country="DE", trend_days=0)


def test_silent_source_and_losses_show_in_intake(store: Store) -> None:
    with store.write() as conn:
        conn.execute(
            "INSERT INTO messages (id, scanned, source, path, sha256, verdict, score)"
            " VALUES ('m1', '2026-11-18T09:00:00Z', 'gateway', '-', ?, 'quarantine', 1.0)",
            ("d" * 64,),
        )
    dash = DashboardReader().dashboard(store, DAY, home_country="DE")
    assert [(r.source, r.warnings) for r in dash.intake] == [
        ("mail:gateway", ("silent since 2026-11-18",))
    ]
    assert dash.to_json()["intake"][0]["dropped"] is None  # not recorded, never a made-up 0
