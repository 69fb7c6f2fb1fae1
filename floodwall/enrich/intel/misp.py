"""MISP events: a single event JSON (``{"Event": ...}``), an API response wrapping several
(``{"response": [{"Event": ...}]}``), or a MISP feed directory (``manifest.json`` listing
the events, each in ``<uuid>.json``).

Attributes and objects' attributes are read alike (MISP core format,
https://www.misp-project.org/datamodels/): the attribute ``type`` says what ``value`` is.
Composite types (``domain|ip``, ``ip-dst|port``, ``filename|sha256``) carry two values;
each part that is an indicator is imported. ``to_ids: false`` means the producer does not
want the value used for detection, so such values import at half the confidence
(``ids_only=True`` skips them instead). Deleted attributes, and types that are not one
of Floodwall's indicator types (``regkey``, ``text``, ``link`` ...) are skipped with the
type as the reason.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from floodwall.enrich.intel.feedio import read_json
from floodwall.enrich.intel.indicator import (
    DEFAULT_CONFIDENCE,
    FeedError,
    FeedItem,
    Indicator,
    IndicatorType,
    Skipped,
    parse_time,
)
from floodwall.enrich.intel.normalize import NormalizeError, normalize

#: MISP attribute type -> the indicator type of each ``|``-separated part (None: not one).
ATTRIBUTE_TYPES: Mapping[str, tuple[IndicatorType | None, ...]] = {
    "ip-src": ("ip",), "ip-dst": ("ip",), "ip": ("ip",),
    "ip-src|port": ("ip", None), "ip-dst|port": ("ip", None),
    "domain": ("domain",), "hostname": ("domain",), "hostname|port": ("domain", None),
    "domain|ip": ("domain", "ip"),
    "url": ("url",),
    "md5": ("md5",), "sha1": ("sha1",), "sha256": ("sha256",),
    "filename|md5": (None, "md5"), "filename|sha1": (None, "sha1"),
    "filename|sha256": (None, "sha256"), "malware-sample": (None, "md5"),
    "email": ("email",), "email-src": ("email",), "email-dst": ("email",),
    "email-reply-to": ("email",),
}  # fmt: skip


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _tags(node: Mapping[str, Any]) -> list[str]:
    tags = node.get("Tag")
    if not isinstance(tags, list):
        return []
    return [t["name"] for t in tags if isinstance(t, dict) and isinstance(t.get("name"), str)]


def find_events(doc: object) -> list[Mapping[str, Any]]:
    """The event objects of a document: ``{"Event"}``, ``{"response": [...]}`` or a list."""
    if isinstance(doc, dict) and "response" in doc:
        doc = doc["response"]
    items = doc if isinstance(doc, list) else [doc]
    events: list[Mapping[str, Any]] = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("Event"), dict):
            events.append(item["Event"])
        elif isinstance(item, dict) and "Attribute" in item and "info" in item:
            events.append(item)  # a bare event, as some exports write it
    if not events:
        raise FeedError("no MISP Event found (expected {'Event': ...} or {'response': [...]})")
    return events


def is_misp(doc: object) -> bool:
    """Whether a parsed JSON document looks like MISP events."""
    try:
        find_events(doc)
    except FeedError:
        return False
    return True


class _EventContext:
    """What every attribute of one event inherits: source, event info, tags, dates."""

    def __init__(self, event: Mapping[str, Any], source: str, confidence: int) -> None:
        self.source = source
        self.confidence = confidence
        self.uuid = _text(event.get("uuid")).strip()
        self.info = _text(event.get("info")).strip()
        self.tags = tuple(_tags(event))
        self.date = parse_time(event.get("date"))


def _attribute_items(
    attr: Mapping[str, Any], ctx: _EventContext, where: str, ids_only: bool, extra: tuple[str, ...]
) -> Iterator[FeedItem]:
    kind = _text(attr.get("type"))
    raw = attr.get("value")
    where = f"{where} attribute {_text(attr.get('uuid')) or '?'}"
    if not isinstance(raw, str):
        yield Skipped("attribute value is not a string", where)
        return
    if attr.get("deleted") is True:
        yield Skipped("attribute is deleted", where, raw)
        return
    parts_types = ATTRIBUTE_TYPES.get(kind)
    if parts_types is None:
        yield Skipped(f"attribute type {kind or '(none)'!r} is not an indicator type", where, raw)
        return
    to_ids = attr.get("to_ids") is not False
    if ids_only and not to_ids:
        yield Skipped("to_ids is false (not meant for detection)", where, raw)
        return
    # Split from the right: the second part (hash, IP, port) never holds "|".
    parts = raw.rsplit("|", len(parts_types) - 1) if len(parts_types) > 1 else [raw]
    if len(parts) != len(parts_types):
        yield Skipped(f"composite {kind!r} value without its '|' parts", where, raw)
        return
    comment = _text(attr.get("comment")).strip()
    names = [p for p, t in zip(parts, parts_types, strict=True) if t is None and p.strip()]
    if names and kind.startswith(("filename|", "malware-sample")):
        comment = "; ".join(x for x in (f"filename {names[0].strip()}", comment) if x)
    tags = [*ctx.tags, *_tags(attr), *extra]
    category = _text(attr.get("category"))
    if category:
        tags.append(f"misp-category:{category}")
    if not to_ids:
        tags.append("misp:to_ids=false")
    first = parse_time(attr.get("first_seen")) or ctx.date
    last = parse_time(attr.get("last_seen")) or parse_time(attr.get("timestamp"))
    for part, ptype in zip(parts, parts_types, strict=True):
        if ptype is None:
            continue
        yield _indicator(ptype, part, kind, ctx, where, to_ids, first, last, tuple(tags), comment)


def _indicator(
    ptype: IndicatorType,
    value: str,
    kind: str,
    ctx: _EventContext,
    where: str,
    to_ids: bool,
    first: datetime | None,
    last: datetime | None,
    tags: tuple[str, ...],
    comment: str,
) -> FeedItem:
    if ptype == "url" and "://" not in value and "/" not in value.strip():
        # ESET's events hold bare host names typed as url: they name the host.
        ptype = "domain"
        tags = (*tags, "misp:url-without-path")
    try:
        itype, norm = normalize(ptype, value)
    except NormalizeError as exc:
        return Skipped(f"invalid {kind}: {exc}", where, value)
    return Indicator(
        type=itype,
        value=norm,
        source=ctx.source,
        confidence=ctx.confidence if to_ids else ctx.confidence // 2,
        first_seen=first,
        last_seen=last,
        tags=tags,
        comment=comment,
        origin_id=ctx.uuid,
        origin_info=ctx.info,
    )


def parse_event(
    event: Mapping[str, Any],
    source: str,
    *,
    confidence: int = DEFAULT_CONFIDENCE,
    ids_only: bool = False,
    where: str = "",
) -> Iterator[FeedItem]:
    """Indicators from one MISP event: its attributes, then its objects' attributes."""
    ctx = _EventContext(event, source, confidence)
    where = f"{where} event {ctx.uuid or '?'}".strip()
    attributes = event.get("Attribute") or []
    objects = event.get("Object") or []
    if not isinstance(attributes, list) or not isinstance(objects, list):
        yield Skipped("event Attribute/Object is not a list", where)
        return
    for attr in attributes:
        if isinstance(attr, dict):
            yield from _attribute_items(attr, ctx, where, ids_only, ())
        else:
            yield Skipped("attribute is not an object", where)
    for obj in objects:
        if not isinstance(obj, dict) or not isinstance(obj.get("Attribute") or [], list):
            yield Skipped("object is not an object with an Attribute list", where)
            continue
        extra = (f"misp-object:{_text(obj.get('name')) or '?'}",)
        for attr in obj.get("Attribute") or []:
            if isinstance(attr, dict):
                yield from _attribute_items(attr, ctx, where, ids_only, extra)
            else:
                yield Skipped("object attribute is not an object", where)


