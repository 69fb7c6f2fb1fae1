"""Shared fixtures: where the shared test corpora are, and the compiled default rules."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests that need it skip with a clear message when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"shared test corpora not found at {SHARED} (present in CI)")
    return SHARED


@pytest.fixture(scope="session")
def rule_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One compiled-rule cache for the whole session (compiling ~3,750 rules takes seconds)."""
    return tmp_path_factory.getbasetemp().parent / "floodwall-rule-cache"
