"""Golden-file helpers: an Event as a plain dict, compared whole with ``expected.json``.

Set ``FLOODWALL_REGENERATE_GOLDEN=1`` to rewrite the expected files after an intended
change, then review the diff.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from floodwall.ingest.base import RawRecord
from floodwall.records import Event, Origin

SAMPLES = Path(__file__).parents[1] / "samples" / "normalize"


def event_as_dict(event: Event) -> dict[str, Any]:
    """The whole Event as JSON-ready data (``fields`` as a plain dict)."""
    data = dataclasses.asdict(event)
    data["fields"] = dict(event.fields)
    return data


def sample_input(name: str) -> RawRecord:
    """The raw record of the normalizer ``name``'s golden sample."""
    data = json.loads((SAMPLES / name / "input.json").read_text(encoding="utf-8"))
    return RawRecord(Origin(f"samples/{name}/input.json", 1), data)


def expected(name: str, event: Event) -> dict[str, Any]:
    """The expected Event of ``name`` (rewritten from ``event`` when regenerating)."""
    path = SAMPLES / name / "expected.json"
    if os.environ.get("FLOODWALL_REGENERATE_GOLDEN") == "1":
        text = json.dumps(event_as_dict(event), indent=2, ensure_ascii=False) + "\n"
        path.write_text(text, encoding="utf-8")
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return result
