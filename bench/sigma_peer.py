"""The benchmark's peer: SigmaHQ rules as SQLite queries, the method Zircolite uses.

1. Convert every rule with pySigma's SQLite backend (``sqliteBackend``), the converter
   behind Zircolite. Deliberately plain: the default backend, no processing pipeline,
   no options. Zircolite ships rule sets converted with its own field mappings and a
   Sysmon/Windows pipeline; leaving them out keeps the peer reproducible from two
   public packages, and changes what matches, not how fast a query scans. Every rule
   that does not convert is counted, grouped by exception type and reason.
2. Load the events into one in-memory table ``logs`` (the backend's default table
   name) with one ``TEXT COLLATE NOCASE`` column per field. That is Zircolite's layout,
   and the backend relies on it: it emits ``field='value'`` and leaves case-insensitive
   equality to the column's collation.
3. Run every query over the table and fetch its rows, as Zircolite does to report
   them, counting matches per rule.

Loading and querying are timed separately; events/s is ``events / (load + query)``.
Conversion is not counted: Zircolite users run pre-converted rule sets.

Usage::

    python bench/sigma_peer.py EVENTS.ndjson [--rules DIR ...] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule

try:  # Zircolite decodes with orjson; msgspec is as fast and already a dependency.
    import msgspec

    _decode: Callable[[bytes], Any] = msgspec.json.decode
except ImportError:  # pragma: no cover - msgspec is a Floodwall dependency
    _decode = json.loads

SIGMA_DATA = Path(__file__).resolve().parents[1] / "floodwall" / "data" / "sigma"
DEFAULT_RULE_DIRS = tuple(
    SIGMA_DATA / name for name in ("rules", "rules-emerging-threats", "rules-threat-hunting")
)
TABLE = sqliteBackend.table  # "logs": what the converted queries select from


@dataclass
class ConvertedRule:
    """One rule's SQL, and the columns it names (they must exist to prepare it)."""

    rule_id: str
    title: str
    queries: list[str]
    fields: list[str]


@dataclass
class Conversion:
    """Outcome of converting a rule set."""

    rule_files: int = 0
    rules_parsed: int = 0
    rules: list[ConvertedRule] = field(default_factory=list)
    #: "ExceptionType: reason" -> number of rules.
    failures: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


@dataclass
class PeerResult:
    """Everything the peer measured, as printed and as written with ``--json``."""

    events: int
    bytes: int
    rule_files: int
    rules_parsed: int
    rules_converted: int
    queries: int
    conversion_failures: dict[str, int]
    conversion_seconds: float
    load_seconds: float
    query_seconds: float
    query_failures: dict[str, int]
    rules_matched: int
    matches: int
    top_rules: list[tuple[str, int]]

    @property
    def seconds(self) -> float:
        """Load plus query time: the peer's cost of scanning the events."""
        return self.load_seconds + self.query_seconds

    @property
    def events_per_second(self) -> float:
        """Events scanned per second (load + query)."""
        return self.events / self.seconds if self.seconds else 0.0


def _reason(error: BaseException) -> str:
    """Exception type and a stable reason, so failures group by cause, not by rule."""
    text = re.split(r"\n|; |\. ", str(error))[0]
    text = re.sub(r"'[^']*'", "'…'", text)  # placeholder names, field names
    text = re.sub(r"\s*\(rule [^)]*\)|\s*in rule .*", "", text)
    return f"{type(error).__name__}: {text[:140]}"


def _load_rules(paths: Iterable[Path], conversion: Conversion) -> list[SigmaRule]:
    """Parse rule files one by one, so one bad file costs one rule, not the run."""
    files = sorted(p for d in paths for p in ([d] if d.is_file() else d.rglob("*.yml")))
    conversion.rule_files = len(files)
    collections = []
    for path in files:
        try:
            collections.append(SigmaCollection.from_yaml(path.read_text(encoding="utf-8")))
        except Exception as error:  # a rule the peer cannot read is a failure to count
            conversion.failures[_reason(error)] += 1
    merged = SigmaCollection.merge(collections)
    rules = []
    for rule in merged.rules:
        if isinstance(rule, SigmaRule):
            rules.append(rule)
        else:  # correlation and filter rules: the peer runs detection rules only
            conversion.failures[f"{type(rule).__name__}: not run by the peer"] += 1
    conversion.rules_parsed = len(rules)
    return rules


def convert(paths: Iterable[Path] = DEFAULT_RULE_DIRS) -> Conversion:
    """Parse and convert every rule under ``paths`` with the default SQLite backend."""
    conversion = Conversion()
    started = time.perf_counter()
    rules = _load_rules(paths, conversion)
    backend = sqliteBackend()
    for rule in rules:
        try:
            queries = [str(q) for q in backend.convert_rule(rule)]
            fields = backend.required_fields(rule)
        except Exception as error:  # count every kind of failure, as the issue asks
            conversion.failures[_reason(error)] += 1
            continue
        conversion.rules.append(ConvertedRule(str(rule.id), rule.title, queries, fields))
    conversion.seconds = time.perf_counter() - started
    return conversion


