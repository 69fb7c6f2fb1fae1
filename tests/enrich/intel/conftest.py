"""Fixtures for the intel tests: the shared feed samples and the bundled reference data."""

from __future__ import annotations

from pathlib import Path

import pytest

from floodwall.enrich.intel.suffixes import PublicSuffixes
from floodwall.enrich.intel.warninglists import WarninglistIndex
from floodwall.settings import bundled_data


@pytest.fixture(scope="session")
def intel_samples(shared_data: Path) -> Path:
    """``../shared/data/threat_intel`` (MISP, STIX, LOKI and IPsum samples)."""
    folder = shared_data / "threat_intel"
    if not folder.is_dir():
        pytest.skip(f"threat intel samples not found at {folder} (present in CI)")
    return folder


@pytest.fixture(scope="session")
def suffixes() -> PublicSuffixes:
    """The bundled Public Suffix List as sets."""
    text = (bundled_data() / "reference" / "public_suffix_list.dat").read_text("utf-8")
    return PublicSuffixes.from_lines(text.splitlines())


@pytest.fixture(scope="session")
def warninglists(suffixes: PublicSuffixes) -> WarninglistIndex:
    """The bundled MISP warninglists (about a second to index: built once)."""
    return WarninglistIndex.load(suffixes=suffixes)
