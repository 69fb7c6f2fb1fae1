"""Makes the table builders (``mail_util``, ``attachment_cases``) and the samples' message
builder (``sample_mail``) importable by name: tests/
is not a package (importlib import mode), and conftest files load before test modules."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "detect" / "mail"
_HELPERS = (
    ("mail_util", Path(__file__).with_name("util.py")),
    ("attachment_cases", Path(__file__).with_name("attachment_cases.py")),
    ("sample_mail", _SAMPLES / "sample_mail.py"),  # the sample scripts' message builder
)
for _name, _path in _HELPERS:
    if _name not in sys.modules:
        _spec = importlib.util.spec_from_file_location(_name, _path)
        assert _spec is not None and _spec.loader is not None
        _module = importlib.util.module_from_spec(_spec)
        sys.modules[_name] = _module
        _spec.loader.exec_module(_module)
