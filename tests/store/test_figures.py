"""The daily figures on a hand-built store: exact numbers for every split and loss."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from floodwall.store.db import Store
from floodwall.store.figures import (
    ORIGINS,
    DayFigures,
    DayTotals,
    SourceLoss,
    Split,
    daily_figures,
    figures_range,
    techniques_seen,
)

if "figures_store" not in sys.modules:
    _spec = importlib.util.spec_from_file_location(
        "figures_store", Path(__file__).with_name("figures_store.py")
    )
    assert _spec is not None and _spec.loader is not None
    sys.modules["figures_store"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["figures_store"])

import figures_store as fs

DAY = fs.DAY


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = fs.build_store(tmp_path)
    yield s
    s.close()


def split(splits: tuple[Split, ...], key: str) -> tuple[int, int, int]:
    (s,) = [s for s in splits if s.key == key]
    return (s.seen, s.blocked, s.got_through)


def test_totals_count_each_recipient_and_fold_duplicates(store: Store) -> None:
    f = daily_figures(store, DAY)
    assert (f.seen, f.blocked, f.got_through) == (10, 4, 6)
    assert split(f.by_source, "mail") == (6, 4, 2)
    assert split(f.by_source, "logs") == (4, 0, 4)
    assert f.log_alerts == 6  # six alert rows that day folded into four attacks
    assert f.fold_minutes == 60
    assert [s.key for s in f.by_source] == ["mail", "logs"]


@pytest.mark.parametrize(("fold", "logs"), [(1440, 3), (60, 4), (15, 6), (1, 6)])
def test_fold_window_decides_what_is_one_attack(store: Store, fold: int, logs: int) -> None:
    # A/h1 at 10:05, 10:40, 10:59:59, 11:01; A/h2 10:10; B/h1 10:10.
    # 1440: A/h1 one; 60: A/h1 two; 15 min: 10:00-14, 10:30-44, 10:45-59, 11:00-14 -> 4.
    f = daily_figures(store, DAY, fold_minutes=fold)
    assert split(f.by_source, "logs") == (logs, 0, logs)
    assert f.seen == 6 + logs


def test_fold_window_must_divide_a_day(store: Store) -> None:
    for bad in (0, -5, 7, 1441):
        with pytest.raises(ValueError, match="divide a day"):
            daily_figures(store, DAY, fold_minutes=bad)


def test_origin_split_has_every_class_in_a_fixed_order(store: Store) -> None:
    f = daily_figures(store, DAY)
    assert tuple(s.key for s in f.by_origin) == ORIGINS
    # Folded A/h1 attacks take their first alert's origin: both RU abroad.
    assert split(f.by_origin, "abroad") == (5, 3, 2)  # m1 x3 + A/h1 x2
    assert split(f.by_origin, "domestic") == (1, 1, 0)  # m2
    assert split(f.by_origin, "internal") == (1, 0, 1)  # A/h2
    assert split(f.by_origin, "obscured") == (0, 0, 0)
    assert split(f.by_origin, "unknown") == (3, 0, 3)  # m3 x2 + B/h1
    assert sum(s.seen for s in f.by_origin) == f.seen


def test_home_country_re_derives_domestic_and_abroad(store: Store) -> None:
    f = daily_figures(store, DAY, home_country="cn")
    assert f.home_country == "CN"
    assert split(f.by_origin, "domestic") == (3, 3, 0)  # m1 from CN
    assert split(f.by_origin, "abroad") == (3, 1, 2)  # m2 from DE, A/h1 x2 from RU
    assert split(f.by_origin, "internal") == (1, 0, 1)


def test_country_split(store: Store) -> None:
    f = daily_figures(store, DAY)
    assert split(f.by_country, "CN") == (3, 3, 0)
    assert split(f.by_country, "RU") == (2, 0, 2)
    assert split(f.by_country, "DE") == (1, 1, 0)
    assert split(f.by_country, "unknown") == (4, 0, 4)  # m3 x2, A/h2, B/h1
    assert sum(s.seen for s in f.by_country) == f.seen
    assert [s.key for s in f.by_country] == ["unknown", "CN", "RU", "DE"]  # largest first


def test_technique_split_counts_each_technique_of_an_attack(store: Store) -> None:
    f = daily_figures(store, DAY)
    assert split(f.by_technique, "T1566.001") == (3, 3, 0)
    assert split(f.by_technique, "T1204.002") == (3, 3, 0)
    assert split(f.by_technique, "T1566.002") == (1, 1, 0)
    assert split(f.by_technique, "T1059.001") == (3, 0, 3)
    assert split(f.by_technique, "T1003.001") == (1, 0, 1)
    assert split(f.by_technique, "T1078") == (1, 0, 1)
    assert split(f.by_technique, "none") == (2, 0, 2)  # m3, two recipients


def test_losses_per_source_and_unfinished_hunts(store: Store) -> None:
    today = datetime.now(UTC).date()
    f = daily_figures(store, today)
    assert f.losses == (
        SourceLoss("logs:/logs/x.evtx", 120, 0),
        SourceLoss("logs:/logs/y.json", 40, 2),
    )
    assert f.losses[0].dropped is None and f.losses[0].late is None  # not recorded
    assert f.unfinished_hunts == 1
    mail = daily_figures(store, DAY).losses
    assert mail == (SourceLoss("mail:gateway", 4, 0), SourceLoss("mail:scan", 1, 1))


def test_mail_alerts_are_not_counted_twice_and_undated_alerts_count_when_stored(
    store: Store,
) -> None:
    today = datetime.now(UTC).date()
    from floodwall.store.alerts import AlertStore

    before = daily_figures(store, today)
    AlertStore(store).add_findings(
        None,
        [
            fs.finding(fs.RULE_A, "h9", None, ("T1105",)),  # no event time: stored today
            fs.finding(fs.RULE_A, "h9", "not a time", ("T1105",)),  # unreadable: same
            fs.finding("mail.macro_autoexec", None, "2026-03-10T10:00:00Z", ("T1566.001",)),
        ],
    )
    after = daily_figures(store, today)
    assert split(after.by_source, "logs")[0] == split(before.by_source, "logs")[0] + 1
    assert daily_figures(store, DAY).seen == 10  # the mail.* alert is not a log attack


def test_range_matches_the_days_and_fills_empty_days(store: Store) -> None:
    days = figures_range(store, DAY - timedelta(days=2), DAY + timedelta(days=1))
    assert [(d.day, d.seen, d.blocked, d.got_through, d.mail_seen, d.logs_seen) for d in days] == [
        (date(2026, 3, 8), 0, 0, 0, 0, 0),
        (date(2026, 3, 9), 1, 0, 1, 0, 1),
        (date(2026, 3, 10), 10, 4, 6, 6, 4),
        (date(2026, 3, 11), 1, 1, 0, 1, 0),
    ]
    for d in days:
        one = daily_figures(store, d.day)
        assert (one.seen, one.blocked, one.got_through) == (d.seen, d.blocked, d.got_through)
    with pytest.raises(ValueError, match="ends before"):
        figures_range(store, DAY, DAY - timedelta(days=1))


def test_techniques_seen_over_a_period(store: Store) -> None:
    seen = techniques_seen(store, DAY - timedelta(days=1), DAY + timedelta(days=1))
    assert seen == {
        "T1566.001": 4,  # m1 x3, m5
        "T1204.002": 3,
        "T1566.002": 1,
        "T1059.001": 4,  # A/h1 on the 9th, A/h1 x2, A/h2
        "T1003.001": 1,
        "T1078": 1,
    }


def test_empty_store_gives_zeros_not_errors(tmp_path: Path) -> None:
    from floodwall.store.db import open_store

    with open_store(tmp_path) as s:
        f = daily_figures(s, DAY)
        assert (f.seen, f.blocked, f.got_through, f.log_alerts) == (0, 0, 0, 0)
        assert [x.key for x in f.by_origin] == list(ORIGINS)
        assert f.by_country == () and f.by_technique == () and f.losses == ()


def test_hostile_attack_columns_do_not_break_the_figures(store: Store) -> None:
    # Written by hand or by an older version: not JSON, a bare string, numbers.
    fs.insert_message(store, ("h1", "2026-03-10T15:00:00Z", "gateway", 1, "reject", None,
                              "unknown", [], []))  # fmt: skip
    fs.insert_message(store, ("h2", "2026-03-10T15:00:00Z", "gateway", 1, "reject", None,
                              "unknown", [], []))  # fmt: skip
    fs.insert_message(store, ("h3", "2026-03-10T15:00:00Z", "gateway", 1, "reject", None,
                              "unknown", [], []))  # fmt: skip
    with store.write() as conn:
        conn.execute("UPDATE messages SET attack = '{not json' WHERE id = 'h1'")
        conn.execute("UPDATE messages SET attack = '\"T1566\"' WHERE id = 'h2'")
        conn.execute("UPDATE messages SET attack = '[1, null, \"T1566\"]' WHERE id = 'h3'")
        conn.execute("UPDATE alerts SET attack = 'garbage' WHERE host = 'h2'")
    f = daily_figures(store, DAY)
    assert f.seen == 13
    assert split(f.by_technique, "T1566") == (2, 2, 0)
    assert split(f.by_technique, "none") == (4, 1, 3)  # m3 x2, h1, A/h2


def test_json_has_stable_keys(store: Store) -> None:
    doc = daily_figures(store, DAY).to_json()
    assert list(doc) == [
        "day", "home_country", "fold_minutes", "seen", "blocked", "got_through",
        "log_alerts", "by_source", "by_origin", "by_country", "by_technique", "losses",
        "unfinished_hunts",
    ]  # fmt: skip
    assert doc["by_source"][0] == {"key": "mail", "seen": 6, "blocked": 4, "got_through": 2}
    assert isinstance(daily_figures(store, DAY), DayFigures)


def test_a_day_uses_the_indexes(store: Store) -> None:
    # EXPLAIN QUERY PLAN: every table read is a SEARCH on an index, never a full SCAN.
    from floodwall.store import figures as F

    p = F._params(DAY, DAY + timedelta(days=1), 60)
    plan = [
        row[3]
        for sql in (F._LOG_ROWS, F._MAIL_ROWS)
        for row in store.connection.execute("EXPLAIN QUERY PLAN " + sql, p)
    ]
    assert any("alerts USING" in r and "timestamp" in r for r in plan), plan
    assert any("messages USING" in r and "scanned" in r for r in plan), plan
    assert not any(r.startswith("SCAN alerts") or r.startswith("SCAN messages") for r in plan)


def test_cached_range_recounts_only_the_days_that_changed(store: Store) -> None:
    from floodwall.store.alerts import AlertStore
    from floodwall.store.figures import TotalsCache

    first, last = DAY - timedelta(days=2), DAY + timedelta(days=1)
    cache: TotalsCache[DayTotals] = TotalsCache()
    plain = figures_range(store, first, last)
    assert figures_range(store, first, last, cache=cache) == plain
    assert cache.computed_days == 4
    assert figures_range(store, first, last, cache=cache) == plain
    assert cache.computed_days == 0
    # A late hunt adds an alert dated the 9th: only the 9th is counted again.
    AlertStore(store).add_findings(
        None, [fs.finding(fs.RULE_B, "h5", "2026-03-09T08:00:00Z", ("T1078",))]
    )
    again = figures_range(store, first, last, cache=cache)
    assert cache.computed_days == 1
    assert again == figures_range(store, first, last)
    assert [d.seen for d in again] == [0, 2, 10, 1]
    # Mail on the 11th.
    fs.insert_message(store, ("n1", "2026-03-11T09:00:00Z", "gateway", 2, "tag", None,
                              "unknown", [], []))  # fmt: skip
    assert [d.seen for d in figures_range(store, first, last, cache=cache)] == [0, 2, 10, 3]
    assert cache.computed_days == 1
    # A wider period computes only the new days.
    figures_range(store, first - timedelta(days=3), last, cache=cache)
    assert cache.computed_days == 3
    # Rows deleted (no stage does, but a hand may): everything is counted again.
    with store.write() as conn:
        conn.execute("DELETE FROM messages WHERE id = 'n1'")
    assert [d.seen for d in figures_range(store, first, last, cache=cache)] == [0, 2, 10, 1]
    assert cache.computed_days == 4


def test_daily_figures_fills_the_cache_for_the_trend(store: Store) -> None:
    from floodwall.store.figures import TotalsCache

    cache: TotalsCache[DayTotals] = TotalsCache()
    first, last = DAY - timedelta(days=2), DAY
    figures_range(store, first, last, cache=cache)
    fs.insert_message(store, ("n2", "2026-03-10T16:00:00Z", "gateway", 1, "reject", None,
                              "unknown", [], []))  # fmt: skip
    day = daily_figures(store, DAY, cache=cache)  # the dashboard's day, read once
    assert day.totals() == DayTotals(DAY, 11, 5, 6, 7, 4)
    trend = figures_range(store, first, last, cache=cache)
    assert cache.computed_days == 0  # the day came from daily_figures
    assert trend == figures_range(store, first, last)
