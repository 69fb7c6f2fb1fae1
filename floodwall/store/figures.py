"""The daily figures: attacks seen, blocked and got through, as DESIGN.md defines them.

One query module, read by ``floodwall stats`` and by the console, so both show the
same numbers. What is counted:

- **Mail** (``messages``): a message the policy tagged, quarantined or rejected is an
  attack, counted once per recipient (``messages.recipients``, the envelope at the
  gateway). Quarantine and reject are *blocked*; tag means it was delivered with a
  mark, so it *got through*. An accepted message scored below the tag threshold: the
  policy did not judge it malicious and it is not counted. Day: ``scanned`` (UTC).
- **Logs** (``alerts`` other than ``mail.*``): a detection on a host already happened
  there, so every one *got through*. Duplicates are folded: alerts of the same rule on
  the same host within the same fold window count once. Windows are aligned to UTC
  midnight (default 60 minutes: 10:00-10:59 is one window), so a day's figure never
  depends on its neighbours and days add up to a period. Day: the event time
  (``timestamp``, ISO 8601 UTC as the normalizers write it); an alert without a
  readable event time counts on the day it was stored (``created``).
- **Splits**: by source (mail, logs); by origin class (domestic, abroad, internal,
  obscured, unknown; with ``home_country`` given, stored domestic/abroad classes are
  re-derived from the country, so a changed setting shows at once); by origin country;
  by ATT&CK technique. A folded log attack takes the origin and techniques of its
  first alert. An attack with several techniques counts under each, and one with none
  under ``none``, so the technique split does not add up to the total.
- **Losses** per source: received and unparseable from the hunts started that day
  (``intake``), unscannable messages per mail source. Dropped and late are not
  recorded by any stage yet: they are ``None`` ("not recorded"), never a made-up 0.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from floodwall.store.db import Store
from floodwall.store.figures_cache import TotalsCache, read_snapshot
from floodwall.store.figures_records import DayFigures, DayTotals, SourceLoss, Split

__all__ = [
    "ORIGINS",
    "DayFigures",
    "DayTotals",
    "SourceLoss",
    "Split",
    "TotalsCache",
    "daily_figures",
    "figures_range",
    "techniques_seen",
]

ORIGINS = ("domestic", "abroad", "internal", "obscured", "unknown")
DEFAULT_FOLD_MINUTES = 60
BLOCKED = ("quarantine", "reject")
GOT_THROUGH = ("tag",)

# The ISO 8601 date prefix the day ranges compare on; other timestamps fall back to
# the day the alert was stored.
_ISO_DAY = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*"


# The day's (or period's) log alerts with the time they count at (t). Both halves use
# an index: alerts_timestamp, and alerts_created_id for the rare undated alert.
def _log_rows(columns: str) -> str:
    return f"""
    SELECT rule_id, host, timestamp AS t{columns} FROM alerts
     WHERE timestamp >= :start AND timestamp < :end AND rule_id NOT LIKE 'mail.%'
    UNION ALL
    SELECT rule_id, host, created AS t{columns} FROM alerts
     WHERE created >= :start AND created < :end AND rule_id NOT LIKE 'mail.%'
       AND (timestamp IS NULL OR timestamp NOT GLOB '{_ISO_DAY}')
"""


_LOG_ROWS = _log_rows(", origin, country, attack")
# Only what folding needs: the trend's sort then moves a third of the bytes.
_LOG_KEYS = _log_rows("")

# The fold window of a time: minutes since UTC midnight, divided by the window.
_BUCKET = "(CAST(substr(t, 12, 2) AS INTEGER) * 60 + CAST(substr(t, 15, 2) AS INTEGER)) / :fold"

# One row per folded attack: same rule, host, day and fold window. min(t) makes SQLite
# take the other bare columns from the first alert of the group (documented SQLite
# behaviour for a single min() aggregate).
_FOLDED = f"""
    SELECT substr(t, 1, 10) AS day, min(t) AS first, origin, country,
           CASE WHEN json_valid(attack) THEN attack ELSE '[]' END AS attack, count(*) AS alerts
      FROM ({_LOG_ROWS})
     GROUP BY rule_id, host, substr(t, 1, 10), {_BUCKET}
"""

_ORIGIN_CLASS = """
    CASE WHEN :home != '' AND origin IN ('domestic', 'abroad') AND country IS NOT NULL
         THEN CASE WHEN country = :home THEN 'domestic' ELSE 'abroad' END
         ELSE origin END
"""

_MAIL_ROWS = """
    SELECT substr(scanned, 1, 10) AS day, source, verdict, recipients, origin, country,
           CASE WHEN json_valid(attack) THEN attack ELSE '[]' END AS attack
      FROM messages WHERE scanned >= :start AND scanned < :end
