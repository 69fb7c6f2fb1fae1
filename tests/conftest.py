"""Shared fixtures: where the shared test corpora are, and the compiled default rules."""

from __future__ import annotations

import importlib.util
import struct
import sys
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from floodwall.ingest.evtx_source import CHUNK_SIZE, HEADER_SIZE

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# The loopback DNS server and DKIM helpers (``dns_util``), importable by name from any test
# folder: tests/ is not a package (importlib import mode).
if "dns_util" not in sys.modules:
    _spec = importlib.util.spec_from_file_location(
        "dns_util", Path(__file__).with_name("dns_util.py")
    )
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["dns_util"] = _module
    _spec.loader.exec_module(_module)


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


EVTX_SAMPLE = Path(__file__).parent / "samples" / "ingest" / "evtx" / "sysmon_process_creation.evtx"


@pytest.fixture(scope="session")
def many_chunk_evtx() -> Callable[[int], bytes]:
    """Builds a valid EVTX file of ``copies`` copies of the sample's one chunk (records
    1..6 each): a file large enough to be cut into chunk ranges."""

    def build(copies: int) -> bytes:
        data = EVTX_SAMPLE.read_bytes()
        header = bytearray(data[:HEADER_SIZE])
        struct.pack_into("<QQ", header, 8, 0, copies - 1)  # first and last chunk number
        struct.pack_into("<H", header, 42, copies)  # chunk count
        struct.pack_into("<I", header, 124, zlib.crc32(bytes(header[:120])))
        return bytes(header) + data[HEADER_SIZE : HEADER_SIZE + CHUNK_SIZE] * copies

    return build


@pytest.fixture(scope="session")
def hyperscan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache of compiled Hyperscan databases for the session (the default rules'
    anchor database takes seconds to compile), shared by test workers."""
    return tmp_path_factory.getbasetemp().parent / "floodwall-hyperscan-cache"


@pytest.fixture(scope="session")
def example_key() -> tuple[bytes, str]:
    """A DKIM key pair for the example zone: (private PEM, public TXT record)."""
    import dns_util

    return dns_util.dkim_key()


@pytest.fixture
def example_dns(example_key: tuple[bytes, str]) -> Iterator[Any]:
    """A DNS server on loopback serving the example zone (``dns_util.add_example_zone``)."""
    import dns_util

    with dns_util.DnsServer() as srv:
        dns_util.add_example_zone(srv, example_key[1])
        yield srv
