"""Argument types shared by the commands: a bad value is a usage error (exit 2) with a
message that says what was expected, never a traceback."""

from __future__ import annotations

import argparse
from datetime import date

from floodwall.store.figures_records import FIRST_DAY, LAST_DAY


def iso_day(text: str) -> date:
    """``YYYY-MM-DD`` (ISO 8601 calendar date), a day figures can cover."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise argparse.ArgumentTypeError(f"not a day from {FIRST_DAY} to {LAST_DAY}: {text!r}")
    return day
