"""Windows events in the XML-as-JSON shape: ``{"Event": {"System": ..., "EventData": ...}}``.

This is what the ``evtx`` package yields and what the SigmaHQ regression data holds.
Sigma rules for Windows name fields flat (``Image``, ``EventID``, ``Provider_Name``),
as Hayabusa and evtx-sigma-checker present them, so the nesting is removed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from floodwall.ingest.base import RawRecord
from floodwall.normalize.generic_json import MAX_DEPTH, as_json, first_str, iso_z
from floodwall.records import Event

ATTRS = "#attributes"
TEXT = "#text"

# Common-field sources, in order of preference (issue: user/source/destination keys).
USER_KEYS = ("SubjectUserName", "User", "TargetUserName")
SOURCE_IP_KEYS = ("IpAddress", "SourceIp", "SourceAddress")
DEST_IP_KEYS = ("DestinationIp", "DestAddress")

# System elements whose value is their text, copied under their own name.
_SYSTEM_TEXT = ("Channel", "Computer", "EventRecordID", "Level", "Task", "Opcode", "Keywords")
_SYSTEM_TEXT_VERSION = ("Version", *_SYSTEM_TEXT)
# System elements whose attributes carry the values: element, then (attribute, field name).
_SYSTEM_ATTRS_BY_ELEMENT = (
    ("Provider", (("Name", "Provider_Name"), ("Guid", "Provider_Guid"))),
    ("TimeCreated", (("SystemTime", "SystemTime"),)),
    ("Security", (("UserID", "Security_UserID"),)),
    ("Execution", (("ProcessID", "ProcessID"), ("ThreadID", "ThreadID"))),
)


def text(value: Any) -> Any:
    """The text of an element: ``{"#attributes": ..., "#text": x}`` → ``x``."""
    if type(value) is dict:
        return value.get(TEXT)
    return value


def event_id(value: Any) -> int | None:
    """EventID as an int, from ``7045``, ``"7045"`` or ``{"#attributes": {...}, "#text": 7045}``."""
    value = text(value)
    if type(value) is int:
        return value
    if type(value) is str and value.strip().isdigit():
        return int(value)
    return None


def _data_name(item: Mapping[str, Any]) -> str | None:
    """The Name of a ``<Data Name="...">`` element in either JSON rendering."""
    attrs = item.get(ATTRS)
    name = attrs.get("Name") if type(attrs) is dict else item.get("@Name")
    return name if type(name) is str else None


def event_data(data: Any, out: dict[str, Any]) -> None:
    """Flatten ``EventData``: named Data become fields; unnamed Data stay a list as ``Data``."""
    if type(data) is not dict:
        if data is not None:
            out["Data"] = data
        return
    # The common case, checked at C speed: named Data only (evtx renders them as keys),
    # plain values, no spaced names. Then the fields are the EventData as it is.
    if (
        "Data" not in data
        and ATTRS not in data
        and dict not in map(type, data.values())
        and " " not in "".join(data)
    ):
        out.update(data)
        return
    for key, value in data.items():
        if key == ATTRS:
            continue  # the EventData element's own attributes are not event fields
        if key != "Data":
            out[key] = text(value)  # evtx already turned <Data Name="X"> into "X"
            if " " in key:
                # Defender names its data "Source Name", "Threat Name"; Sigma rules (and
                # Hayabusa) read them as SourceName, ThreatName.
                out.setdefault(key.replace(" ", ""), out[key])
            continue
        items = value if type(value) is list else [value]
        unnamed = []
        for item in items:
            if type(item) is dict and (name := _data_name(item)) is not None:
                out[name] = item.get(TEXT)
            else:
                unnamed.append(text(item))
        if unnamed:
            lone = unnamed[0] if len(unnamed) == 1 and type(value) is not list else unnamed
            out["Data"] = lone


def user_data(data: Any, out: dict[str, Any], depth: int = 0) -> bool:
    """Flatten ``UserData`` by leaf name: Sigma names these fields without their path.
    False if a value had to be written anew (an element nested too deep, kept as JSON)."""
    if type(data) is not dict:
        return True
    verbatim = True
    for key, value in data.items():
        if key == ATTRS:
            continue  # xmlns and the like
        if type(value) is dict and TEXT not in value:
            if depth >= MAX_DEPTH:
                out[key] = as_json(value)
                verbatim = False
            else:
                verbatim = user_data(value, out, depth + 1) and verbatim
        else:
            out[key] = text(value)
    return verbatim


def system_fields(system: Mapping[str, Any], out: dict[str, Any]) -> None:
    """The System element's values under Sigma's flat names (``Provider_Name`` ...).

    Runs once per EVTX record: the lookups are spelled out (no loop over a table, no
    helper call for the common plain values); the fields keep the order of ``_SYSTEM_TEXT``
    and ``_SYSTEM_ATTRS_BY_ELEMENT``.
    """
    get = system.get
    eid = get("EventID")
    if type(eid) is not int:
        eid = event_id(eid)
    if eid is not None:
        out["EventID"] = eid
    for key in _SYSTEM_TEXT_VERSION:
        value = get(key)
        if value is not None:
            out[key] = value.get(TEXT) if type(value) is dict else value
    for element, pairs in _SYSTEM_ATTRS_BY_ELEMENT:
        node = get(element)
        if type(node) is dict:
            attrs = node.get(ATTRS)
            if type(attrs) is dict:
                for attr, name in pairs:
                    value = attrs.get(attr)
                    if value is not None:
                        out[name] = value


def _useful(value: Any) -> str | None:
    """``first_str`` for one key: ``-`` and empty mean absent."""
    if value is None or value == "-" or value == "":
        return None
    return value if type(value) is str else str(value)


def addresses(fields: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The ECS source and destination addresses of a flat Windows field set."""
    return first_str(fields, SOURCE_IP_KEYS), first_str(fields, DEST_IP_KEYS)


