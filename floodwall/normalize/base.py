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
