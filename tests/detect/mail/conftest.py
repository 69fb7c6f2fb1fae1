"""Makes the table builders importable as ``mail_util`` and ``attachment_cases``: tests/
is not a package (importlib import mode), and conftest files load before test modules."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

for _name, _file in (("mail_util", "util.py"), ("attachment_cases", "attachment_cases.py")):
    if _name not in sys.modules:
        _spec = importlib.util.spec_from_file_location(_name, Path(__file__).with_name(_file))
        assert _spec is not None and _spec.loader is not None
        _module = importlib.util.module_from_spec(_spec)
        sys.modules[_name] = _module
        _spec.loader.exec_module(_module)
