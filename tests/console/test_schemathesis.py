"""schemathesis generates requests from the OpenAPI document and sends them to the app
in-process (ASGI); any 5xx is a failure. It calls as an admin through an API token, so
every operation is reached past authorization."""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import argon2
import pytest
import schemathesis
from console_util import build_console, hold_sample
from hypothesis import HealthCheck, settings
from starlette.exceptions import StarletteDeprecationWarning

from floodwall.console.context import utc_now
from floodwall.console.passwords import PasswordHasherAdapter
from floodwall.console.roles import Role
from floodwall.console.tokens import TokenStore
from floodwall.console.users import UserStore
from floodwall.store.db import Store

# schemathesis' ASGI transport imports starlette.testclient, which warns once at import
# that it prefers httpx2; that is the libraries' affair, not a defect of the console.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    import starlette.testclient  # noqa: F401

from schemathesis.checks import not_a_server_error


def _console_schema(tmp: Path) -> tuple[schemathesis.BaseSchema, Store]:
    """The app over a fresh store with sample data, and an admin token to call it with."""
    hasher = PasswordHasherAdapter(argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    app, store, *_ = build_console(tmp, hasher, relay="127.0.0.1:9")  # discard port: refused
    hold_sample(store, tmp / "data")
    admin = UserStore(store, hasher, utc_now).need("admin")
    assert admin.role is Role.ADMIN
    token = TokenStore(store, utc_now).create(
        admin.id, "schemathesis", "admin", expires_days=None, actor="test"
    )
    loaded = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    loaded.config.headers = {"Authorization": f"Bearer {token.token}"}
    return loaded, store


# Built at import: the parametrized test needs the schema while pytest collects.
_TMP = tempfile.TemporaryDirectory(prefix="floodwall-schemathesis-")
schema, _STORE = _console_schema(Path(_TMP.name))


@pytest.fixture(scope="module", autouse=True)
def _cleanup() -> Iterator[None]:
    yield
    _STORE.close()
    _TMP.cleanup()


@pytest.mark.timeout(600)
@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_server_errors(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[not_a_server_error])
