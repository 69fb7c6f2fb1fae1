"""The observables archive: every IP, domain, URL, hash and address the pipeline saw,
kept for the retro-hunt (``floodwall/enrich/intel/retrohunt.py``).

Layout (Hive-style date partitions, read by DuckDB with ``hive_partitioning``)::

    ROOT/date=YYYY-MM-DD/part-<uuid4>.parquet

Each file is Parquet (zstd), sorted by ``(kind, value)`` so that the min/max statistics of
its row groups prune point look-ups; ``kind``, ``source`` and ``host`` are
dictionary-encoded (few distinct values). Next to the six fields of
``ArchivedObservable`` every row carries columns derived once at write time, so that a
retro-hunt joins on integers and plain names instead of parsing 100 million strings:

- ``ip4`` (uint32), ``ip6_hi``/``ip6_lo`` (uint64 halves): the address of an ``ip``
  value, of a URL whose host is an address literal, or of an address-literal mail domain
  (RFC 5321 §4.1.3);
- ``vh``: the low 64 bits of the value's MD5 (as DuckDB's ``md5_number_lower``): exact
  values are joined on this integer, and the few hits are then checked on the text;
- ``dom``: the domain of a ``domain`` value, a URL's host name or a mail address's domain;
  ``dom2`` and ``dom3``: its last two and three labels when it has more, so that a
  subdomain of a bad domain is found by equality, not by a suffix test on every row.

Writers never clobber each other, in one process or several: every file has a fresh
uuid4 name and is written to a dot-named temporary file in the same directory, then
renamed into place (``os.replace`` is atomic on POSIX), so a reader sees whole files
only.

Hostile input: a value that is empty, longer than ``MAX_VALUE`` characters or not valid
UTF-8 (lone surrogates from ``surrogateescape``) is refused, never truncated: a cut value
could match an indicator the real one does not. Refusals are counted by reason on the
writer. Host and reference are context, not matched: they are cut to ``MAX_CONTEXT``
characters and undecodable characters are escaped.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from floodwall.store.archive_columns import derived_columns, value_hash

__all__ = [
    "KINDS",
    "MAX_CONTEXT",
    "MAX_VALUE",
    "ArchiveError",
    "ArchiveWriter",
    "ArchivedObservable",
    "ObservableArchive",
    "derived_columns",
    "value_hash",
]

KINDS = frozenset({"ip", "cidr", "domain", "url", "md5", "sha1", "sha256", "email"})
SOURCES = frozenset({"logs", "mail"})
MAX_VALUE = 2048  # the intel normalizer's own limit is lower: longer is never an indicator
MAX_CONTEXT = 1024
FLUSH_ROWS = 200_000
ROW_GROUP = 32 * 1024  # about one Parquet page of values: a hit reads one page, not many

SCHEMA = pa.schema(
    [
        ("ts", pa.timestamp("us", tz="UTC")),
        ("source", pa.string()),
        ("host", pa.string()),
        ("kind", pa.string()),
        ("value", pa.string()),
        ("ref", pa.string()),
        ("ip4", pa.uint32()),
        ("ip6_hi", pa.uint64()),
        ("ip6_lo", pa.uint64()),
        ("vh", pa.uint64()),
        ("dom", pa.string()),
        ("dom2", pa.string()),
        ("dom3", pa.string()),
    ]
)
_DICTIONARY = ["source", "host", "kind"]


class ArchiveError(ValueError):
    """A request the archive cannot serve (a bad date, a bad root)."""


@dataclass(frozen=True, slots=True)
class ArchivedObservable:
    """One observable seen once. ``ts``: ISO 8601 UTC; ``source``: ``logs`` or ``mail``;
    ``kind``: ip, cidr, domain, url, md5, sha1, sha256 or email; ``value``: in the intel
    normal form (``enrich/intel/normalize.py``); ``ref``: where it was seen
    (``path#record_id``, ``message:<id>``)."""

    ts: str
    source: str
    host: str
    kind: str
    value: str
    ref: str


def _is_utf8(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _context(text: str) -> str:
    if not _is_utf8(text):
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= MAX_CONTEXT else text[: MAX_CONTEXT - 1] + "…"


def _value_refusal(kind: str, value: str) -> str:
    """Why a value is not archived ("" when it is)."""
    if kind not in KINDS:
        return "unknown kind"
    if not value:
        return "empty value"
    if len(value) > MAX_VALUE:
        return f"value longer than {MAX_VALUE} characters"
    if not _is_utf8(value):
        return "value not valid UTF-8"
    return ""


def _stamp_refusal(ts: object, source: str) -> str:
    """Why an event's time or source is not archived ("" when they are)."""
    if source not in SOURCES:
        return "unknown source"
    if not isinstance(ts, str) or len(ts) > 64:
        return "timestamp not ISO 8601"
    return ""


def _moment(ts: str) -> datetime:
    moment = datetime.fromisoformat(ts.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class ArchiveWriter:
    """Buffers observables per date and writes a Parquet file per date every
    ``flush_rows`` rows and on close. Not shared between threads."""

    def __init__(self, root: Path, flush_rows: int = FLUSH_ROWS) -> None:
        if flush_rows < 1:
            raise ArchiveError("flush_rows must be positive")
        self._root = root
        self._flush_rows = flush_rows
        self._rows: dict[str, list[tuple[Any, ...]]] = {}
        self._buffered = 0
        # The last event time parsed, and its moment and date: events come in bursts
        # within the same second.
        self._last_ts: str | None = None
        self._last: tuple[datetime, str] = (datetime.min, "")
        self.written = 0
        self.files: list[Path] = []
        self.refused: Counter[str] = Counter()

    def add(self, item: ArchivedObservable) -> bool:
        """Buffer one observable; False (and counted in ``refused``) when refused."""
        reason = _value_refusal(item.kind, item.value) or _stamp_refusal(item.ts, item.source)
        if reason:
            self.refused[reason] += 1
            return False
        pair = [(item.kind, item.value)]
        return self.add_event(item.ts, item.source, item.host, item.ref, pair) == 1

    def add_event(
        self, ts: str, source: str, host: str, ref: str, observed: Sequence[tuple[str, str]]
    ) -> int:
        """Buffer the ``(kind, value)`` observables of one event or message, which share
        its time, source, host and reference: those are checked, parsed and cleaned once,
        not once per value (a hunt archives three rows per Sysmon image event). Returns how
        many were accepted; the refused are counted in ``refused`` with their reason."""
        reason = _stamp_refusal(ts, source)
        if not reason:
            try:
                if ts != self._last_ts:
                    moment = _moment(ts)
                    self._last = moment, moment.date().isoformat()
                    self._last_ts = ts
            except (ValueError, OverflowError):
                reason = "timestamp not ISO 8601"
        if reason:
            self.refused[reason] += len(observed)
            return 0
        moment, day = self._last
        host, ref = _context(host), _context(ref)
        rows = self._rows.get(day)
        if rows is None:
            rows = self._rows[day] = []
        accepted = 0
        for kind, value in observed:
            reason = _value_refusal(kind, value)
            if reason:
                self.refused[reason] += 1
                continue
            rows.append((moment, source, host, kind, value, ref, *derived_columns(kind, value)))
            accepted += 1
        self._buffered += accepted
        if self._buffered >= self._flush_rows:
            self.flush()
        return accepted

    def add_many(self, items: Iterable[ArchivedObservable]) -> int:
        """Buffer observables; returns how many were accepted."""
        return sum(1 for item in items if self.add(item))

    def flush(self) -> None:
        """Write what is buffered: one new file per date."""
        for day, rows in self._rows.items():
            self.files.append(_write_part(self._root / f"date={day}", rows))
            self.written += len(rows)
        self._rows.clear()
        self._buffered = 0

    def close(self) -> None:
        """Flush; the writer can still be used afterwards."""
        self.flush()

    def __enter__(self) -> ArchiveWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Flush even after an error: what was seen before it is still true.
        self.close()


def _table(rows: list[tuple[Any, ...]]) -> pa.Table:
    rows.sort(key=lambda r: (r[3], r[4]))
    columns = list(zip(*rows, strict=True))
    return pa.Table.from_arrays(
        [pa.array(col, type=f.type) for col, f in zip(columns, SCHEMA, strict=True)],
        schema=SCHEMA,
    )


def _write_part(folder: Path, rows: list[tuple[Any, ...]]) -> Path:
    return _write_table(folder, _table(rows))


def _write_table(folder: Path, table: pa.Table) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    name = f"part-{uuid.uuid4().hex}.parquet"
    final = folder / name
    temp = folder / f".{name}.tmp"  # readers glob *.parquet: a dot-file is never read
    try:
        pq.write_table(
            table, temp, compression="zstd", use_dictionary=_DICTIONARY,
            row_group_size=ROW_GROUP, write_statistics=True,
        )  # fmt: skip
        with open(temp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(temp, final)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return final


class ObservableArchive:
    """The archive under ``root`` (default ``settings.data_dir / "archive" /
    "observables"``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def writer(self, flush_rows: int = FLUSH_ROWS) -> ArchiveWriter:
        """A context manager that buffers and writes observables; see ``ArchiveWriter``."""
        return ArchiveWriter(self.root, flush_rows)

    def dates(self) -> list[date]:
        """The dates that have at least one file, oldest first."""
        found = []
        if not self.root.is_dir():
            return []
        for folder in self.root.glob("date=*"):
            try:
                day = date.fromisoformat(folder.name.removeprefix("date="))
            except ValueError:
                continue
            if any(folder.glob("*.parquet")):
                found.append(day)
        return sorted(found)

    def files(self, day: date | None = None) -> list[Path]:
        """The complete Parquet files, of one date or all."""
        pattern = f"date={day.isoformat()}/*.parquet" if day else "date=*/*.parquet"
        return sorted(self.root.glob(pattern)) if self.root.is_dir() else []

    def glob(self) -> str:
        """The files as a DuckDB ``read_parquet`` glob (hive partition ``date``)."""
        return str(self.root / "date=*" / "*.parquet")

    def read(self, day: date | None = None) -> Iterator[ArchivedObservable]:
        """Every observable of one date or all (small archives and tests; the retro-hunt
        reads with DuckDB)."""
        for path in self.files(day):
            table = pq.read_table(path, columns=["ts", "source", "host", "kind", "value", "ref"])
            for row in table.to_pylist():
                ts = row["ts"].astimezone(UTC).isoformat(timespec="seconds")
                yield ArchivedObservable(
                    ts.replace("+00:00", "Z"), row["source"], row["host"], row["kind"],
                    row["value"], row["ref"],
                )  # fmt: skip

    def compact(self, day: date) -> Path | None:
        """Merge one date's files into one sorted file; None when there was nothing to
        merge. Files that writers add meanwhile are left alone. A reader that lists the
        folder between the rename and the removals sees rows twice; the retro-hunt's
        alerts do not change (one per indicator and value), only a count may be read
        high once."""
        parts = self.files(day)
        if len(parts) < 2:
            return None
        table = pa.concat_tables([pq.read_table(p, schema=SCHEMA) for p in parts])
        table = table.sort_by([("kind", "ascending"), ("value", "ascending")])
        merged = _write_table(self.root / f"date={day.isoformat()}", table)
        for p in parts:
            p.unlink(missing_ok=True)
        return merged
