"""The fallback normalizer, and the flattening and time helpers the others share.

``Event.fields`` holds the source's fields flattened with dots (records.py), as
Sigma rules name them. Attackers write the input (DESIGN.md, "Bad input and
faults"), so flattening stops at ``MAX_DEPTH`` and keeps anything deeper as one
JSON string instead of recursing into it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import msgspec

from floodwall.ingest.base import RawRecord
from floodwall.records import Event

MAX_DEPTH = 32  # deeper objects are kept whole, as a JSON string
_encode = msgspec.json.encode


def as_json(value: Any) -> str:
    """``value`` as JSON text, for parts too deep to flatten."""
    try:
        return _encode(value).decode()
    except RecursionError:
        return '"<nested too deep>"'  # deeper than msgspec can encode from here


def flatten(
    data: Mapping[str, Any], prefix: str = "", out: dict[str, Any] | None = None, depth: int = 0
) -> dict[str, Any]:
    """Nested objects joined with dots (``{"a": {"b": 1}}`` → ``{"a.b": 1}``); lists kept."""
    if out is None:
        out = {}
    for key, value in data.items():
        name = prefix + key if type(key) is str else prefix + str(key)
        if type(value) is dict and value:
            if depth >= MAX_DEPTH:
                out[name] = as_json(value)
            else:
                flatten(value, name + ".", out, depth + 1)
        elif type(value) is list and depth >= MAX_DEPTH:
            out[name] = as_json(value)
        else:
            out[name] = value
    return out


def iso_z(value: Any) -> str | None:
    """A time as ISO 8601 in UTC ending in ``Z``; None when it cannot be read.

    Strings without an offset are taken as UTC (the source gives no other hint);
    numbers are Unix epoch seconds, or milliseconds when too large for seconds.
    """
    if type(value) is str:
        if value.endswith("Z") and "T" in value:
            return value  # the common case, already right
        text = value.strip().removesuffix(" UTC").replace(" ", "T", 1)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        if moment.tzinfo is None:
            return text + "Z"  # keep the source's precision
    elif type(value) in (int, float):
        try:
            seconds = float(value)  # an int past float's range raises
            if seconds > 1e11:
                seconds /= 1000.0  # epoch milliseconds
            moment = datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    else:
        return None
    try:
        # An offset can move a time at the edge of the calendar (year 1, year 9999) out
        # of it: such a time cannot be read either.
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
    except OverflowError:
        return None


def first_str(fields: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    """The first of ``keys`` holding a useful string (``-`` and empty mean absent)."""
    for key in keys:
        value = fields.get(key)
        if value is not None and value != "-" and value != "":
            return value if type(value) is str else str(value)
    return None


_TIME_KEYS = ("@timestamp", "timestamp", "eventTime", "TimeCreated", "ts", "time")
_HOST_KEYS = ("host.name", "hostname", "host", "Computer", "host.hostname")
_USER_KEYS = (
    "user.name",
    "userIdentity.userName",
    "userIdentity.sessionContext.sessionIssuer.userName",  # CloudTrail assumed role
    "user",
    "username",
)
_SOURCE_IP_KEYS = ("source.ip", "sourceIPAddress", "src_ip", "id.orig_h")
_DEST_IP_KEYS = ("destination.ip", "dest_ip", "dst_ip", "id.resp_h")


class GenericJsonNormalizer:
    """Any JSON object: fields flattened with dots, common fields from well-known keys.

    The fallback, registered last: ``is_handled`` accepts every record.
    """

    name: ClassVar[str] = "generic_json"

    def is_handled(self, data: Mapping[str, Any]) -> bool:
        return True

    def normalize(self, raw: RawRecord) -> Event:
        data = raw.data
        fields = flatten(data) if type(data) is dict else {"value": data}
        stamp = None
        for key in _TIME_KEYS:
            if key in fields:
                stamp = iso_z(fields[key])
                if stamp is not None:
                    break
        return Event(
            origin=raw.origin,
            timestamp=stamp,
            host_name=first_str(fields, _HOST_KEYS),
            provider=first_str(fields, ("event.provider", "eventSource")),
            user_name=first_str(fields, _USER_KEYS),
            source_ip=first_str(fields, _SOURCE_IP_KEYS),
            destination_ip=first_str(fields, _DEST_IP_KEYS),
            fields=fields,
        )
