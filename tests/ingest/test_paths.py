"""expand_inputs: files, folders and stdin, with the kind read from the content."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import pytest

from floodwall.ingest.base import InputError
from floodwall.ingest.evtx_source import HEADER_SIZE, EvtxSource
from floodwall.ingest.json_source import NdjsonSource
from floodwall.ingest.paths import SOURCES, expand_inputs, sniff

SAMPLES = Path(__file__).parents[1] / "samples" / "ingest"
EVTX = (SAMPLES / "evtx" / "sysmon_process_creation.evtx").read_bytes()


def kinds(paths: list[str]) -> list[tuple[str, str]]:
    return [(Path(path).name, source.name) for path, source in expand_inputs(paths)]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "deep").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "a.json").write_bytes(b'{"a":1}\n')
    (tmp_path / "b" / "security.log").write_bytes(EVTX)  # EVTX named anyhow
    (tmp_path / "b" / "deep" / "events.gz").write_bytes(gzip.compress(b'  [{"a":1}]'))
    (tmp_path / "b" / "notes.txt").write_bytes(b"hello world\n")
    (tmp_path / ".secret.json").write_bytes(b'{"a":1}\n')
    (tmp_path / ".hidden" / "x.json").write_bytes(b'{"a":1}\n')
    return tmp_path


def test_folder_is_walked_sorted_and_hidden_files_skipped(tree: Path) -> None:
    inputs = expand_inputs([str(tree)])
    assert [(Path(p).relative_to(tree).as_posix(), s.name) for p, s in inputs] == [
        ("a.json", "ndjson"),
        ("b/deep/events.gz", "ndjson"),
        ("b/security.log", "evtx"),
    ]
    assert inputs.skipped == [(str(tree / "b" / "notes.txt"), inputs.skipped[0][1])]
    assert "unknown file kind" in inputs.skipped[0][1]


def test_sources_are_the_registered_kinds(tree: Path) -> None:
    sources = {type(source) for _, source in expand_inputs([str(tree)])}
    assert sources == {EvtxSource, NdjsonSource} == set(SOURCES)
    for plugin in SOURCES:
        assert plugin.__doc__ and any((SAMPLES / plugin.name).iterdir())


def test_dash_is_stdin_ndjson() -> None:
    assert kinds(["-"]) == [("-", "ndjson")]


def test_same_file_twice_is_read_once(tree: Path) -> None:
    assert kinds([str(tree / "a.json"), str(tree), str(tree / "a.json")]) == [
        ("a.json", "ndjson"),
        ("events.gz", "ndjson"),
        ("security.log", "evtx"),
    ]


# name, content, kind (None: unknown)
SNIFF: list[tuple[str, bytes, str | None]] = [
    ("evtx.bin", EVTX, "evtx"),
    ("damaged-header.evtx", bytes(HEADER_SIZE) + EVTX[HEADER_SIZE:], "evtx"),
    ("lines.txt", b'{"a":1}\n{"b":2}\n', "ndjson"),
    ("array.dat", b'\n\t [{"a":1}]', "ndjson"),
    ("bom.json", b'\xef\xbb\xbf{"a":1}', "ndjson"),
    ("packed.gz", gzip.compress(b'{"a":1}\n'), "ndjson"),
    ("truncated.json.gz", gzip.compress(b'{"a":1}\n' * 1000)[:40], "ndjson"),
    ("empty.ndjson", b"", "ndjson"),
    ("empty.bin", b"", None),
    ("zip.gz", gzip.compress(b"PK\x03\x04 not json"), None),
    ("text.json", b"just text", None),
    ("png.json", b"\x89PNG\r\n\x1a\n", None),
    ("corrupt.gz", b"\x1f\x8b\x08\x00" + b"\xff" * 50, None),
]


@pytest.mark.parametrize(("name", "content", "kind"), SNIFF, ids=[c[0] for c in SNIFF])
def test_kind_comes_from_content(
    tmp_path: Path, name: str, content: bytes, kind: str | None
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert sniff(str(path)) == kind
    if kind is None:
        with pytest.raises(InputError, match="unknown file kind"):
            expand_inputs([str(path)])
    else:
        assert kinds([str(path)]) == [(name, kind)]


def test_missing_path_raises_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"input not found: .*nowhere\.json"):
        expand_inputs([str(tmp_path / "nowhere.json")])


def test_sources_can_travel_to_worker_processes(tree: Path) -> None:
    inputs = expand_inputs([str(tree)])
    assert [(p, s.name) for p, s in pickle.loads(pickle.dumps(list(inputs)))] == [
        (p, s.name) for p, s in inputs
    ]
