"""Windows events shipped by Winlogbeat (ECS): ``{"@timestamp", "winlog": {...}, ...}``.

Sigma rules name the event data flat (``Image``) and the header System-style
(``EventID``, ``Provider_Name``), so ``winlog.event_data`` is lifted to the top,
the System names are added, and the other ECS fields keep their dotted names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from floodwall.ingest.base import RawRecord
from floodwall.normalize.generic_json import first_str, flatten, iso_z
from floodwall.normalize.windows_xml import DEST_IP_KEYS, SOURCE_IP_KEYS, USER_KEYS, event_id
from floodwall.records import Event

# winlog.<key> → the System-style name Sigma rules use.
_SYSTEM_NAMES = (
    ("channel", "Channel"),
    ("provider_name", "Provider_Name"),
    ("provider_guid", "Provider_Guid"),
    ("computer_name", "Computer"),
    ("record_id", "EventRecordID"),
    ("task", "Task"),
    ("opcode", "Opcode"),
    ("version", "Version"),
)


class WinlogbeatNormalizer:
    """Winlogbeat / ECS records: ``winlog.event_data`` flat, System names, ECS dotted.

    ``winlog.user_data`` leaves are lifted like event data; on a clash the
    System-style names win, then the event data, then the dotted ECS fields.
    """

    name: ClassVar[str] = "winlogbeat"

    def is_handled(self, data: Mapping[str, Any]) -> bool:
        return type(data.get("winlog")) is dict

    def normalize(self, raw: RawRecord) -> Event:
        data = raw.data
        winlog: dict[str, Any] = data["winlog"]
        rest = {k: v for k, v in data.items() if k != "winlog"}
        header = {k: v for k, v in winlog.items() if k not in ("event_data", "user_data")}
        if header:
            rest["winlog"] = header
        fields = flatten(rest)
        for part in ("user_data", "event_data"):
            lifted = winlog.get(part)
            if type(lifted) is dict:
                fields.update(flatten(lifted))
        eid = event_id(winlog.get("event_id"))
        if eid is not None:
            fields["EventID"] = eid
        for key, name in _SYSTEM_NAMES:
            value = winlog.get(key)
            if value is not None:
                fields[name] = value
        process = winlog.get("process")
        if type(process) is dict:
            for key, name in (("pid", "ProcessID"), ("thread", "ThreadID")):
                value = process.get(key)
                if type(value) is dict:
                    value = value.get("id")
                if value is not None:
                    fields[name] = value
        user = winlog.get("user")
        if type(user) is dict and user.get("identifier") is not None:
            fields["Security_UserID"] = user["identifier"]
        stamp = iso_z(data.get("@timestamp"))
        return Event(
            origin=raw.origin,
            timestamp=stamp,
            host_name=first_str(fields, ("Computer", "host.name", "host.hostname")),
            category=first_str(fields, ("event.category",)),
            provider=first_str(fields, ("Provider_Name", "event.provider")),
            channel=first_str(fields, ("Channel",)),
            event_id=eid,
            user_name=first_str(fields, (*USER_KEYS, "user.name")),
            source_ip=first_str(fields, (*SOURCE_IP_KEYS, "source.ip")),
            destination_ip=first_str(fields, (*DEST_IP_KEYS, "destination.ip")),
            fields=fields,
        )
