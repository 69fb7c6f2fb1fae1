"""Fixtures for the console: a fresh store, cheap argon2 parameters, a settable clock, and
a live console on loopback with one user per role and tokens.

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

_HELPERS = (
    ("console_util", Path(__file__).with_name("console_util.py")),
    # the loopback aiosmtpd sink of the relay tests
    ("smtp_sink", Path(__file__).resolve().parents[1] / "respond" / "smtp_sink.py"),
)
for _name, _path in _HELPERS:
    if _name not in sys.modules:
        _spec = importlib.util.spec_from_file_location(_name, _path)
        assert _spec is not None and _spec.loader is not None
        _module = importlib.util.module_from_spec(_spec)
        sys.modules[_name] = _module
        _spec.loader.exec_module(_module)

from console_util import LiveConsole, ManualClock, build_console, hold_sample, live_server  # noqa: E402
from smtp_sink import SinkHandler, smtp_sink  # noqa: E402


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


@pytest.fixture
def live(tmp_path: Path, hasher: PasswordHasherAdapter) -> Iterator[LiveConsole]:
    """A console whose next hop is a loopback SMTP sink, with one held message."""
    with smtp_sink() as (sink, host, port):
        app, store, alerts, tokens, token_ids = build_console(
            tmp_path, hasher, relay=f"{host}:{port}"
        )
        held = hold_sample(store, tmp_path / "data")
        with live_server(app) as base:
            console = LiveConsole(base, tmp_path / "data", store, alerts, tokens, token_ids)
            console.extras.update(sink=sink, held=held)
            yield console
        store.close()


__all__ = ["SinkHandler"]
