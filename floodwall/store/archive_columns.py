"""The columns an archived observable carries next to its value, derived once at write
time so that a retro-hunt joins on integers and plain names instead of parsing 100
million strings (see ``archive.py`` for the layout):

- ``ip4`` (uint32), ``ip6_hi``/``ip6_lo`` (uint64 halves): the address of an ``ip``
  value, of a URL whose host is an address literal, or of an address-literal mail domain
  (RFC 5321 §4.1.3);
- ``vh``: the low 64 bits of the value's MD5 (as DuckDB's ``md5_number_lower``);
- ``dom``, ``dom2``, ``dom3``: the domain of a ``domain`` value, a URL's host name or a
  mail address's domain, and its last two and three labels when it has more.
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket

__all__ = ["Derived", "derived_columns", "value_hash"]

_MASK64 = (1 << 64) - 1


def _address(text: str) -> tuple[int | None, int | None, int | None]:
    """``(ip4, ip6_hi, ip6_lo)`` of an address literal; all None when it is not one."""
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if ":" not in text:
        try:
            return int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big"), None, None
        except OSError:
            return None, None, None
    try:
        address = ipaddress.IPv6Address(text.partition("%")[0])
    except ValueError:
        return None, None, None
    if address.ipv4_mapped is not None:
        return int(address.ipv4_mapped), None, None
    number = int(address)
    return None, number >> 64, number & _MASK64


def _url_host(url: str) -> str:
    authority = url.partition("://")[2].partition("/")[0].partition("?")[0].partition("#")[0]
    authority = authority.rpartition("@")[2]
    if authority.startswith("["):
        return authority.partition("]")[0] + "]"
    return authority.partition(":")[0].lower().rstrip(".")


def value_hash(value: str) -> int:
    """The low 64 bits of the MD5 of ``value``, as DuckDB's ``md5_number_lower``."""
    digest = hashlib.md5(value.encode("utf-8"), usedforsecurity=False).digest()
    return int.from_bytes(digest[8:], "little")


def _parents(name: str) -> tuple[str | None, str | None]:
    labels = name.split(".")
    two = ".".join(labels[-2:]) if len(labels) > 2 else None
    three = ".".join(labels[-3:]) if len(labels) > 3 else None
    return two, three


Derived = tuple[int | None, int | None, int | None, int, str | None, str | None, str | None]


def derived_columns(kind: str, value: str) -> Derived:
    """``(ip4, ip6_hi, ip6_lo, vh, dom, dom2, dom3)`` of one value: what the retro-hunt
    joins on."""
    vh = value_hash(value)
    host: str | None = None
    if kind == "ip":
        return (*_address(value), vh, None, None, None)
    if kind == "domain":
        host = value
    elif kind in ("url", "email"):
        host = _url_host(value) if kind == "url" else value.rpartition("@")[2].lower()
        ip4, hi, lo = _address(host)
        if ip4 is not None or hi is not None:
            return ip4, hi, lo, vh, None, None, None
    if not host or "." not in host:
        return None, None, None, vh, None, None, None
    return (None, None, None, vh, host, *_parents(host))
