"""Argument types shared by the commands: a bad value is a usage error (exit 2) with a
message that says what was expected, never a traceback."""

from __future__ import annotations

import argparse
from datetime import date


def iso_day(text: str) -> date:
    """``YYYY-MM-DD`` (ISO 8601 calendar date)."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None