def parse_document(
    doc: object,
    source: str,
    *,
    confidence: int = DEFAULT_CONFIDENCE,
    ids_only: bool = False,
    where: str = "",
) -> Iterator[FeedItem]:
    """Indicators from every event of a parsed MISP JSON document."""  # fmt: skip
    for event in find_events(doc):
        yield from parse_event(event, source, confidence=confidence, ids_only=ids_only, where=where)


def read_file(
    path: Path, source: str, *, confidence: int = DEFAULT_CONFIDENCE, ids_only: bool = False
) -> Iterator[FeedItem]:
    """Indicators from one MISP event file (``FeedError`` when it is not one)."""
    doc = read_json(path)
    try:
        yield from parse_document(
            doc, source, confidence=confidence, ids_only=ids_only, where=path.name
        )
    except FeedError as exc:
        raise FeedError(f"{path}: {exc}") from None


def read_feed(
    folder: Path, source: str, *, confidence: int = DEFAULT_CONFIDENCE, ids_only: bool = False
) -> Iterator[FeedItem]:
    """Indicators from a MISP feed directory (``manifest.json`` + ``<uuid>.json``).

    An event file that is missing or broken is one ``Skipped`` entry; the other events
    still import.
    """
    manifest = read_json(folder / "manifest.json")
    if not isinstance(manifest, dict):
        raise FeedError(f"{folder / 'manifest.json'}: not a MISP feed manifest (JSON object)")
    for uuid in manifest:
        name = f"{uuid}.json"
        path = folder / name
        if "/" in uuid or "\\" in uuid or uuid.startswith(".") or not path.is_file():
            yield Skipped("event listed in manifest.json has no file", name)
            continue
        try:
            yield from read_file(path, source, confidence=confidence, ids_only=ids_only)
        except FeedError as exc:
            yield Skipped(f"event file unreadable: {exc}", name)