@functools.cache
def _compile(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _regexp(pattern: str, value: Any) -> bool:
    """SQLite REGEXP as the backend's README registers it: false for NULL.

    Compiled patterns are cached (Zircolite does the same), so the peer pays for
    matching, not for recompiling a pattern per row.
    """
    if value is None:
        return False
    compiled = _compile(pattern)
    return compiled is not None and compiled.search(str(value)) is not None


def _cell(value: Any) -> Any:
    """A JSON value as Zircolite stores it: scalars as is, containers as JSON text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return value


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load_events(
    connection: sqlite3.Connection, path: Path, extra_fields: Iterable[str]
) -> tuple[int, int]:
    """Create ``logs`` and insert every NDJSON event of ``path``; return (events, bytes).

    Columns are every field of the events, then every further field a rule names,
    since a query naming a missing column fails to prepare. SQLite column names are
    case-insensitive, so names that differ only by case share one column.
    """
    raw = path.read_bytes()
    events = [_decode(line) for line in raw.splitlines() if line.strip()]
    columns: dict[str, str] = {}
    for event in events:
        for key in event:
            columns.setdefault(key.lower(), key)
    names = list(columns.values())
    index = {name.lower(): i for i, name in enumerate(names)}
    definition = ", ".join(f"{_quote(n)} TEXT COLLATE NOCASE" for n in names)
    connection.execute(f"CREATE TABLE {TABLE} ({definition})")
    width = len(names)
    rows = []
    for event in events:
        row: list[Any] = [None] * width
        for key, value in event.items():
            row[index[key.lower()]] = _cell(value)
        rows.append(row)
    placeholders = ", ".join("?" * width)
    with connection:
        connection.executemany(f"INSERT INTO {TABLE} VALUES ({placeholders})", rows)
    # Fields only rules name are added afterwards, as the backend's runtime.ensure_fields
    # does: ADD COLUMN rewrites no row, and a row shorter than the table reads the extra
    # columns as NULL, so the stored rows stay as narrow as the events themselves.
    for name in extra_fields:
        if name.lower() not in columns and name.lower() != "rowid":
            columns[name.lower()] = name
            connection.execute(f"ALTER TABLE {TABLE} ADD COLUMN {_quote(name)} TEXT COLLATE NOCASE")
    return len(events), len(raw)


def run(
    events_path: Path,
    conversion: Conversion,
    progress: Callable[[str], None] | None = None,
) -> PeerResult:
    """Load the events, run every converted query, and time both phases."""
    say = progress or (lambda _msg: None)
    connection = sqlite3.connect(":memory:")
    connection.create_function("regexp", 2, _regexp, deterministic=True)
    extra = {name for rule in conversion.rules for name in rule.fields}

    started = time.perf_counter()
    events, size = load_events(connection, events_path, extra)
    load_seconds = time.perf_counter() - started
    say(f"peer: loaded {events} events in {load_seconds:.1f}s")

    matches: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    total = len(conversion.rules)
    started = time.perf_counter()
    for done, rule in enumerate(conversion.rules, 1):
        for query in rule.queries:
            try:
                rows = connection.execute(query).fetchall()
            except sqlite3.Error as error:
                failures[_reason(error)] += 1
                continue
            if rows:
                matches[rule.rule_id] += len(rows)
        if done % 500 == 0:
            elapsed = time.perf_counter() - started
            say(f"peer: {done}/{total} rules queried, {elapsed:.1f}s")
    query_seconds = time.perf_counter() - started
    connection.close()

    titles = {rule.rule_id: rule.title for rule in conversion.rules}
    return PeerResult(
        events=events,
        bytes=size,
        rule_files=conversion.rule_files,
        rules_parsed=conversion.rules_parsed,
        rules_converted=len(conversion.rules),
        queries=sum(len(rule.queries) for rule in conversion.rules),
        conversion_failures=dict(conversion.failures.most_common()),
        conversion_seconds=conversion.seconds,
        load_seconds=load_seconds,
        query_seconds=query_seconds,
        query_failures=dict(failures.most_common()),
        rules_matched=len(matches),
        matches=sum(matches.values()),
        top_rules=[(titles[rid], n) for rid, n in matches.most_common(10)],
    )


def report(result: PeerResult) -> str:
    """Human-readable summary of one peer run."""
    lines = [
        f"rule files              {result.rule_files}",
        f"rules parsed            {result.rules_parsed}",
        f"rules converted         {result.rules_converted} ({result.queries} queries)",
        f"conversion failures     {sum(result.conversion_failures.values())}",
    ]
    lines += [f"  {n:5d}  {reason}" for reason, n in result.conversion_failures.items()]
    lines += [
        f"conversion              {result.conversion_seconds:.1f}s (not counted)",
        f"events                  {result.events} ({result.bytes / 1e6:.1f} MB)",
        f"load                    {result.load_seconds:.2f}s",
        f"query                   {result.query_seconds:.2f}s",
        f"query failures          {sum(result.query_failures.values())}",
    ]
    lines += [f"  {n:5d}  {reason}" for reason, n in result.query_failures.items()]
    lines += [
        f"events/s                {result.events_per_second:,.0f}",
        f"MB/s                    {result.bytes / 1e6 / result.seconds:.2f}",
        f"matches                 {result.matches} from {result.rules_matched} rules",
    ]
    lines += [f"  {n:6d}  {title}" for title, n in result.top_rules]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: convert the rules, run them over one NDJSON file, print figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("events", type=Path, help="NDJSON events file")
    parser.add_argument(
        "--rules", type=Path, action="append", help="rule directory (repeatable; default: bundled)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)

    def say(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    say("peer: converting rules with pySigma's SQLite backend ...")
    conversion = convert(args.rules or DEFAULT_RULE_DIRS)
    say(f"peer: {len(conversion.rules)} rules converted in {conversion.seconds:.1f}s")
    result = run(args.events, conversion, say)
    print(report(result))
    if args.json:
        payload = asdict(result) | {
            "seconds": result.seconds,
            "events_per_second": result.events_per_second,
        }
        args.json.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
