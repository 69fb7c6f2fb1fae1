"""The columnar form of a set of indicators, from which the matcher is built.

One row per distinct ``(type, value)``: the sources that name it (as a reference into a
small table of distinct source tuples) and the highest confidence among them. A million
indicators are a list of strings and three small NumPy columns, not a million objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from floodwall.enrich.intel.indicator import INDICATOR_TYPES, Indicator, IndicatorType

TYPE_CODE: dict[str, int] = {t: i for i, t in enumerate(INDICATOR_TYPES)}


@dataclass(frozen=True, slots=True)
class IndicatorTables:
    """Distinct indicators as columns; ``types`` holds ``TYPE_CODE`` values."""

    values: Sequence[str]
    types: npt.NDArray[np.uint8]
    confidence: npt.NDArray[np.uint8]
    source_ref: npt.NDArray[np.int32]
    source_sets: tuple[tuple[str, ...], ...]

    def __len__(self) -> int:
        return len(self.values)

    def type_of(self, row: int) -> IndicatorType:
        """The indicator type of a row."""
        return INDICATOR_TYPES[int(self.types[row])]

    def sources_of(self, row: int) -> tuple[str, ...]:
        """The sources that name a row's value."""
        return self.source_sets[int(self.source_ref[row])]

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, Sequence[str], int]]) -> IndicatorTables:
        """From distinct ``(type, value, sources, confidence)`` rows (the store's export)."""
        values: list[str] = []
        types: list[int] = []
        conf: list[int] = []
        refs: list[int] = []
        set_ids: dict[tuple[str, ...], int] = {}
        for itype, value, sources, confidence in rows:
            key = tuple(sorted(set(sources)))
            values.append(value)
            types.append(TYPE_CODE[itype])
            conf.append(max(0, min(100, confidence)))
            refs.append(set_ids.setdefault(key, len(set_ids)))
        sets: list[tuple[str, ...]] = [()] * len(set_ids)
        for key, ref in set_ids.items():
            sets[ref] = key
        return cls(
            values=values,
            types=np.array(types, np.uint8),
            confidence=np.array(conf, np.uint8),
            source_ref=np.array(refs, np.int32),
            source_sets=tuple(sets),
        )

    @classmethod
    def from_indicators(cls, indicators: Iterable[Indicator]) -> IndicatorTables:
        """From parser output: the same value from several sources becomes one row."""
        merged: dict[tuple[str, str], tuple[set[str], int]] = {}
        for ind in indicators:
            key = (ind.type, ind.value)
            found = merged.get(key)
            if found is None:
                merged[key] = ({ind.source}, ind.confidence)
            else:
                found[0].add(ind.source)
                merged[key] = (found[0], max(found[1], ind.confidence))
        return cls.from_rows((t, v, tuple(s), c) for (t, v), (s, c) in merged.items())
