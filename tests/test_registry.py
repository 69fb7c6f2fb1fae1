"""Every registered plugin has a docstring, a test and a sample (like datasette's check
that fails when a hook is undocumented)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from floodwall.plugins import REGISTRIES

TESTS = Path(__file__).resolve().parent
STAGE_DIR = {
    "source": "ingest",
    "normalizer": "normalize",
    "detector": "detect",
    "mail_detector": "detect/mail",
}


def plugin_name(plugin: Any) -> str:
    """Sources, normalizers and log detectors have a ``name``; mail detectors an ``id``."""
    return str(getattr(plugin, "name", None) or plugin.id.removeprefix("mail."))


PLUGINS = [
    pytest.param(registry.stage, plugin, id=f"{registry.stage}:{plugin_name(plugin)}")
    for registry in REGISTRIES
    for plugin in registry
]


def test_every_stage_has_plugins() -> None:
    assert {r.stage for r in REGISTRIES} == set(STAGE_DIR)
    assert all(len(r) > 0 for r in REGISTRIES)


@pytest.mark.parametrize(("stage", "plugin"), PLUGINS)
def test_plugin_has_docstring(stage: str, plugin: Any) -> None:
    assert (plugin.__doc__ or "").strip(), f"{plugin.__name__} has no docstring"


@pytest.mark.parametrize(("stage", "plugin"), PLUGINS)
def test_plugin_has_a_test(stage: str, plugin: Any) -> None:
    folder = TESTS / STAGE_DIR[stage]
    found = [p for p in folder.glob("test_*.py") if plugin.__name__ in p.read_text("utf-8")]
    assert found, f"no test in {folder} uses {plugin.__name__}"


@pytest.mark.parametrize(("stage", "plugin"), PLUGINS)
def test_plugin_has_a_sample(stage: str, plugin: Any) -> None:
    sample = TESTS / "samples" / STAGE_DIR[stage] / plugin_name(plugin)
    assert sample.is_dir() and any(sample.iterdir()), f"no sample in {sample}"


def test_plugin_names_are_unique() -> None:
    for registry in REGISTRIES:
        names = [plugin_name(p) for p in registry]
        assert len(names) == len(set(names)), registry.stage
