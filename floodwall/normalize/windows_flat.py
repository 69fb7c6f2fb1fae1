"""Flat Windows exports (NXLog, Logstash, OTRF Security-Datasets): one object per event.

Such a record already names its fields as Sigma does (``EventID``, ``Channel``,
``CommandLine`` ...), so it is kept as it is, with the System-style aliases Sigma
rules also use added where absent. This is the hot path of ``floodwall hunt`` on
exported logs: a few key checks and one dict copy per record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from floodwall.ingest.base import RawRecord
from floodwall.normalize.generic_json import iso_z
from floodwall.normalize.windows_xml import DEST_IP_KEYS, SOURCE_IP_KEYS, USER_KEYS, event_id
from floodwall.records import Event

# TimeCreated is the event's own UTC time; EventTime (NXLog) is local time without an
# offset, so the collector's @timestamp is preferred over it.
_ABSENT = (None, "-", "")  # Windows writes "-" for an empty field
_TIME_KEYS = ("TimeCreated", "SystemTime", "@timestamp", "EventTime", "TimeGenerated")


class WindowsFlatNormalizer:
    """Flat Windows event records: ``EventID`` next to ``Channel`` or a provider name.

    ``fields`` is the record as is, ``EventID`` as an int, plus ``Provider_Name``
    and ``Computer`` when absent.
    """

    name: ClassVar[str] = "windows_flat"

    def is_handled(self, data: Mapping[str, Any]) -> bool:
        return "EventID" in data and (
            "Channel" in data or "SourceName" in data or "ProviderName" in data
        )

    def fields_of(
        self, data: Mapping[str, Any]
    ) -> tuple[str | None, int | None, dict[str, Any], bool]:
        """The event's channel, EventID and fields, as ``normalize`` gives them (what rules
        read, for the hunt's quick path), and whether every value is as the record holds
        it: always, here (added fields copy other fields' values)."""
        fields = dict(data)
        get = fields.get
        eid = get("EventID")
        if type(eid) is not int:
            eid = event_id(eid)  # "4688" in some exports; Sigma compares it as a number
            if eid is not None:
                fields["EventID"] = eid
        if get("Provider_Name") is None:
            provider = get("SourceName") or get("ProviderName") or get("Provider")
            if provider is not None:
                fields["Provider_Name"] = provider
        if get("Computer") is None:
            computer = get("Hostname") or get("HostName") or get("host") or get("ComputerName")
            if computer is not None:
                fields["Computer"] = computer
        channel = get("Channel")
        return channel if type(channel) is str else None, eid, fields, True

    @staticmethod
    def addresses(fields: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """The event's ECS source and destination addresses: the first of their keys
        that is present (``-`` and empty mean absent), if it is a string."""
        get = fields.get
        for key in SOURCE_IP_KEYS:
            if (source_ip := get(key)) not in _ABSENT:
                break
        for key in DEST_IP_KEYS:
            if (destination_ip := get(key)) not in _ABSENT:
                break
        return (
            source_ip if type(source_ip) is str and source_ip not in _ABSENT else None,
            destination_ip
            if type(destination_ip) is str and destination_ip not in _ABSENT
            else None,
        )

    def normalize(self, raw: RawRecord) -> Event:
        channel, eid, fields, _ = self.fields_of(raw.data)
        get = fields.get
        provider = get("Provider_Name")
        computer = get("Computer")
        stamp = None
        for key in _TIME_KEYS:
            if key in fields and (stamp := iso_z(fields[key])) is not None:
                break
        # The ECS user, inlined rather than a call to first_str: the hot path.
        for key in USER_KEYS:
            if (user := get(key)) not in _ABSENT:
                break
        source_ip, destination_ip = self.addresses(fields)
        return Event(
            raw.origin,
            stamp,
            computer if type(computer) is str else None,
            None,
            provider if type(provider) is str else None,
            channel,
            eid,
            user if type(user) is str and user not in _ABSENT else None,
            source_ip,
            destination_ip,
            fields,
        )
