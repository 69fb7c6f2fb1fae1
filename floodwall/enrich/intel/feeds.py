"""Which parser reads a path: the format is detected from the content, not the name.

- a directory with ``manifest.json``: a MISP feed;
- another directory: each feed file in it (``.json``, ``.txt``, ``.csv``, ``.tsv``,
  ``.lst``, ``.gz``), each detected on its own;
- a file starting with ``{`` or ``[`` (after gzip): JSON, MISP when it holds events,
  STIX when it holds a bundle or STIX objects;
- any other file: a list (LOKI, IPsum, one value per line).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from floodwall.enrich.intel import lists, misp, stix
from floodwall.enrich.intel.feedio import open_feed, parse_json, read_bytes
from floodwall.enrich.intel.indicator import DEFAULT_CONFIDENCE, FeedError, FeedItem, Skipped

FEED_SUFFIXES = (".json", ".txt", ".csv", ".tsv", ".lst", ".list", ".gz")


@dataclass(frozen=True, slots=True)
class FeedOptions:
    """How to read feeds: base confidence, MISP ``to_ids`` handling, known TLDs."""

    confidence: int = DEFAULT_CONFIDENCE
    ids_only: bool = False
    known_tld: Callable[[str], bool] | None = None


def default_source(path: Path) -> str:
    """A feed's source name when none is given: the file or folder name without suffixes."""
    name = path.resolve().name if path.name in ("", ".", "..") else path.name
    for suffix in (".gz", ".json", ".txt", ".csv", ".tsv", ".lst", ".list"):
        name = name.removesuffix(suffix)
    return name or "feed"


def _first_byte(path: Path) -> bytes:
    try:
        with open_feed(path) as fh:
            head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    except (OSError, EOFError) as exc:
        raise FeedError(f"{path}: cannot read: {exc}") from None
    return head[:1]


def detect_format(path: Path) -> str:
    """``misp-feed``, ``directory``, ``json`` or ``list``."""
    if path.is_dir():
        return "misp-feed" if (path / "manifest.json").is_file() else "directory"
    if not path.is_file():
        raise FeedError(f"{path}: no such file or directory")
    return "json" if _first_byte(path) in (b"{", b"[") else "list"


def _read_json_feed(path: Path, source: str, opts: FeedOptions) -> Iterator[FeedItem]:
    doc = parse_json(read_bytes(path), str(path))
    if misp.is_misp(doc):
        yield from misp.parse_document(
            doc, source, confidence=opts.confidence, ids_only=opts.ids_only, where=path.name
        )
    elif stix.is_stix(doc):
        yield from stix.parse_document(doc, source, confidence=opts.confidence, where=path.name)
    else:
        raise FeedError(f"{path}: JSON that is neither MISP events nor STIX")


def read_feed(path: Path, source: str, opts: FeedOptions | None = None) -> Iterator[FeedItem]:
    """Indicators and skipped entries of one path, whatever its format."""
    opts = opts or FeedOptions()
    kind = detect_format(path)
    if kind == "misp-feed":
        yield from misp.read_feed(path, source, confidence=opts.confidence, ids_only=opts.ids_only)
    elif kind == "directory":
        for child in sorted(path.iterdir()):
            if not child.is_file() or not child.name.lower().endswith(FEED_SUFFIXES):
                continue
            try:
                yield from read_feed(child, source, opts)
            except FeedError as exc:
                yield Skipped(f"file unreadable: {exc}", child.name)
    elif kind == "json":
        yield from _read_json_feed(path, source, opts)
    else:
        yield from lists.read_file(
            path, source, confidence=opts.confidence, known_tld=opts.known_tld
        )
