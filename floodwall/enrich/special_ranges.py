"""Addresses that never name a place: private, loopback, link-local, shared (CGNAT),
documentation, benchmarking, multicast, reserved and unallocated (bogon) space.

Taken from the IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890, as
updated), keeping the blocks the registry marks "Globally Reachable: False", plus
multicast (RFC 5771, RFC 4291 §2.7), the reserved 240.0.0.0/4 (RFC 1112 §4) and the
IPv6 space outside 2000::/3 that IANA has not allocated for global unicast (IANA IPv6
Address Space registry). Blocks that carry an IPv4 address inside an IPv6 one are not
"internal": the outer address says nothing of where the inner one is, so they answer
``unknown`` with their reason.
"""

from __future__ import annotations

from floodwall.enrich.ranges import Entry, RangeTable, network_range

INTERNAL = "internal"
UNKNOWN = "unknown"

#: (CIDR, class, reason). A more specific block wins over the one that holds it.
SPECIAL_BLOCKS: tuple[tuple[str, str, str], ...] = (
    ("0.0.0.0/8", INTERNAL, "'this network' (RFC 791, RFC 6890)"),
    ("10.0.0.0/8", INTERNAL, "private-use (RFC 1918)"),
    ("100.64.0.0/10", INTERNAL, "shared address space, carrier-grade NAT (RFC 6598)"),
    ("127.0.0.0/8", INTERNAL, "loopback (RFC 1122)"),
    ("169.254.0.0/16", INTERNAL, "link-local (RFC 3927)"),
    ("172.16.0.0/12", INTERNAL, "private-use (RFC 1918)"),
    ("192.0.0.0/24", INTERNAL, "IETF protocol assignments (RFC 6890)"),
    ("192.0.2.0/24", INTERNAL, "documentation TEST-NET-1 (RFC 5737)"),
    ("192.168.0.0/16", INTERNAL, "private-use (RFC 1918)"),
    ("198.18.0.0/15", INTERNAL, "benchmarking (RFC 2544)"),
    ("198.51.100.0/24", INTERNAL, "documentation TEST-NET-2 (RFC 5737)"),
    ("203.0.113.0/24", INTERNAL, "documentation TEST-NET-3 (RFC 5737)"),
    ("224.0.0.0/4", INTERNAL, "multicast (RFC 5771)"),
    ("240.0.0.0/4", INTERNAL, "reserved (RFC 1112)"),
    ("255.255.255.255/32", INTERNAL, "limited broadcast (RFC 919, RFC 6890)"),
    # IPv6: everything outside 2000::/3 first, then the named blocks inside it.
    ("::/3", INTERNAL, "bogon: outside global unicast 2000::/3 (IANA)"),
    ("4000::/2", INTERNAL, "bogon: outside global unicast 2000::/3 (IANA)"),
    ("8000::/1", INTERNAL, "bogon: outside global unicast 2000::/3 (IANA)"),
    ("::/128", INTERNAL, "unspecified address (RFC 4291)"),
    ("::1/128", INTERNAL, "loopback (RFC 4291)"),
    ("::ffff:0:0/96", UNKNOWN, "IPv4-mapped address (RFC 4291 §2.5.5.2): inner IPv4 not looked up"),
    ("64:ff9b::/96", UNKNOWN, "IPv4/IPv6 translation (RFC 6052): inner IPv4 not looked up"),
    ("64:ff9b:1::/48", INTERNAL, "local-use IPv4/IPv6 translation (RFC 8215)"),
    ("100::/64", INTERNAL, "discard-only (RFC 6666)"),
    ("2001:2::/48", INTERNAL, "benchmarking (RFC 5180)"),
    ("2001:10::/28", INTERNAL, "deprecated ORCHID (RFC 4843)"),
    ("2001:db8::/32", INTERNAL, "documentation (RFC 3849)"),
    ("3fff::/20", INTERNAL, "documentation (RFC 9637)"),
    ("5f00::/16", INTERNAL, "segment routing SIDs (RFC 9602)"),
    ("fc00::/7", INTERNAL, "unique local (RFC 4193)"),
    ("fe80::/10", INTERNAL, "link-local (RFC 4291)"),
    ("fec0::/10", INTERNAL, "deprecated site-local (RFC 3879)"),
    ("ff00::/8", INTERNAL, "multicast (RFC 4291)"),
)


def special_table() -> RangeTable:
    """The blocks above as a range table; a row's value indexes :data:`SPECIAL_BLOCKS`."""
    v4: list[Entry] = []
    v6: list[Entry] = []
    for i, (cidr, _, _) in enumerate(SPECIAL_BLOCKS):
        r = network_range(cidr)
        if r is None:  # pragma: no cover - the table above is fixed
            raise ValueError(f"bad special block {cidr}")
        (v4 if r[0] == 4 else v6).append((r[1], r[2], i))
    return RangeTable.from_entries(v4, v6)
