"""Plain indicator lists, optionally gzip-compressed, one entry per line:

- LOKI / signature-base style ``value;comment`` (``#`` lines are comments; a ``# heading``
  line names the values below it when they carry no comment of their own; a bare
  number after ``;`` is LOKI's score and becomes the confidence);
- IPsum's ``ip<TAB>count``: the count of blocklists naming the address becomes the
  confidence (``ipsum_confidence``), and the ``# Last update:`` header the last-seen time;
- one value per line, or ``value,comment`` CSV.

Each value's type is sniffed (hash length, IP, CIDR, URL, email, domain with a known
top-level label). Lines that are none of these (LOKI's file-name regexes, garbage,
invalid UTF-8, over-long lines) are skipped and counted.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from floodwall.enrich.intel.feedio import MAX_LINE, iter_lines, open_feed
from floodwall.enrich.intel.indicator import (
    DEFAULT_CONFIDENCE,
    FeedError,
    FeedItem,
    Indicator,
    Skipped,
)
from floodwall.enrich.intel.normalize import NormalizeError, sniff

_LAST_UPDATE = "# last update:"


def ipsum_confidence(count: int) -> int:
    """IPsum's blocklist count -> confidence: 20 per list, 100 from five lists on.

    IPsum itself suggests level 3 (three lists) and up for blocking; that maps to 60.
    """
    return max(0, min(100, 20 * count))


def _header_time(line: str) -> datetime | None:
    try:
        stamp = email.utils.parsedate_to_datetime(line[len(_LAST_UPDATE) :].strip())
    except (TypeError, ValueError, IndexError):
        return None
    return stamp.astimezone(UTC) if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _split(line: str) -> tuple[str, str, str]:
    """``(value, delimiter, rest)`` at the first ``;``, tab or ``,``."""
    cut = min((i for i in (line.find(";"), line.find("\t"), line.find(",")) if i >= 0), default=-1)
    if cut < 0:
        return line, "", ""
    return line[:cut], line[cut], line[cut + 1 :]


def parse_lines(
    lines: Iterator[tuple[int, bytes | None]],
    source: str,
    *,
    name: str = "",
    confidence: int = DEFAULT_CONFIDENCE,
    known_tld: Callable[[str], bool] | None = None,
) -> Iterator[FeedItem]:
    """Indicators from numbered raw lines (see the module docstring for the formats)."""
    heading = ""
    updated: datetime | None = None
    for number, raw in lines:
        where = f"{name}:{number}"
        if raw is None:
            yield Skipped(f"line longer than {MAX_LINE} bytes", where)
            continue
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            yield Skipped("line is not valid UTF-8", where, raw[:80].decode("utf-8", "replace"))
            continue
        if not line:
            heading = ""  # a blank line ends the block a heading names
            continue
        if line.startswith("#"):
            if line.lower().startswith(_LAST_UPDATE):
                updated = _header_time(line) or updated
            text = line.lstrip("#").strip()
            # A bare "#" ends a heading; a ruler line ("# -----") keeps it.
            heading = "" if not text else heading if set(text) <= set("-=#") else text
            continue
        value, delim, rest = _split(line)
        try:
            itype, norm = sniff(value, known_tld)
        except NormalizeError as exc:
            if not delim:
                yield Skipped(f"not an indicator: {exc}", where, line)
                continue
            try:  # a URL may hold ';' or ','
                itype, norm = sniff(line, known_tld)
                rest = ""
            except NormalizeError:
                yield Skipped(f"not an indicator: {exc}", where, value)
                continue
        conf = confidence
        comment = rest.strip()
        tags: tuple[str, ...] = ()
        if comment.isdigit() and delim == "\t":
            conf, comment, heading = ipsum_confidence(int(comment)), "", ""
            tags = (f"blocklists:{int(rest)}",)
        elif comment.isdigit() and delim == ";" and int(comment) <= 100:
            conf, comment = int(comment), ""  # LOKI score
        yield Indicator(
            type=itype,
            value=norm,
            source=source,
            confidence=conf,
            last_seen=updated,
            tags=tags,
            comment=comment or heading,
        )


def read_file(
    path: Path,
    source: str,
    *,
    confidence: int = DEFAULT_CONFIDENCE,
    known_tld: Callable[[str], bool] | None = None,
) -> Iterator[FeedItem]:
    """Indicators from one list file (plain or gzip)."""
    try:
        fh = open_feed(path)
    except OSError as exc:
        raise FeedError(f"{path}: cannot read: {exc}") from None
    with fh:
        try:
            yield from parse_lines(
                iter_lines(fh), source, name=path.name, confidence=confidence, known_tld=known_tld
            )
        except FeedError as exc:  # a truncated .gz: what came before it stays imported
            yield Skipped(f"rest of file unreadable: {exc}", path.name)
