"""Write a large, valid EVTX file of realistic records for the ``floodwall hunt`` benchmark.

Why. The SigmaHQ regression EVTX files hold 1-7 records each, so hunting thousands of
copies measures the cost per file, not per record. A real Security or Sysmon log is one
file of many full 64 KiB chunks, each holding a hundred or more records.

How. Chunks of the small real files cannot be merged into full chunks: a record's
BinXML points at template definitions and names by their offset in its own chunk. So
this script writes the BinXML itself, the way Windows does (libevtx's "Windows XML
Event Log (EVTX)" format notes; MS-EVEN6 3.1.4.7 for BinXML):

- each record is a TemplateInstance: the template (the element tree with substitution
  tokens, names inline) is defined inline at its first use in a chunk and referenced
  by offset after that, and it is listed in the chunk's template table; its names are
  listed in the chunk's string table (hash buckets, chained as Windows chains them);
- System holds typed substitutions (UInt16 EventID, FILETIME SystemTime, SID UserID
  ...), EventData one ``<Data Name="...">`` per field;
- the file header and every chunk carry their CRC32 checksums.

Records. The events of ``make_events.generate`` (real OTRF Sysmon records re-issued
with a production-like EventID mix, a few percent from the attack runs), turned from
the flat OTRF shape into System + EventData, and one in ``REGRESSION_EVERY`` a real
record of the SigmaHQ regression EVTX files (Security, System, PowerShell, Sysmon ...:
nearly all of them attacks), read with the evtx package.

Check (``--verify``): the evtx package reads the file back, every record is there, and
each record's JSON equals the model it was written from (EventRecordID aside).

Usage::

    python bench/make_evtx.py OUT.evtx --records 100000 [--seed 1] [--verify]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evtx_writer import (
    UINT8,
    UINT16,
    UINT32,
    UINT64,
    Node,
    Val,
    filetime,
    guid,
    keywords,
    number,
    scalar,
    sid,
    small,
    string,
    write,
)
from make_events import SHARED, generate

REGRESSION_DIR = SHARED / "sigmahq" / "regression_data"
REGRESSION_EVERY = 50  # one real regression record per 50 records (2 %)
XMLNS = "http://schemas.microsoft.com/win/2004/08/events/event"

# OTRF/nxlog transport fields: not event data.
# OTRF/nxlog transport fields: not event data.
_META = frozenset(
    [
        "SourceName",
        "ProviderGuid",
        "EventID",
        "Version",
        "Level",
        "Task",
        "Opcode",
        "OpcodeValue",
        "Keywords",
        "@timestamp",
        "TimeCreated",
        "EventTime",
        "EventReceivedTime",
        "RecordNumber",
        "ExecutionProcessID",
        "ThreadID",
        "Channel",
        "Hostname",
        "Computer",
        "UserID",
        "Domain",
        "AccountType",
        "AccountName",
        "SeverityValue",
        "Severity",
        "Category",
        "SourceModuleType",
        "SourceModuleName",
        "port",
        "host",
        "@version",
        "tags",
        "Message",
        "ProcessID",
        "EventTypeOrignal",
    ]
)
_NXLOG_EVENT_TYPES = frozenset({"INFO", "AUDIT_SUCCESS", "AUDIT_FAILURE", "WARNING", "ERROR"})


# --- records in -----------------------------------------------------------------------


def system(
    provider: str,
    provider_guid: str | None,
    event_id: Val,
    qualifiers: int | None,
    numbers: tuple[Val, Val, Val, Val, Val],
    when: Val,
    record_id: int,
    activity: str | None,
    execution: tuple[int, int],
    channel: str,
    computer: str,
    user_id: str | None,
) -> Node:
    """The System element as Windows writes it (MS-EVEN6 2.2.13 event schema)."""
    version, level, task, opcode, kw = numbers
    prov = Node("Provider", [("Name", string(provider))])
    if provider_guid:
        prov.attrs.append(("Guid", guid(provider_guid)))
    eid = Node("EventID", [], [event_id])
    if qualifiers is not None:
        eid.attrs.append(("Qualifiers", number(qualifiers, UINT16)))
    corr = Node("Correlation", [("ActivityID", guid(activity))] if activity else [])
    sec = Node("Security", [("UserID", sid(user_id))] if user_id else [])
    return Node(
        "System",
        [],
        [
            prov,
            eid,
            Node("Version", [], [version]),
            Node("Level", [], [level]),
            Node("Task", [], [task]),
            Node("Opcode", [], [opcode]),
            Node("Keywords", [], [kw]),
            Node("TimeCreated", [("SystemTime", when)]),
            Node("EventRecordID", [], [number(record_id, UINT64)]),
            corr,
            Node(
                "Execution",
                [
                    ("ProcessID", number(execution[0], UINT32)),
                    ("ThreadID", number(execution[1], UINT32)),
                ],
            ),
            Node("Channel", [], [string(channel)]),
            Node("Computer", [], [string(computer)]),
            sec,
        ],
    )


def from_flat(event: dict[str, Any], record_id: int) -> Node:
    """An OTRF/nxlog flat record (``make_events``) as an Event element."""
    when = event.get("@timestamp") or event.get("TimeCreated") or event.get("UtcTime")
    eid = int(event["EventID"])
    sys_node = system(
        str(event.get("SourceName", "Microsoft-Windows-Sysmon")),
        event.get("ProviderGuid"),
        number(eid, UINT16),
        None,
        (
            small(event.get("Version", 5), UINT8),
            small(event.get("Level", 4), UINT8, 4),
            small(event.get("Task", eid), UINT16, eid),
            small(event.get("OpcodeValue", 0), UINT8),
            keywords(event.get("Keywords")),
        ),
        filetime(str(when or "2024-05-06T08:00:00Z")),
        record_id,
        None,
        (int(event.get("ExecutionProcessID") or 0), int(event.get("ThreadID") or 0)),
        str(event.get("Channel")),
        str(event.get("Hostname") or event.get("Computer") or "-"),
        event.get("UserID"),
    )
    data = Node("EventData")
    # One field order per EventID, as the provider's manifest fixes it (OTRF's varies).
    for key, value in sorted(event.items()):
        if key in _META or (key == "EventType" and value in _NXLOG_EVENT_TYPES):
            continue
        data.children.append(Node("Data", [("Name", key)], [scalar(value)]))
    return Node("Event", [("xmlns", XMLNS)], [sys_node, data])


def from_json(event: dict[str, Any], record_id: int) -> Node:
    """A record as the evtx package renders it (``{"Event": {...}}``), back to elements."""
    root = event["Event"]
    s = root["System"]

    def attr(element: str, name: str) -> Any:
        node = s.get(element)
        return (node.get("#attributes") or {}).get(name) if type(node) is dict else None

    eid_raw = s.get("EventID")
    qualifiers = None
    if type(eid_raw) is dict:
        qualifiers = (eid_raw.get("#attributes") or {}).get("Qualifiers")
        eid_raw = eid_raw.get("#text")
    sys_node = system(
        str(attr("Provider", "Name") or ""),
        attr("Provider", "Guid"),
        number(int(eid_raw), UINT16),
        int(qualifiers) if qualifiers is not None else None,
        (
            small(s.get("Version", 0), UINT8),
            small(s.get("Level", 0), UINT8),
            small(s.get("Task", 0), UINT16),
            small(s.get("Opcode", 0), UINT8),
            keywords(s.get("Keywords")),
        ),
        filetime(str(attr("TimeCreated", "SystemTime"))),
        record_id,
        attr("Correlation", "ActivityID"),
        (int(attr("Execution", "ProcessID") or 0), int(attr("Execution", "ThreadID") or 0)),
        str(s.get("Channel") or ""),
        str(s.get("Computer") or ""),
        attr("Security", "UserID"),
    )
    children: list[Node | Val | str] = [sys_node]
    for key in ("EventData", "UserData"):
        if key in root:
            children.append(tree(key, root[key], data=key == "EventData"))
    return Node("Event", [("xmlns", XMLNS)], children)


def tree(name: str, value: Any, data: bool = False) -> Node:
    """An element from its JSON rendering; in EventData a key X is ``<Data Name="X">``."""
    node = Node(name)
    if type(value) is not dict:
        if value is not None:
            node.children.append(scalar(value))
        return node
    for key, item in value.items():
        if key == "#attributes":
            node.attrs.extend((k, scalar(v) if type(v) is not str else v) for k, v in item.items())
        elif key == "#text":
            node.children.append(scalar(item))
        elif data and key not in ("Data", "Binary"):
            node.children.append(Node("Data", [("Name", key)], [scalar(item)]))
        else:
            for one in item if type(item) is list else [item]:
                node.children.append(tree(key, one))
    return node


def regression_records() -> list[dict[str, Any]]:
    """Every record of the SigmaHQ regression EVTX files, as the evtx package reads them."""
    import json

    import evtx

    out = []
    for path in sorted(REGRESSION_DIR.rglob("*.evtx")):
        try:
            for item in evtx.PyEvtxParser(str(path)).records_json():
                out.append(json.loads(item["data"]))
        except (OSError, RuntimeError):
            continue
    return out


def sources(count: int, seed: int) -> Iterator[tuple[int, dict[str, Any], bool]]:
    """(EventRecordID, record, is_flat) in order: the flat events of ``make_events`` and,
    one in ``REGRESSION_EVERY``, a regression record as the evtx package renders it."""
    real = regression_records()
    flat = generate(count, seed)
    for n in range(1, count + 1):
        event = next(flat)  # drawn for every n: the flat stream is the same with or without
        if real and n % REGRESSION_EVERY == 0:
            yield n, real[(n // REGRESSION_EVERY) % len(real)], False
        else:
            yield n, event, True


def events(count: int, seed: int) -> Iterator[Node]:
    """The benchmark's records as elements; EventRecordID counts from 1."""
    for n, record, is_flat in sources(count, seed):
        yield from_flat(record, n) if is_flat else from_json(record, n)


