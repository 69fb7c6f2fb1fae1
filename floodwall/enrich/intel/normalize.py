"""Canonical forms of indicator values, so the same value from two feeds (or from a feed
and an event) compares equal as a plain string.

- IPs: ``ipaddress`` text form (RFC 5952 for IPv6); an IPv4-mapped IPv6 address
  (``::ffff:1.2.3.4``, RFC 4291 §2.5.5.2) becomes the IPv4 address it carries.
- CIDRs: the network address and prefix; host bits are cleared; a /32 (/128) is an IP.
- Domains: lowercase ASCII, no trailing dot, Unicode labels IDNA-encoded (``xn--``, RFC
  5891); ``floodwall.detect.mail.domains.unicode_host`` turns them back for display.
- URLs: RFC 3986 §6.2.2 syntax-based normalization (lowercase scheme and host, uppercase
  percent-encoding hex, unreserved characters decoded, dot segments removed) and §6.2.3
  scheme-based normalization (default port dropped, empty path is ``/``). The fragment is
  dropped: it never leaves the client (§3.5), so no log or proxy can see it.
- Hashes: lowercase hex; the length decides MD5, SHA-1 or SHA-256.
- Emails: lowercase, domain IDNA-encoded. RFC 5321 §2.4 lets a receiver treat the local
  part case-sensitively, but no real mail system does, and a feed's ``Bob@`` must match
  a log's ``bob@``.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Collection
from urllib.parse import SplitResult, urlsplit

from floodwall.enrich.intel.indicator import IndicatorType

#: Longest value accepted; anything longer is garbage, not an indicator.
MAX_VALUE = 8192
_HEX = frozenset("0123456789abcdef")
_HASH_BY_LEN: dict[int, IndicatorType] = {32: "md5", 40: "sha1", 64: "sha256"}
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_DEFAULT_PORT = {"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}
# RFC 3986 §2.3 unreserved characters: percent-encoded forms of these are decoded (§6.2.2.2).
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Characters allowed as they are in a path or query: unreserved, sub-delims, ":@/?" and "%"
# (RFC 3986 §3.3, §3.4). Anything else (space, quotes, non-ASCII) is percent-encoded as
# UTF-8, the way browsers send it.
_ALLOWED = _UNRESERVED | frozenset("!$&'()*+,;=:@/?%")
_PCT = re.compile(r"%([0-9A-Fa-f]{2})")
_DEFANG: tuple[tuple[str, str], ...] = (
    ("hxxps://", "https://"), ("hxxp://", "http://"), ("[.]", "."), ("(.)", "."),
    ("[dot]", "."), ("[:]", ":"), ("[@]", "@"), ("[at]", "@"),
)  # fmt: skip


class NormalizeError(ValueError):
    """The value is not a valid indicator of the asked type."""


def _check_text(value: str) -> str:
    value = value.strip()
    if not value:
        raise NormalizeError("empty value")
    if len(value) > MAX_VALUE:
        raise NormalizeError(f"longer than {MAX_VALUE} characters")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            # Lone surrogates: what surrogateescape makes of bytes that are not UTF-8.
            raise NormalizeError("not valid UTF-8") from None
    return value


def refang(value: str) -> str:
    """Undo the usual defanging of shared indicators (``hxxp://``, ``evil[.]com``)."""
    if "[" in value or "(" in value or "hxxp" in value:
        for old, new in _DEFANG:
            value = value.replace(old, new)
    return value


def normalize_ip(value: str) -> str:
    """The canonical text of an IPv4 or IPv6 address (``[v6]`` brackets and zones dropped)."""
    value = _check_text(value)
    if ":" not in value and value.isascii():
        try:
            # inet_pton takes only the canonical dotted quad (no leading zeros, no short
            # forms), so what it accepts is already normalized: a 10x faster path for lists.
            socket.inet_pton(socket.AF_INET, value)
            return value
        except OSError:
            pass
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    value = value.partition("%")[0]  # RFC 4007 zone index: local to one host
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise NormalizeError("not an IP address") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def normalize_cidr(value: str) -> tuple[IndicatorType, str]:
    """``("cidr", "10.0.0.0/8")``; a single-address network comes back as ``("ip", ...)``."""
    value = _check_text(value)
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise NormalizeError("not a CIDR network") from None
    if isinstance(net, ipaddress.IPv6Network) and net.prefixlen >= 96:
        mapped = net.network_address.ipv4_mapped
        if mapped is not None:
            net = ipaddress.IPv4Network(f"{mapped}/{net.prefixlen - 96}")
    if net.num_addresses == 1:
        return "ip", str(net.network_address)
    return "cidr", str(net)


def normalize_domain(value: str) -> str:
    """Lowercase ASCII domain with at least two labels; raises on anything else."""
    value = _check_text(value).lower().rstrip(".")
    if value.startswith("*."):
        value = value[2:]  # a wildcard entry names the domain and its subdomains
    value = value.lstrip(".")
    if not value.isascii():
        try:
            value = value.encode("idna").decode("ascii")
        except UnicodeError:
            raise NormalizeError("not a valid internationalized domain name") from None
    if len(value) > 253:
        raise NormalizeError("domain longer than 253 characters")
    labels = value.split(".")
    if len(labels) < 2:
        raise NormalizeError("not a domain (needs a dot)")
    if not all(_LABEL.match(label) for label in labels):
        raise NormalizeError("not a valid domain name")
    if labels[-1].isdigit():
        raise NormalizeError("not a domain (numeric top-level label)")
    return value


def _fix_percent(text: str) -> str:
    """Percent-encoding normalization (RFC 3986 §6.2.2.1-2) of a path or query."""

    def one(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else "%" + match.group(1).upper()

    if "%" in text:
        text = _PCT.sub(one, text)
    if all(c in _ALLOWED for c in text):
        return text
    out = []
    for c in text:
        if c in _ALLOWED:
            out.append(c)
        else:
            out.extend(f"%{b:02X}" for b in c.encode("utf-8", "surrogatepass"))
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4."""
    if "." not in path:
        return path
    out: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if len(out) > 1:
                out.pop()
        elif segment != ".":
            out.append(segment)
    result = "/".join(out)
    if path.endswith(("/.", "/..")):
        result += "/"
    return result if result.startswith("/") else "/" + result


def _url_host(parts: SplitResult) -> str:
    host = parts.hostname or ""
    if not host:
        raise NormalizeError("URL has no host")
    if ":" in host or host.replace(".", "").isdigit():
        try:
            address = normalize_ip(host)
        except NormalizeError:
            raise NormalizeError("URL host is not a valid IP address") from None
        return f"[{address}]" if ":" in address else address
    try:
        return normalize_domain(host)
    except NormalizeError:
        if "." not in host:  # intranet names (http://fileserver/) are valid URL hosts
            return host.lower()
        raise


def normalize_url(value: str) -> str:
    """The RFC 3986 §6 normal form of an absolute URL; ``http://`` is assumed when absent."""
    value = _check_text(value)
    if "://" not in value[:16]:
        value = "http://" + value
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise NormalizeError(f"not a URL: {exc}") from None
    scheme = parts.scheme.lower()
    if not scheme:
        raise NormalizeError("URL has no scheme")
    host = _url_host(parts)
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    netloc = f"{userinfo}@{host}" if userinfo else host
    if port is not None and _DEFAULT_PORT.get(scheme) != port:
        netloc += f":{port}"
    path = _remove_dot_segments(_fix_percent(parts.path)) or "/"
    query = _fix_percent(parts.query)
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")


def normalize_hash(value: str, expected: IndicatorType | None = None) -> tuple[IndicatorType, str]:
    """``(type, lowercase hex)``; the length decides the type, which must match ``expected``."""
    value = _check_text(value).lower()
    kind = _HASH_BY_LEN.get(len(value))
    if kind is None or not _HEX.issuperset(value):
        raise NormalizeError("not an MD5, SHA-1 or SHA-256 hex digest")
    if expected is not None and kind != expected:
        raise NormalizeError(f"a {len(value)}-digit hash is not {expected}")
    return kind, value


def normalize_email(value: str) -> str:
    """``local@domain`` lowercased, without ``mailto:`` or angle brackets."""
    value = _check_text(value).strip("<>").strip()
    if value[:7].lower() == "mailto:":
        value = value[7:]
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain or any(c in local for c in ' \t<>@"(),;'):
        raise NormalizeError("not an email address")
    if domain.startswith("[") and domain.endswith("]"):
        domain = f"[{normalize_ip(domain)}]"  # RFC 5321 §4.1.3 address literal
    else:
        domain = normalize_domain(domain)
    return f"{local.lower()}@{domain}"


def normalize(kind: IndicatorType, value: str) -> tuple[IndicatorType, str]:
    """``value`` in the canonical form of ``kind``; a ``cidr`` of one address is an ``ip``."""
    if kind == "ip":
        if "/" in value:
            return normalize_cidr(value)
        return "ip", normalize_ip(value)
    if kind == "cidr":
        return normalize_cidr(value)
    if kind == "domain":
        return "domain", normalize_domain(value)
    if kind == "url":
        return "url", normalize_url(value)
    if kind == "email":
        return "email", normalize_email(value)
    return normalize_hash(value, kind)


def sniff(value: str, known_tld: Callable[[str], bool] | None = None) -> tuple[IndicatorType, str]:
    """Guess the type of a bare value from a list and normalize it.

    A domain needs a known top-level label when ``known_tld`` is given, so that file names
    such as ``svchost.exe`` in a list are not read as domains.
    """
    value = refang(_check_text(value))
    low = value.lower()
    if len(low) in _HASH_BY_LEN and _HEX.issuperset(low):
        return normalize_hash(low)
    if low[0].isdigit() or ":" in low or low.startswith("["):
        if "/" in low and "://" not in low:
            try:
                return normalize_cidr(low)
            except NormalizeError:
                pass
        try:
            return "ip", normalize_ip(low)
        except NormalizeError:
            pass
    if "://" in low[:16]:
        return "url", normalize_url(value)
    if "@" in low:
        return "email", normalize_email(value)
    host, slash, _ = low.partition("/")
    domain = normalize_domain(host)
    if known_tld is not None and not known_tld(domain.rsplit(".", 1)[1]):
        raise NormalizeError("not a known top-level domain")
    if slash:
        return "url", normalize_url(value)
    return "domain", domain


def tld_checker(tlds: Collection[str]) -> Callable[[str], bool]:
    """A ``known_tld`` for ``sniff`` from a collection of top-level labels."""
    known = frozenset(t.lower() for t in tlds)
    return known.__contains__
