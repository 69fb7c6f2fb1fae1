"""Explicit plugin registries.

Every stage lists its plugins here by hand, never by name-prefix discovery, so that a
reader sees the whole set in one place. ``tests/test_registry.py`` fails when a
registered plugin has no docstring, no test or no sample.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Registry(Generic[T]):
    """An ordered, named set of plugin classes of one stage (``source``, ``normalizer`` ...)."""

    stage: str
    plugins: tuple[type[T], ...]

    def __iter__(self) -> Iterator[type[T]]:
        return iter(self.plugins)

    def __len__(self) -> int:
        return len(self.plugins)

    def get(self, name: str) -> type[T]:
        """The plugin whose class-level ``name`` is ``name``."""
        for plugin in self.plugins:
            if getattr(plugin, "name", None) == name:
                return plugin
        raise KeyError(f"no {self.stage} named {name!r}")
