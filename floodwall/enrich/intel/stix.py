"""STIX 2.1 bundles: ``indicator`` objects whose ``pattern`` names IPv4/IPv6 addresses,
domain names, URLs, file hashes or email addresses (STIX 2.1 §4.7, §9).

Patterns are parsed by the ``stix2`` library (through ``stixpattern``). A pattern that
names several values with ``OR`` gives several indicators; the parts that cannot be
matched one value at a time are reported as skipped, with the reason. ``valid_from`` and
``valid_until`` become first seen and expiry; ``confidence`` (0-100, §3.5) is kept when
present. Revoked indicators, non-STIX pattern languages (``snort``, ``yara``, ...) and
objects that are not indicators are not imported; indicators among them are counted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from floodwall.enrich.intel.feedio import read_json
from floodwall.enrich.intel.indicator import (
    DEFAULT_CONFIDENCE,
    FeedError,
    FeedItem,
    Indicator,
    Skipped,
    clamp_confidence,
    parse_time,
)
from floodwall.enrich.intel.normalize import NormalizeError, normalize
from floodwall.enrich.intel.stixpattern import PatternSyntaxError, comparisons


def stix_objects(doc: object) -> tuple[list[Any], str]:
    """The objects of a bundle (or a lone object / list of objects), and the spec version."""
    if isinstance(doc, dict) and doc.get("type") == "bundle":
        objects = doc.get("objects", [])
        if not isinstance(objects, list):
            raise FeedError("STIX bundle 'objects' is not a list")
        spec = doc.get("spec_version")
        return objects, spec if spec == "2.0" else "2.1"
    if isinstance(doc, dict) and isinstance(doc.get("type"), str) and "id" in doc:
        return [doc], "2.1"
    if isinstance(doc, list) and doc and all(isinstance(o, dict) and "type" in o for o in doc):
        return list(doc), "2.1"
    raise FeedError("not a STIX bundle (expected {'type': 'bundle', 'objects': [...]})")


def is_stix(doc: object) -> bool:
    """Whether a parsed JSON document looks like STIX."""
    try:
        stix_objects(doc)
    except FeedError:
        return False
    return True


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str))


def parse_indicator(
    obj: Mapping[str, Any],
    source: str,
    *,
    confidence: int = DEFAULT_CONFIDENCE,
    version: str = "2.1",
    where: str = "",
) -> Iterator[FeedItem]:
    """Indicators named by one STIX ``indicator`` object."""  # fmt: skip
    ident = obj.get("id") if isinstance(obj.get("id"), str) else "indicator--?"
    where = f"{where} {ident}".strip()
    pattern = obj.get("pattern")
    if not isinstance(pattern, str):
        yield Skipped("indicator has no pattern", where)
        return
    pattern_type = obj.get("pattern_type", "stix")
    if pattern_type != "stix":
        yield Skipped(f"pattern_type {pattern_type!r} is not stix", where, pattern)
        return
    if obj.get("revoked") is True:
        yield Skipped("indicator is revoked", where, pattern)
        return
    try:
        parsed = comparisons(pattern, version=version if version == "2.0" else "2.1")
    except PatternSyntaxError as exc:
        yield Skipped(str(exc), where, pattern)
        return
    for reason in parsed.skipped:
        yield Skipped(f"pattern part not representable: {reason}", where, pattern)
    name = str(obj["name"]) if isinstance(obj.get("name"), str) else ""
    tags = tuple(
        dict.fromkeys([*_strings(obj.get("indicator_types")), *_strings(obj.get("labels"))])
    )
    conf = clamp_confidence(obj.get("confidence"), confidence)
    first = parse_time(obj.get("valid_from")) or parse_time(obj.get("created"))
    last = parse_time(obj.get("modified"))
    until = parse_time(obj.get("valid_until"))
    description = obj.get("description")
    comment = description.strip() if isinstance(description, str) else ""
    for comp in parsed.found:
        try:
            itype, value = normalize(comp.type, comp.value)
        except NormalizeError as exc:
            yield Skipped(f"invalid {comp.type} in pattern: {exc}", where, comp.value)
            continue
        yield Indicator(
            type=itype,
            value=value,
            source=source,
            confidence=conf,
            first_seen=first,
            last_seen=last,
            valid_until=until,
            tags=tags,
            comment=comment,
            origin_id=str(ident),
            origin_info=name,
        )


def parse_document(
    doc: object, source: str, *, confidence: int = DEFAULT_CONFIDENCE, where: str = ""
) -> Iterator[FeedItem]:
    """Indicators from every ``indicator`` object of a parsed STIX document."""
    objects, version = stix_objects(doc)
    for number, obj in enumerate(objects):
        if not isinstance(obj, dict):
            yield Skipped("STIX object is not a JSON object", f"{where} object #{number}")
        elif obj.get("type") == "indicator":
            yield from parse_indicator(
                obj, source, confidence=confidence,
                version=str(obj.get("spec_version") or version), where=where,
            )  # fmt: skip


def read_file(
    path: Path, source: str, *, confidence: int = DEFAULT_CONFIDENCE
) -> Iterator[FeedItem]:
    """Indicators from one STIX JSON file (``FeedError`` when it is not STIX)."""
    doc = read_json(path)
    try:
        yield from parse_document(doc, source, confidence=confidence, where=path.name)
    except FeedError as exc:
        raise FeedError(f"{path}: {exc}") from None