"""


def _check_fold(fold_minutes: int) -> None:
    if fold_minutes < 1 or 1440 % fold_minutes:
        raise ValueError("fold_minutes must divide a day (1440 minutes): 1, 5, 15, 60, 1440 ...")


@lru_cache(maxsize=4096)
def _techniques(attack: str) -> tuple[str, ...]:
    """The technique ids of a stored JSON array (validated by the query), or ``none``."""
    value = json.loads(attack)
    items = value if isinstance(value, list) else [value]
    ids = tuple(dict.fromkeys(v for v in items if isinstance(v, str) and v))
    return ids or ("none",)


def _params(start: date, end: date, fold: int, home: str = "") -> dict[str, Any]:
    return {"start": start.isoformat(), "end": end.isoformat(), "fold": fold, "home": home}


class _Tally:
    """Seen / blocked / got through per key, built from grouped rows."""

    def __init__(self) -> None:
        self.blocked: defaultdict[str, int] = defaultdict(int)
        self.through: defaultdict[str, int] = defaultdict(int)

    def add(self, key: str, n: int, *, blocked: bool) -> None:
        (self.blocked if blocked else self.through)[key] += n

    def splits(self, keys: Iterable[str] = ()) -> tuple[Split, ...]:
        fixed = list(keys)
        rest = sorted(
            (set(self.blocked) | set(self.through)) - set(fixed),
            key=lambda k: (-(self.blocked[k] + self.through[k]), k),
        )
        return tuple(
            Split(k, self.blocked[k] + self.through[k], self.blocked[k], self.through[k])
            for k in [*fixed, *rest]
        )


def daily_figures(
    store: Store,
    day: date,
    *,
    home_country: str = "",
    fold_minutes: int = DEFAULT_FOLD_MINUTES,
    cache: TotalsCache[DayTotals] | None = None,
) -> DayFigures:
    """The figures of one UTC day (see the module docstring for every definition), read
    in one snapshot. With ``cache``, the day's totals are kept for ``figures_range``."""
    _check_fold(fold_minutes)
    with read_snapshot(store):
        if cache is not None:
            cache.sync(store)
        figures = _day_figures(store, day, home_country.strip().upper(), fold_minutes)
        if cache is not None:
            cache.put(day, fold_minutes, figures.totals())
    return figures


def _day_figures(store: Store, day: date, home: str, fold_minutes: int) -> DayFigures:
    p = _params(day, day + timedelta(days=1), fold_minutes, home)
    conn = store.connection
    source, origin, country, technique = _Tally(), _Tally(), _Tally(), _Tally()
    log_alerts = 0
    # One pass over the folded attacks; grouping also by the attack array keeps the
    # result small (few distinct arrays), and the techniques are split here.
    for cls, cc, attack, n, raw in conn.execute(
        f"SELECT {_ORIGIN_CLASS} AS cls, country, attack, count(*), sum(alerts)"
        f" FROM ({_FOLDED}) GROUP BY cls, country, attack",
        p,
    ):
        source.add("logs", n, blocked=False)
        origin.add(cls, n, blocked=False)
        country.add(cc or "unknown", n, blocked=False)
        for tech in _techniques(attack):
            technique.add(tech, n, blocked=False)
        log_alerts += raw
    verdicts = ", ".join(f"'{v}'" for v in (*BLOCKED, *GOT_THROUGH))
    for verdict, cls, cc, attack, n in conn.execute(
        f"SELECT verdict, {_ORIGIN_CLASS} AS cls, country, attack, sum(recipients)"
        f" FROM ({_MAIL_ROWS}) WHERE verdict IN ({verdicts})"
        " GROUP BY verdict, cls, country, attack",
        p,
    ):
        blocked = verdict in BLOCKED
        source.add("mail", n, blocked=blocked)
        origin.add(cls, n, blocked=blocked)
        country.add(cc or "unknown", n, blocked=blocked)
        for tech in _techniques(attack):
            technique.add(tech, n, blocked=blocked)
    by_source = source.splits(("mail", "logs"))
    losses, unfinished = _losses(store, p)
    return DayFigures(
        day=day,
        home_country=home,
        fold_minutes=fold_minutes,
        seen=sum(s.seen for s in by_source),
        blocked=sum(s.blocked for s in by_source),
        got_through=sum(s.got_through for s in by_source),
        log_alerts=log_alerts,
        by_source=by_source,
        by_origin=origin.splits(ORIGINS),
        by_country=country.splits(),
        by_technique=technique.splits(),
        losses=losses,
        unfinished_hunts=unfinished,
    )


