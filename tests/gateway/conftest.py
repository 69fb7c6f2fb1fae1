"""Makes the gateway test parts (``gw_util``: next-hop sink, in-process gateway) importable
by name: tests/ is not a package (importlib import mode), and conftest files load before
test modules."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if "gw_util" not in sys.modules:
    _spec = importlib.util.spec_from_file_location(
        "gw_util", Path(__file__).with_name("gw_util.py")
    )
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["gw_util"] = _module
    _spec.loader.exec_module(_module)
