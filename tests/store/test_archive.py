"""The observables archive: date partitions of Parquet files, whole files only, hostile
values refused or cut, two writer processes at once."""

from __future__ import annotations

import multiprocessing
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from floodwall.store.archive import (
    MAX_CONTEXT,
    MAX_VALUE,
    ArchivedObservable,
    ArchiveError,
    ObservableArchive,
    derived_columns,
    value_hash,
)


def obs(
    ts: str, kind: str, value: str, host: str = "pc1", ref: str = "a.evtx#1", source: str = "logs"
) -> ArchivedObservable:
    return ArchivedObservable(ts, source, host, kind, value, ref)


def test_round_trip_by_date_partition(tmp_path: Path) -> None:
    archive = ObservableArchive(tmp_path / "obs")
    items = [
        obs("2026-05-01T10:00:00Z", "ip", "203.0.113.9"),
        obs("2026-05-01T23:30:00-02:00", "domain", "evil.example"),  # 01:30 UTC on the 2nd
        obs("2026-05-02T08:00:00+00:00", "sha256", "a" * 64, ref="message:42", source="mail"),
        obs("2026-05-02T08:00:01Z", "url", "http://evil.example/x"),
    ]
    with archive.writer() as writer:
        assert writer.add_many(items) == 4
    assert archive.dates() == [date(2026, 5, 1), date(2026, 5, 2)]
    files = archive.files()
    assert [f.parent.name for f in files] == ["date=2026-05-01", "date=2026-05-02"]
    assert all(f.name.startswith("part-") and f.suffix == ".parquet" for f in files)
    assert not list((tmp_path / "obs").rglob("*.tmp"))
    back = sorted(archive.read(), key=lambda o: o.ts)
    assert back[0] == obs("2026-05-01T10:00:00Z", "ip", "203.0.113.9")
    assert back[1].ts == "2026-05-02T01:30:00Z" and back[1].value == "evil.example"
    assert {(o.kind, o.value, o.source, o.ref) for o in back} == {
        (o.kind, o.value, o.source, o.ref) for o in items
    }
    assert list(archive.read(date(2026, 5, 1))) == [back[0]]


def test_file_is_zstd_sorted_and_dictionary_encoded(tmp_path: Path) -> None:
    archive = ObservableArchive(tmp_path)
    values = [("url", "http://b.example/"), ("ip", "198.51.100.7"), ("domain", "z.example"),
              ("ip", "198.51.100.1"), ("domain", "a.example")]  # fmt: skip
    with archive.writer() as writer:
        writer.add_many(obs("2026-05-01T00:00:00Z", k, v) for k, v in values)
    (path,) = archive.files()
    table = pq.read_table(path)
    keys = list(
        zip(table.column("kind").to_pylist(), table.column("value").to_pylist(), strict=True)
    )
    assert keys == sorted(values)
    meta = pq.ParquetFile(path).metadata
    column = {meta.schema.column(i).name: i for i in range(meta.num_columns)}
    chunk = meta.row_group(0).column(column["kind"])
    assert chunk.compression == "ZSTD"
    assert "RLE_DICTIONARY" in chunk.encodings or "PLAIN_DICTIONARY" in chunk.encodings
    stats = meta.row_group(0).column(column["value"]).statistics
    assert stats.has_min_max and stats.min == "198.51.100.1"


def test_derived_columns_for_the_joins() -> None:
    assert derived_columns("ip", "1.2.3.4")[:3] == (0x01020304, None, None)
    ip6 = derived_columns("ip", "2001:db8::1")
    assert ip6[:3] == (None, 0x20010DB800000000, 1)
    assert derived_columns("url", "http://[2001:db8::1]:8080/x")[1:3] == ip6[1:3]
    assert derived_columns("url", "https://a.b.evil.example:8443/p?q")[4:] == (
        "a.b.evil.example", "evil.example", "b.evil.example"
    )  # fmt: skip
    assert derived_columns("email", "x@mail.evil.example")[4:] == (
        "mail.evil.example", "evil.example", None
    )  # fmt: skip
    assert derived_columns("email", "x@[192.0.2.1]")[0] == 0xC0000201
    assert derived_columns("md5", "0" * 32)[4:] == (None, None, None)
    # the same number as DuckDB's md5_number_lower
    assert value_hash("http://evil.example.com/x") == 4144490895402190830


def test_flushes_every_n_rows_into_new_files(tmp_path: Path) -> None:
    archive = ObservableArchive(tmp_path)
    with archive.writer(flush_rows=2) as writer:
        writer.add_many(obs("2026-05-01T00:00:00Z", "ip", f"192.0.2.{i}") for i in range(5))
        assert len(archive.files()) == 2  # 4 rows flushed while writing
    assert len(archive.files()) == 3
    assert sum(1 for _ in archive.read()) == 5
    with pytest.raises(ArchiveError):
        archive.writer(flush_rows=0)


def test_writer_flushes_what_it_has_when_the_run_fails(tmp_path: Path) -> None:
    archive = ObservableArchive(tmp_path)
    with pytest.raises(RuntimeError), archive.writer() as writer:
        writer.add(obs("2026-05-01T00:00:00Z", "ip", "192.0.2.1"))
        raise RuntimeError("the run broke")
    assert [o.value for o in archive.read()] == ["192.0.2.1"]


