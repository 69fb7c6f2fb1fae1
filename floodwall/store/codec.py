"""Finding <-> JSON, exact: what is stored decodes to a record equal to the original.

msgspec encodes the frozen dataclasses directly (about 2.5 µs for a typical EVTX
finding) and decodes straight into ``Finding`` with ``Severity``, tuples, ``Event``,
``Origin``, ``RuleRef`` and ``Observable`` rebuilt from the type annotations.

Attackers write the input, so two kinds of values that msgspec cannot carry exactly
are sent through the standard library instead (rare, slower, still exact):
- strings with lone surrogates (undecodable bytes kept with ``surrogateescape``),
  which UTF-8 cannot hold: msgspec refuses them, ``json`` writes ``\\udcxx``;
- NaN and ±infinity, which msgspec would silently turn into ``null``; ``json``
  writes ``NaN``/``Infinity``, as Python's own JSON reader accepted them.

Values in ``Event.fields`` and ``Finding.evidence`` should be JSON types. Of the
others, tuples come back as lists, and bytes or datetimes as strings.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import msgspec

from floodwall.records import Finding

__all__ = ["finding_from_json", "finding_to_json"]


def _enc_hook(obj: Any) -> Any:
    # Records type these fields as Mapping, so a MappingProxyType is legal there.
    if isinstance(obj, Mapping):
        return dict(obj)
    raise NotImplementedError(f"cannot store a {type(obj).__name__} in a finding")


_ENCODER = msgspec.json.Encoder(enc_hook=_enc_hook)
_DECODER = msgspec.json.Decoder(type=Finding)


def finding_to_json(f: Finding) -> str:
    """The whole finding as compact JSON text."""
    if not _has_non_finite(f.evidence) and (f.event is None or not _has_non_finite(f.event.fields)):
        try:
            return _ENCODER.encode(f).decode("utf-8")
        except (UnicodeEncodeError, msgspec.EncodeError):
            pass  # lone surrogates; fall through to the exact, slower path
    # ensure_ascii escapes surrogates as \udcxx, which survive UTF-8 storage.
    return json.dumps(
        msgspec.to_builtins(f, enc_hook=_enc_hook), ensure_ascii=True, separators=(",", ":")
    )


def finding_from_json(s: str | bytes) -> Finding:
    """The finding ``finding_to_json`` wrote."""
    try:
        return _DECODER.decode(s)
    except msgspec.DecodeError:
        # Written by the fallback path: NaN tokens or \udcxx escapes.
        return msgspec.convert(json.loads(s), Finding)


def _has_non_finite(root: Any) -> bool:
    # Runs on every finding, so: a loop instead of recursion, and exact type checks
    # for the common scalars before any isinstance.
    isfinite = math.isfinite
    stack = [root]
    while stack:
        container = stack.pop()
        values = container.values() if isinstance(container, Mapping) else container
        for v in values:
            kind = type(v)
            if kind is str or kind is int or kind is bool or v is None:
                continue
            if kind is float:
                if not isfinite(v):
                    return True
            elif (
                kind is dict
                or kind is list
                or kind is tuple
                or isinstance(v, Mapping | list | tuple)
            ):
                stack.append(v)
            elif isinstance(v, float) and not isfinite(v):
                return True
    return False
