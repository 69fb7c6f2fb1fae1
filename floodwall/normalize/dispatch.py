"""Choose the normalizer of a raw record: the first registered one that handles it.

The order matters: specific shapes first (cheap key checks on the top level), the
generic fallback last. This runs once per record, so the choice is a short loop
over pre-bound methods.
"""

from __future__ import annotations

from itertools import takewhile
from typing import cast

from floodwall.ingest.base import RawRecord
from floodwall.normalize.base import FieldsNormalizer, Normalizer
from floodwall.normalize.generic_json import GenericJsonNormalizer
from floodwall.normalize.windows_flat import WindowsFlatNormalizer
from floodwall.normalize.windows_xml import WindowsXmlNormalizer
from floodwall.normalize.winlogbeat import WinlogbeatNormalizer
from floodwall.records import Event
from floodwall.registry import Registry

NORMALIZERS: Registry[Normalizer] = Registry(
    "normalizer",
    (
        # The shapes are disjoint (a top-level EventID, Event or winlog key), so the
        # flat one, the most common in exports, is tried first: one check per record.
        WindowsFlatNormalizer,  # {"EventID": ..., "Channel": ...}
        WindowsXmlNormalizer,  # {"Event": {"System": ...}}
        WinlogbeatNormalizer,  # {"winlog": {...}}
        GenericJsonNormalizer,  # anything else; handles every record
    ),
)

_INSTANCES: tuple[Normalizer, ...] = tuple(plugin() for plugin in NORMALIZERS)

#: The leading normalizers that give an event's parts without making it: the hunt's
#: quick path asks these, in this order, and hands every other record to ``normalize``,
#: so both pick the same normalizer for a record.
QUICK: tuple[FieldsNormalizer, ...] = tuple(
    cast(FieldsNormalizer, n) for n in takewhile(lambda n: hasattr(n, "fields_of"), _INSTANCES)
)
_CHOICES = tuple((n.is_handled, n.normalize) for n in _INSTANCES)
_FALLBACK = _INSTANCES[-1].normalize


def normalizer_for(raw: RawRecord) -> Normalizer:
    """The normalizer ``normalize`` would use for ``raw``."""
    for instance in _INSTANCES:
        if instance.is_handled(raw.data):
            return instance
    return _INSTANCES[-1]


def normalize(raw: RawRecord) -> Event:
    """Normalize ``raw`` with the first registered normalizer that handles it."""
    data = raw.data
    for is_handled, run in _CHOICES:
        if is_handled(data):
            return run(raw)
    return _FALLBACK(raw)