def _losses(store: Store, p: dict[str, Any]) -> tuple[tuple[SourceLoss, ...], int]:
    conn = store.connection
    out: list[SourceLoss] = []
    for src, n, bad in conn.execute(
        "SELECT source, count(*), sum(unscannable != '[]') FROM messages"
        " WHERE scanned >= :start AND scanned < :end GROUP BY source ORDER BY source",
        p,
    ):
        out.append(SourceLoss(f"mail:{src}", int(n), int(bad)))
    # The intake table has no time of its own: a path's figures belong to the day its
    # hunt started.
    for path, received, damaged in conn.execute(
        "SELECT i.path, sum(i.received), sum(i.damaged) FROM hunts AS h"
        " JOIN intake AS i ON i.hunt_id = h.id"
        " WHERE h.started >= :start AND h.started < :end GROUP BY i.path ORDER BY i.path",
        p,
    ):
        out.append(SourceLoss(f"logs:{path}", int(received), int(damaged)))
    (unfinished,) = conn.execute(
        "SELECT count(*) FROM hunts WHERE started >= :start AND started < :end"
        " AND finished IS NULL",
        p,
    ).fetchone()
    return tuple(out), int(unfinished)


def figures_range(
    store: Store,
    start: date,
    end: date,
    *,
    fold_minutes: int = DEFAULT_FOLD_MINUTES,
    cache: TotalsCache[DayTotals] | None = None,
) -> list[DayTotals]:
    """Totals of every day from ``start`` to ``end`` inclusive (days without attacks
    give zeros), for trends. Each day equals ``daily_figures`` of that day.

    A long-lived reader (the console) passes one ``TotalsCache`` to every call: days
    whose rows did not change since are not counted again (store/figures_cache.py)."""
    _check_fold(fold_minutes)
    if end < start:
        raise ValueError("the period ends before it starts")
    with read_snapshot(store):
        if cache is not None:
            return cache.get(store, start, end, fold_minutes, _range_totals)
        return _range_totals(store, start, end, fold_minutes)


def _range_totals(store: Store, start: date, end: date, fold_minutes: int) -> list[DayTotals]:
    p = _params(start, end + timedelta(days=1), fold_minutes)
    conn = store.connection
    # Only the number of folded attacks per day: no origin or technique columns to
    # carry through the sort, which halves the time over a month of alerts.
    logs: dict[str, int] = {
        d: int(n)
        for d, n in conn.execute(
            f"SELECT day, count(*) FROM (SELECT substr(t, 1, 10) AS day FROM ({_LOG_KEYS})"
            f" GROUP BY rule_id, host, substr(t, 1, 10), {_BUCKET}) GROUP BY day",
            p,
        )
    }
    blocked: dict[str, int] = defaultdict(int)
    through: dict[str, int] = defaultdict(int)
    for d, verdict, n in conn.execute(
        "SELECT substr(scanned, 1, 10), verdict, sum(recipients) FROM messages"
        " WHERE scanned >= :start AND scanned < :end"
        f" AND verdict IN ({', '.join(repr(v) for v in (*BLOCKED, *GOT_THROUGH))})"
        " GROUP BY 1, 2",
        p,
    ):
        (blocked if verdict in BLOCKED else through)[d] += int(n)
    out: list[DayTotals] = []
    day = start
    while day <= end:
        k = day.isoformat()
        mail = blocked[k] + through[k]
        out.append(
            DayTotals(day, mail + logs.get(k, 0), blocked[k], through[k] + logs.get(k, 0),
                      mail, logs.get(k, 0))
        )  # fmt: skip
        day += timedelta(days=1)
    return out


def techniques_seen(
    store: Store,
    start: date,
    end: date,
    *,
    fold_minutes: int = DEFAULT_FOLD_MINUTES,
) -> dict[str, int]:
    """Attacks per ATT&CK technique id from ``start`` to ``end`` inclusive, counted as
    the daily figures count them (folded log attacks, mail once per recipient)."""
    _check_fold(fold_minutes)
    p = _params(start, end + timedelta(days=1), fold_minutes)
    conn = store.connection
    seen: dict[str, int] = defaultdict(int)
    verdicts = ", ".join(f"'{v}'" for v in (*BLOCKED, *GOT_THROUGH))
    for tech, n in conn.execute(
        f"SELECT j.value, count(*) FROM ({_FOLDED}) AS f, json_each(f.attack) AS j GROUP BY 1", p
    ):
        seen[str(tech)] += int(n)
    for tech, n in conn.execute(
        f"SELECT j.value, sum(m.recipients) FROM ({_MAIL_ROWS}) AS m, json_each(m.attack) AS j"
        f" WHERE m.verdict IN ({verdicts}) GROUP BY 1",
        p,
    ):
        seen[str(tech)] += int(n)
    return dict(seen)
