"""The mail_domains table (migration 0009): first and last sightings of the registered
domains named in mail, and the history loaded from it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from floodwall.mail.domain_feed import (
    FLUSH_SECONDS,
    OVERLAP_SECONDS,
    REFRESH_SECONDS,
    DomainFeed,
)
from floodwall.records import Link, MailMessage, Origin
from floodwall.store.db import Store, open_store
from floodwall.store.mail_domains import MailDomainStore

T = 1_900_000_000.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path) as s:
        yield s


def test_sightings_keep_the_first_and_last_time_and_count(store: Store) -> None:
    domains = MailDomainStore(store)
    assert domains.observe([(["a.example", "b.example"], T), (["a.example"], T + 50)]) == 3
    assert domains.observe([(["a.example"], T - 10)]) == 1  # a late writer's older sighting
    rows = store.connection.execute(
        "SELECT domain, first_seen, last_seen, messages FROM mail_domains ORDER BY domain"
    ).fetchall()
    assert rows == [("a.example", T - 10, T + 50, 3), ("b.example", T, T, 1)]
    history = domains.load()
    assert (history.first_seen("a.example"), history.first_seen("b.example")) == (T - 10, T)
    assert history.since == T - 10
    assert domains.first_seen_since(T) == {"b.example": T}


def test_load_keeps_the_most_recently_seen(store: Store) -> None:
    domains = MailDomainStore(store)
    domains.observe([(["old.example"], T), (["new.example"], T + 100)])
    history = domains.load(limit=1)
    assert (history.first_seen("new.example"), history.first_seen("old.example")) == (T + 100, None)
    assert history.since == T  # the table's history still runs from its first sighting


def test_hostile_names_are_stored(store: Store) -> None:
    domains = MailDomainStore(store)
    assert domains.observe([(["\udcff.example", "x" * 10_000, ""], T)]) == 3
    assert len(domains.load()) == 3


def test_empty_store_has_no_history(store: Store) -> None:
    history = MailDomainStore(store).load()
    assert (len(history), history.since, history.learned_for(T)) == (0, None, 0.0)
    assert MailDomainStore(store).observe([]) == 0


def test_feed_adds_what_it_scans_and_merges_what_others_stored(
    store: Store, tmp_path: Path
) -> None:
    from floodwall.detect.mail.reference import load_psl

    feed = DomainFeed.open(store, load_psl(), T)
    msg = MailMessage(
        Origin("t", 1), "<m@t>", "0" * 64, (), "a@mail.sender.example", "",
        links=(Link("https://www.landing.example/x"), Link("mailto:b@c.example")),
    )  # fmt: skip
    feed.saw(msg, T + 1)
    assert feed.history.first_seen("landing.example") == T + 1  # at once, in memory
    assert feed.pending == [(["sender.example", "landing.example"], T + 1)]
    feed.tick(T + FLUSH_SECONDS / 2)
    assert feed.pending and MailDomainStore(store).first_seen_since(0) == {}
    feed.tick(T + FLUSH_SECONDS)  # written in one batch
    assert not feed.pending
    assert MailDomainStore(store).first_seen_since(0) == {
        "sender.example": T + 1, "landing.example": T + 1
    }  # fmt: skip
    with open_store(tmp_path) as other:  # another scanner (a gateway worker) stores one
        MailDomainStore(other).observe([(["elsewhere.example"], T + 2)])
    feed.tick(T + REFRESH_SECONDS / 2)
    assert feed.history.first_seen("elsewhere.example") is None  # not time to look yet
    feed.tick(T + REFRESH_SECONDS)
    assert feed.history.first_seen("elsewhere.example") == T + 2
    assert OVERLAP_SECONDS > 0


def test_feed_keeps_sightings_while_the_store_is_busy(store: Store, tmp_path: Path) -> None:
    from floodwall.detect.mail.reference import load_psl

    feed = DomainFeed.open(store, load_psl(), T)
    msg = MailMessage(Origin("t", 1), "<m@t>", "0" * 64, (), "a@busy.example", "")
    feed.saw(msg, T)
    with open_store(tmp_path) as other:
        other.connection.execute("PRAGMA busy_timeout = 0")
        store.connection.execute("PRAGMA busy_timeout = 0")
        with other.write():  # another writer holds the lock
            feed.flush()
            assert feed.pending  # kept, nothing raised
    feed.flush()
    assert not feed.pending and MailDomainStore(store).load().first_seen("busy.example") == T


@pytest.mark.parametrize("value", ['"x"', "-1", "true", "[7]"])
def test_bad_new_domain_days_are_named(tmp_path: Path, value: str) -> None:
    from floodwall.settings import Settings

    (tmp_path / "floodwall.toml").write_text(f"[mail]\nnew_domain_baseline_days = {value}\n")
    with pytest.raises(ValueError, match=r"\[mail\] new_domain_baseline_days = .*number of days"):
        Settings.load(tmp_path)
    (tmp_path / "floodwall.toml").write_text("[mail]\nnew_domain_days = 3\n")
    assert (
        Settings.load(tmp_path).new_domain_days,
        Settings.load(tmp_path).new_domain_baseline_days,
    ) == (3.0, 14.0)
