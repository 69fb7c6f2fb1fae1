"""Makes ``golden.py`` importable as ``normalize_golden``: tests/ is not a package
(importlib import mode), and conftest files are loaded before the test modules."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if "normalize_golden" not in sys.modules:
    _spec = importlib.util.spec_from_file_location(
        "normalize_golden", Path(__file__).with_name("golden.py")
    )
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["normalize_golden"] = _module
    _spec.loader.exec_module(_module)
