"""What a source yields, and the shape every source has."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from floodwall.ingest.intake import IntakeLog
from floodwall.records import Origin


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One decoded record as the source gave it, before normalization."""

    origin: Origin
    data: dict[str, Any]


#: A record as a source decoded it, before it is made a ``RawRecord``: its record id
#: (EVTX EventRecordID or 1-based line or element number), the JSON text it was decoded
#: from (None where the source has no text of its own for it) and the object. The hunt
#: makes records only of the events it reports.
Decoded = tuple[int, bytes | None, dict[str, Any]]


def raw_records(path: str, decoded: Iterator[Decoded]) -> Iterator[RawRecord]:
    """``decoded`` as the source's raw records."""
    return (RawRecord(Origin(path, n), data) for n, _, data in decoded)


class Source(Protocol):
    """Reads one input (a file path, or ``-`` for stdin) into raw records.

    Damage is reported to ``intake`` with its place (line or offset), never skipped
    quietly and never raised: a source only raises ``InputError`` when the input as
    a whole cannot be opened.
    """

    name: ClassVar[str]

    def read(self, path: str, intake: IntakeLog) -> Iterator[RawRecord]: ...


class InputError(Exception):
    """An input that cannot be read at all (missing, unreadable, wrong kind)."""