def expected_data(record: dict[str, Any], is_flat: bool) -> Any:
    """The EventData the evtx package must read back for a record."""
    if not is_flat:
        return record["Event"].get("EventData")
    return {
        k: v
        for k, v in record.items()
        if k not in _META and not (k == "EventType" and v in _NXLOG_EVENT_TYPES)
    }


def verify(path: Path, count: int, seed: int) -> tuple[int, int]:
    """Read the file back with the evtx package: every record, in order, and the same
    EventData as written. Returns (records read, records whose EventData differs)."""
    import json

    import evtx

    read = evtx.PyEvtxParser(str(path)).records_json()
    differ = 0
    for n, record, is_flat in sources(count, seed):
        item = next(read)
        if item["event_record_id"] != n:
            raise ValueError(f"record {n} read as {item['event_record_id']}")
        got = json.loads(item["data"])["Event"].get("EventData")
        differ += got != expected_data(record, is_flat)
    if next(read, None) is not None:
        raise ValueError(f"more than the {count} records written were read back")
    return count, differ


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--verify", action="store_true")
    args = parser.parse_args(argv)
    count, chunks = write(args.out, events(args.records, args.seed))
    size = args.out.stat().st_size
    print(
        f"{args.out}: {count:,} records in {chunks:,} chunks, {size / 1e6:.1f} MB", file=sys.stderr
    )
    if args.verify:
        read, differ = verify(args.out, count, args.seed)
        print(
            f"verified: the evtx package reads {read:,} records back, "
            f"{differ} with other EventData",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
