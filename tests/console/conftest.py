"""Fixtures for the console: a fresh store, cheap argon2 parameters, a settable clock.

Also makes ``console_util`` importable by name: tests/ is not a package (importlib
import mode), and conftest files load before test modules."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import argon2
import pytest

from floodwall.console.passwords import PasswordHasherAdapter
from floodwall.store.db import Store, open_store

if "console_util" not in sys.modules:
    _spec = importlib.util.spec_from_file_location(
        "console_util", Path(__file__).with_name("console_util.py")
    )
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["console_util"] = _module
    _spec.loader.exec_module(_module)

from console_util import ManualClock


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "data") as s:
        yield s


@pytest.fixture
def hasher() -> PasswordHasherAdapter:
    # The smallest argon2id costs: the tests check behaviour, not the work factor.
    return PasswordHasherAdapter(argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
