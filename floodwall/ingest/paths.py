"""Turn the paths given on the command line into (file, source) pairs.

The kind of a file is read from its content, not its name: an attacker or a
careless export names files freely. EVTX is known by its magic bytes; JSON and
NDJSON (also gzipped) by the first bytes of the (decompressed) content.
"""

from __future__ import annotations

import codecs
import os
import zlib
from typing import Literal

from floodwall.ingest.base import InputError, Source
from floodwall.ingest.evtx_source import CHUNK_MAGIC, FILE_MAGIC, HEADER_SIZE, EvtxSource
from floodwall.ingest.json_source import GZIP_MAGIC, NdjsonSource
from floodwall.registry import Registry

# Every file source, listed by hand (DESIGN.md: extension points are explicit).
SOURCES: Registry[Source] = Registry("source", (EvtxSource, NdjsonSource))

Kind = Literal["evtx", "ndjson"]
_SNIFF = 64 * 1024
_JSON_NAMES = (".json", ".ndjson", ".jsonl", ".json.gz", ".ndjson.gz", ".jsonl.gz")


class Inputs(list[tuple[str, Source]]):
    """The readable files in order, each with its source; ``skipped`` holds the rest.

    ``skipped`` lists ``(path, reason)`` for files inside a directory whose kind is
    unknown or that cannot be read: they are reported, not fatal.
    """

    def __init__(self) -> None:
        super().__init__()
        self.skipped: list[tuple[str, str]] = []


def sniff(path: str) -> Kind | None:
    """The kind of file at ``path`` from its first bytes, or None when unknown.

    Raises ``OSError`` when the file cannot be read.
    """
    with open(path, "rb") as stream:
        head = stream.read(HEADER_SIZE + len(CHUNK_MAGIC))
    if head.startswith(FILE_MAGIC):
        return "evtx"
    # A damaged file header still leaves the chunks readable (see evtx_source).
    if head[HEADER_SIZE:].startswith(CHUNK_MAGIC):
        return "evtx"
    if head.startswith(GZIP_MAGIC):
        try:
            head = zlib.decompressobj(wbits=31).decompress(head, _SNIFF)
        except zlib.error:
            return None
    if not head:
        # An empty file has no content to sniff; trust a JSON name (nothing to read anyway).
        return "ndjson" if path.lower().endswith(_JSON_NAMES) else None
    text = head.removeprefix(codecs.BOM_UTF8).lstrip()
    if text[:1] in (b"{", b"["):
        return "ndjson"
    return None


def _walk(root: str) -> list[str]:
    """Files under ``root``, sorted by path; hidden ones left out, links not followed."""
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(os.path.join(folder, f) for f in files if not f.startswith("."))
    return sorted(found)  # one order for the whole tree, as `find | sort` gives


def expand_inputs(paths: list[str]) -> Inputs:
    """Expand files, directories (recursively) and ``-`` (stdin) into (path, source) pairs.

    Raises ``InputError`` for a missing path and for an explicitly named file that
    cannot be read or whose kind is unknown. Unknown files found inside a directory
    go to ``Inputs.skipped`` with the reason.
    """
    sources: dict[Kind, Source] = {kind: SOURCES.get(kind)() for kind in ("evtx", "ndjson")}
    result = Inputs()
    seen: set[str] = set()

    def add(path: str, explicit: bool) -> None:
        key = os.path.realpath(path)
        if key in seen:
            return  # the same file named twice is read once, so nothing is counted twice
        try:
            kind = sniff(path)
        except OSError as exc:
            reason = f"cannot read: {exc.strerror or exc}"
            if explicit:
                raise InputError(f"{path}: {reason}") from exc
            result.skipped.append((path, reason))
            return
        if kind is None:
            reason = "unknown file kind (not EVTX, JSON or NDJSON, plain or gzip)"
            if explicit:
                raise InputError(f"{path}: {reason}")
            result.skipped.append((path, reason))
            return
        seen.add(key)
        result.append((path, sources[kind]))

    for path in paths:
        if path == "-":
            result.append(("-", sources["ndjson"]))
        elif os.path.isdir(path):
            for file in _walk(path):
                add(file, explicit=False)
        elif os.path.exists(path):
            add(path, explicit=True)
        else:
            raise InputError(f"input not found: {path}")
    return result
