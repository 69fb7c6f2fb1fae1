"""The shape every normalizer has."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

from floodwall.ingest.base import RawRecord
from floodwall.records import Event


class Normalizer(Protocol):
    """Turns one raw record of a known shape into an ``Event``.

    ``is_handled`` is a cheap test on the record's top-level keys; the first
    registered normalizer that handles a record normalizes it.
    """

    name: ClassVar[str]

    def is_handled(self, data: Mapping[str, Any]) -> bool: ...

    def normalize(self, raw: RawRecord) -> Event: ...


class FieldsNormalizer(Normalizer, Protocol):
    """A normalizer that also gives an event's parts without making the event (the
    hunt's quick path), each exactly as ``normalize`` makes them."""

    def fields_of(
        self, data: Mapping[str, Any]
    ) -> tuple[str | None, int | None, dict[str, Any], bool]:
        """Channel, EventID, fields, and whether every value is as the record holds it."""
        ...

    def addresses(self, fields: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """The ECS source and destination addresses of those fields."""
        ...
