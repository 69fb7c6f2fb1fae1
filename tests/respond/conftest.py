"""Makes ``smtp_sink`` (a real aiosmtpd server on loopback) importable by name: tests/ is
not a package (importlib import mode), and conftest files load before test modules."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if "smtp_sink" not in sys.modules:
    _spec = importlib.util.spec_from_file_location(
        "smtp_sink", Path(__file__).with_name("smtp_sink.py")
    )
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["smtp_sink"] = _module
    _spec.loader.exec_module(_module)
