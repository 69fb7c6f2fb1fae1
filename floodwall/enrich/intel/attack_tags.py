"""ATT&CK techniques of intel findings, from the tags of the indicators they cite.

A MISP event tags its attributes (or itself) with galaxy clusters such as
``misp-galaxy:mitre-attack-pattern="Spearphishing Attachment - T1566.001"``; a STIX
indicator names techniques in its labels. Those tags travel with each source of an
indicator in the store. The kind of value alone (an address, a hash) tells no
technique, so an indicator that names none leaves its finding without one.

Intel findings are few, so their indicators are looked up when they occur, through the
``find`` callable the caller builds (no I/O here), and remembered per indicator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Protocol

from floodwall.records import Finding
from floodwall.store.intel_records import IndicatorRecord

#: Indicators whose techniques are remembered at most; then the memory starts afresh.
MEMO_LIMIT = 10_000


class TechniqueMapper(Protocol):
    """What ``AttackEnricher.for_intel`` offers: technique ids from tags and names."""

    def for_intel_ids(self, tags: Iterable[str]) -> tuple[str, ...]: ...


class IntelAttackTagger:
    """Gives each intel finding (``detector == "intel"``) the ATT&CK techniques that the
    tags of its indicator's sources name; other findings pass unchanged."""

    def __init__(
        self, find: Callable[[str], Sequence[IndicatorRecord]], techniques: TechniqueMapper
    ) -> None:
        """``find(value)``: the stored indicators whose value is ``value``
        (``IntelStore.find_exact``)."""
        self._find = find
        self._techniques = techniques
        self._memo: dict[str, tuple[str, ...]] = {}

    def tag(self, findings: Sequence[Finding]) -> list[Finding]:
        out: list[Finding] = []
        for f in findings:
            indicator = f.evidence.get("indicator") if f.detector == "intel" else None
            if not isinstance(indicator, str) or f.attack:
                out.append(f)
                continue
            ids = self._ids(indicator)
            out.append(replace(f, attack=ids) if ids else f)
        return out

    def _ids(self, indicator: str) -> tuple[str, ...]:
        found = self._memo.get(indicator)
        if found is None:
            tags = [
                tag
                for record in self._find(indicator)
                if record.value == indicator
                for source in record.sources
                for tag in source.tags
            ]
            found = self._techniques.for_intel_ids(tags) if tags else ()
            if len(self._memo) >= MEMO_LIMIT:
                self._memo.clear()
            self._memo[indicator] = found
        return found