def test_hostile_values_are_refused_with_a_reason(tmp_path: Path) -> None:
    archive = ObservableArchive(tmp_path)
    huge_context = "h" * (MAX_CONTEXT * 50)
    with archive.writer() as writer:
        accepted = writer.add_many([
            obs("2026-05-01T00:00:00Z", "domain", "bad\udcff.example"),  # undecodable byte
            obs("2026-05-01T00:00:00Z", "url", "http://x.example/" + "a" * MAX_VALUE),
            obs("2026-05-01T00:00:00Z", "domain", ""),
            obs("2026-05-01T00:00:00Z", "registry", "HKLM"),
            obs("not a time", "ip", "192.0.2.1"),
            obs("9999-99-99T00:00:00Z", "ip", "192.0.2.1"),
            ArchivedObservable("2026-05-01T00:00:00Z", "dns", "h", "ip", "192.0.2.1", "r"),
            obs("2026-05-01T00:00:00Z", "ip", "192.0.2.2", host=huge_context, ref="r\udc80" * 3),
            obs("2026-05-01T00:00:00Z", "ip", "not-an-address"),
        ])  # fmt: skip
    assert accepted == 2
    assert writer.refused == {
        "value not valid UTF-8": 1, f"value longer than {MAX_VALUE} characters": 1,
        "empty value": 1, "unknown kind": 1, "timestamp not ISO 8601": 2, "unknown source": 1,
    }  # fmt: skip
    rows = {o.value: o for o in archive.read()}
    kept = rows["192.0.2.2"]
    assert len(kept.host) == MAX_CONTEXT and kept.host.endswith("…")
    assert kept.ref == "r\\udc80" * 3
    # a value that is not an address is kept as seen, without address columns
    (path,) = archive.files()
    table = pq.read_table(path).to_pylist()
    bad = next(r for r in table if r["value"] == "not-an-address")
    assert bad["ip4"] is None and bad["ip6_hi"] is None


def _write_many(root: str, tag: int, n: int) -> None:
    archive = ObservableArchive(Path(root))
    with archive.writer(flush_rows=250) as writer:
        writer.add_many(
            obs("2026-05-01T12:00:00Z", "ip", f"10.{tag}.{i // 256}.{i % 256}", ref=f"w{tag}#{i}")
            for i in range(n)
        )


@pytest.mark.timeout(120)
def test_two_writer_processes_never_clobber_each_other(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(str(tmp_path), t, 2000)) for t in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(100)
        assert p.exitcode == 0
    archive = ObservableArchive(tmp_path)
    assert len(archive.files()) == 16  # 2 writers x 2000 rows / 250
    refs = [o.ref for o in archive.read()]
    assert len(refs) == len(set(refs)) == 4000
    assert not list(tmp_path.rglob("*.tmp"))


def test_compact_merges_a_date_into_one_sorted_file(tmp_path: Path) -> None:
    archive = ObservableArchive(tmp_path)
    with archive.writer(flush_rows=1) as writer:
        for v in ("192.0.2.9", "192.0.2.1", "192.0.2.5"):
            writer.add(obs("2026-05-01T00:00:00Z", "ip", v))
        writer.add(obs("2026-05-02T00:00:00Z", "ip", "192.0.2.7"))
    assert len(archive.files(date(2026, 5, 1))) == 3
    merged = archive.compact(date(2026, 5, 1))
    assert merged is not None and archive.files(date(2026, 5, 1)) == [merged]
    assert [o.value for o in archive.read(date(2026, 5, 1))] == [
        "192.0.2.1", "192.0.2.5", "192.0.2.9"
    ]  # fmt: skip
    assert archive.compact(date(2026, 5, 2)) is None  # one file: nothing to merge
    assert archive.compact(date(2026, 5, 3)) is None


def test_empty_or_missing_archive(tmp_path: Path) -> None:
    archive = ObservableArchive(tmp_path / "none")
    assert archive.dates() == [] and archive.files() == [] and list(archive.read()) == []
    with archive.writer():
        pass
    assert not (tmp_path / "none").exists()


def test_an_event_added_at_once_gives_the_rows_of_its_values_one_by_one(tmp_path: Path) -> None:
    values = [("ip", "192.0.2.1"), ("sha256", "e" * 64), ("registry", "HKLM"), ("domain", "")]
    one, many = ObservableArchive(tmp_path / "one"), ObservableArchive(tmp_path / "many")
    with one.writer() as w1, many.writer(flush_rows=1) as w2:
        for ts in ("2026-05-01T10:00:00Z", "2026-05-01T10:00:00Z", "2026-05-02T00:00:00+00:00"):
            accepted = sum(w1.add(obs(ts, kind, value)) for kind, value in values)
            assert w2.add_event(ts, "logs", "pc1", "a.evtx#1", values) == accepted == 2
        for ts, source in (
            ("not a time", "logs"),
            ("2026-05-01T10:00:00Z", "dns"),
            ("x" * 99, "logs"),
        ):
            assert w2.add_event(ts, source, "pc1", "r", values) == 0
    assert w1.refused == {"unknown kind": 3, "empty value": 3}
    assert w2.refused == {
        "unknown kind": 3, "empty value": 3, "timestamp not ISO 8601": 8, "unknown source": 4,
    }  # fmt: skip
    assert sorted(map(repr, one.read())) == sorted(map(repr, many.read()))
    assert len(many.files()) == 3  # flush_rows=1: one file per event, its rows together
