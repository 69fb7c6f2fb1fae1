"""Test parts for sender authentication: a real DNS server on loopback and DKIM keys.

``DnsServer`` answers UDP and TCP on one 127.0.0.1 port, built with dnspython's message
API: the records it was given, NXDOMAIN for names it does not know, and, like a real
server, a truncated UDP answer (TC) when the answer does not fit the client's EDNS size,
so that the client asks again over TCP. Names can be made slow; every query is logged.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
import time
from collections.abc import Iterable

import dkim
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import nacl.signing
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dns.rdtypes.ANY.TXT import TXT

SIGNED = [b"from", b"to", b"subject", b"date", b"message-id"]


class DnsServer:
    """A DNS server on 127.0.0.1 (UDP and TCP, one port) serving what the test adds."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, int], list[dns.rdata.Rdata]] = {}
        self.delays: dict[str, float] = {}
        self.queries: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        for _ in range(50):  # a free UDP port whose TCP twin is free too
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind(("127.0.0.1", 0))
            self.port = int(self.udp.getsockname()[1])
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                self.tcp.bind(("127.0.0.1", self.port))
                break
            except OSError:
                self.udp.close()
                self.tcp.close()
        self.tcp.listen(16)
        self.udp.settimeout(0.2)
        self.tcp.settimeout(0.2)
        self._threads = [
            threading.Thread(target=self._serve_udp, daemon=True),
            threading.Thread(target=self._serve_tcp, daemon=True),
        ]

    @property
    def address(self) -> str:
        """``[mail] dns`` for this server."""
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> DnsServer:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(5)
        self.udp.close()
        self.tcp.close()

    # -- the zone ----------------------------------------------------------------------

    def add(self, name: str, rdtype: str, *texts: str) -> None:
        key = (_absolute(name), dns.rdatatype.from_text(rdtype))
        for text in texts:
            rdata = dns.rdata.from_text(dns.rdataclass.IN, key[1], text)
            self.records.setdefault(key, []).append(rdata)

    def add_txt(self, name: str, *values: str | bytes) -> None:
        """TXT records, each value cut into character-strings of 255 octets."""
        key = (_absolute(name), dns.rdatatype.TXT)
        for value in values:
            data = value.encode() if isinstance(value, str) else value
            chunks = [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
            rdata = TXT(dns.rdataclass.IN, dns.rdatatype.TXT, chunks)
            self.records.setdefault(key, []).append(rdata)

    def asked(self, suffix: str = "") -> list[tuple[str, str]]:
        with self._lock:
            return [q for q in self.queries if q[0].endswith(_absolute(suffix) if suffix else "")]

    # -- answering ---------------------------------------------------------------------

    def answer(self, wire: bytes, udp: bool) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if not query.question:
            return response.to_wire()
        q = query.question[0]
        name = q.name.to_text().lower()
        with self._lock:
            self.queries.append((name, dns.rdatatype.to_text(q.rdtype)))
        if delay := self.delays.get(name):
            time.sleep(delay)
        target, rdtype = name, q.rdtype
        for _ in range(8):  # CNAME chains, as a recursive resolver returns them
            cname = self.records.get((target, dns.rdatatype.CNAME))
            if not cname or rdtype == dns.rdatatype.CNAME:
                break
            response.answer.append(_rrset(target, dns.rdatatype.CNAME, cname))
            target = cname[0].to_text().lower()  # type: ignore[attr-defined]
        found = self.records.get((target, rdtype))
        if found:
            response.answer.append(_rrset(target, rdtype, found))
        elif not response.answer and name != "." and not self._known(target):
            response.set_rcode(dns.rcode.NXDOMAIN)
        limit = 65535  # TCP; UDP: the client's EDNS size (RFC 6891), else 512 (RFC 1035)
        if udp:
            limit = max(512, query.payload) if query.edns >= 0 else 512
        try:
            return response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            response.answer.clear()
            response.flags |= dns.flags.TC
            return response.to_wire()

    def _known(self, name: str) -> bool:
        return any(n == name or n.endswith("." + name) for n, _ in self.records)

    def _serve_udp(self) -> None:
        while not self._stop.is_set():
            try:
                wire, peer = self.udp.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._reply_udp, args=(wire, peer), daemon=True).start()

    def _reply_udp(self, wire: bytes, peer: tuple[str, int]) -> None:
        out = self.answer(wire, udp=True)
        if out is not None and not self._stop.is_set():
            with contextlib.suppress(OSError):
                self.udp.sendto(out, peer)

    def _serve_tcp(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.tcp.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._reply_tcp, args=(conn,), daemon=True).start()

    def _reply_tcp(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                head = _read(conn, 2)
                out = self.answer(_read(conn, int.from_bytes(head, "big")), udp=False)
                if out is not None:
                    conn.sendall(len(out).to_bytes(2, "big") + out)
            except OSError:
                pass


def _absolute(name: str) -> str:
    return name.lower().rstrip(".") + "."


def _rrset(name: str, rdtype: int, rdatas: Iterable[dns.rdata.Rdata]) -> dns.rrset.RRset:
    rrset = dns.rrset.RRset(dns.name.from_text(name), dns.rdataclass.IN, rdtype)
    for r in rdatas:
        rrset.add(r, 300)
    return rrset


def _read(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise OSError("closed")
        data += chunk
    return data


def closed_port() -> int:
    """A loopback UDP port nothing listens on (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- DKIM keys and signatures (RFC 6376) ----------------------------------------------


def add_example_zone(srv: DnsServer, dkim_public: str) -> None:
    """The records the end-to-end tests share: example.com signs with selector ``sel``,
    sends from 1.2.3.4 only and asks to reject what fails (DMARC); example.net is the
    relay at 5.6.7.8."""
    srv.add_txt("sel._domainkey.example.com", dkim_public)
    srv.add_txt("example.com", "v=spf1 ip4:1.2.3.4 -all")
    srv.add_txt("_dmarc.example.com", "v=DMARC1; p=reject")
    srv.add_txt("example.net", "v=spf1 ip4:5.6.7.8 -all")


def dkim_key(bits: int = 2048) -> tuple[bytes, str]:
    """A new RSA key: the private key (PEM) and the DNS TXT value of its public half."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, "v=DKIM1; k=rsa; p=" + base64.b64encode(public).decode()


def dkim_sign(
    message: bytes, domain: str, selector: str, private: bytes, algorithm: bytes = b"rsa-sha256"
) -> bytes:
    """``message`` with a DKIM-Signature (relaxed/simple) prepended, by dkimpy."""
    sig = dkim.sign(
        message, selector.encode(), domain.encode(), private, include_headers=SIGNED,
        signature_algorithm=algorithm,
    )  # fmt: skip
    return bytes(sig) + message


def ed25519_key() -> tuple[bytes, str]:
    """A new Ed25519 key (RFC 8463): dkimpy's private key (the base64 seed) and the DNS
    TXT value of its public half."""
    key = nacl.signing.SigningKey.generate()
    private = base64.b64encode(bytes(key))
    public = base64.b64encode(bytes(key.verify_key)).decode()
    return private, "v=DKIM1; k=ed25519; p=" + public


def message(
    sender: str = "alerts@example.com",
    subject: str = "Your statement",
    body: str = "Your monthly statement is ready.\r\n",
    extra: str = "",
) -> bytes:
    """A plain message with CRLF line ends, as over SMTP."""
    return (
        f"{extra}From: Bank <{sender}>\r\nTo: customer@example.org\r\nSubject: {subject}\r\n"
        f"Date: Mon, 02 Mar 2026 10:00:00 +0000\r\nMessage-ID: <m1@{sender.split('@')[1]}>\r\n"
        f"\r\n{body}"
    ).encode()