def common(raw: RawRecord, fields: dict[str, Any], timestamp: Any) -> Event:
    """The Event of a flat Windows field set: the ECS fields taken from Sigma's names."""
    get = fields.get
    eid = get("EventID")
    source_ip, destination_ip = addresses(fields)
    return Event(
        origin=raw.origin,
        timestamp=iso_z(timestamp),
        host_name=_useful(get("Computer")),
        provider=_useful(get("Provider_Name")),
        channel=_useful(get("Channel")),
        event_id=eid if type(eid) is int else None,
        user_name=first_str(fields, USER_KEYS),
        source_ip=source_ip,
        destination_ip=destination_ip,
        fields=fields,
    )


class WindowsXmlNormalizer:
    """Windows events as ``{"Event": {"System": ..., "EventData" or "UserData": ...}}``.

    Fields are flat: EventData names, UserData leaf names, then System fields
    (``EventID``, ``Channel``, ``Provider_Name``, ``SystemTime`` ...), which win on
    a clash so that event data can never pass itself off as its own header.
    """

    name: ClassVar[str] = "windows_xml"

    def is_handled(self, data: Mapping[str, Any]) -> bool:
        event = data.get("Event")
        return type(event) is dict and "System" in event

    addresses = staticmethod(addresses)

    def fields_of(
        self, data: Mapping[str, Any]
    ) -> tuple[str | None, int | None, dict[str, Any], bool]:
        """The event's channel, EventID and fields, as ``normalize`` gives them (what rules
        read, for the hunt's quick path), and whether every value is as the record holds
        it (not written anew)."""
        event = data["Event"]
        fields: dict[str, Any] = {}
        event_data(event.get("EventData"), fields)
        verbatim = user_data(event.get("UserData"), fields)
        system = event.get("System")
        if type(system) is dict:
            system_fields(system, fields)
        eid = fields.get("EventID")
        return _useful(fields.get("Channel")), eid if type(eid) is int else None, fields, verbatim

    def normalize(self, raw: RawRecord) -> Event:
        fields = self.fields_of(raw.data)[2]
        return common(raw, fields, fields.get("SystemTime"))
