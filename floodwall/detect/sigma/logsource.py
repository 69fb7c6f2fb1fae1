"""Map a rule's logsource to the events it applies to (``logsources.toml``)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from floodwall.detect.sigma.ir import LogSource

#: Selector channel for events that carry no event-log channel (generic JSON logs).
GENERIC = ""
#: Selector channel for "any channel" (``product: windows`` with nothing else).
ANY_CHANNEL = "*"


@dataclass(frozen=True, slots=True)
class Selector:
    """Events of ``channel`` (lowered) and, if given, one of ``event_ids``."""

    channel: str
    event_ids: frozenset[int] | None = None

    def accepts(self, channel: str, event_id: int | None) -> bool:
        """Whether an event of ``channel`` (lowered) and ``event_id`` is selected."""
        if self.channel == ANY_CHANNEL:
            return channel != GENERIC
        if self.channel != channel:
            return False
        return self.event_ids is None or (event_id is not None and event_id in self.event_ids)


class UnmappedLogSource(ValueError):
    """The logsource names a Windows category or service with no known channel."""


@dataclass(frozen=True)
class LogSourceMap:
    """The mapping table, read once from TOML and passed to the engine."""

    services: dict[str, tuple[str, ...]]
    categories: dict[str, dict[str, tuple[Selector, ...]]]  # product -> category -> selectors
    aliases: dict[tuple[str, int], tuple[tuple[str, str], ...]]  # (channel, eid) -> pairs

    @classmethod
    def load(cls, path: Path | None = None) -> LogSourceMap:
        """Read the table from ``path``, or the one shipped with Floodwall."""
        if path is None:
            text = resources.files("floodwall.detect.sigma").joinpath("logsources.toml").read_text()
        else:
            text = path.read_text()
        doc: dict[str, Any] = tomllib.loads(text)
        services = {k: tuple(v) for k, v in doc.get("windows", {}).get("services", {}).items()}
        categories: dict[str, dict[str, tuple[Selector, ...]]] = {}
        for product in ("windows", "linux"):
            cats = doc.get(product, {}).get("categories", {})
            categories[product] = {
                cat: tuple(
                    Selector(
                        e["channel"].lower(),
                        frozenset(e["event_ids"]) if "event_ids" in e else None,
                    )
                    for e in entries
                )
                for cat, entries in cats.items()
            }
        aliases = {
            (a["channel"].lower(), int(a["event_id"])): tuple(a["fields"].items())
            for a in doc.get("aliases", [])
        }
        return cls(services, categories, aliases)

    def selectors(self, ls: LogSource) -> tuple[Selector, ...]:
        """The events a rule with logsource ``ls`` applies to."""
        product = (ls.product or "").lower()
        category = (ls.category or "").lower()
        service = (ls.service or "").lower()
        if product == "windows":
            if category:
                found = self.categories["windows"].get(category)
                if found is None:
                    raise UnmappedLogSource(f"windows category {category!r} has no channel mapping")
                if service and service in self.services:
                    wanted = {c.lower() for c in self.services[service]}
                    found = tuple(s for s in found if s.channel in wanted) or found
                return found
            if service:
                channels = self.services.get(service)
                if channels is None:
                    raise UnmappedLogSource(f"windows service {service!r} has no channel mapping")
                return tuple(Selector(c.lower()) for c in channels)
            return (Selector(ANY_CHANNEL),)
        extra = self.categories.get(product, {}).get(category, ())
        return (*extra, Selector(GENERIC))
