"""``[mail] dns``: where sender authentication looks things up, if anywhere.

- ``"off"`` (the default): no lookup at all; Floodwall works with no network;
- ``"system"``: the nameservers of ``/etc/resolv.conf``;
- ``"HOST:PORT"``: one resolver, by address (``127.0.0.1:53``, ``[::1]:5353``): it
  cannot be a host name, which would need DNS to be found.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

__all__ = ["DnsTarget", "parse_dns_setting"]


@dataclass(frozen=True, slots=True)
class DnsTarget:
    """The parsed ``[mail] dns`` setting."""

    mode: str  # "off" | "system" | "server"
    host: str = ""
    port: int = 53

    def describe(self) -> str:
        if self.mode == "server":
            return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        return self.mode


def parse_dns_setting(text: str) -> DnsTarget:
    """``[mail] dns`` as a ``DnsTarget``; ``ValueError`` says what is wrong with it."""
    value = text.strip()
    if value.lower() in ("", "off"):
        return DnsTarget("off")
    if value.lower() == "system":
        return DnsTarget("system")
    host, sep, port_text = value.rpartition(":")
    if not sep or not host:
        raise ValueError(f'[mail] dns = "{text}": use "off", "system" or "HOST:PORT"')
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        address = ipaddress.ip_address(host)
        port = int(port_text)
    except ValueError:
        raise ValueError(
            f'[mail] dns = "{text}": HOST must be an IP address and PORT a number '
            '(e.g. "127.0.0.1:53" or "[::1]:53")'
        ) from None
    if not 0 < port < 65536:
        raise ValueError(f'[mail] dns = "{text}": PORT must be 1 to 65535')
    return DnsTarget("server", str(address), port)
