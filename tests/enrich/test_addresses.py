"""Which remote address an event or message is about."""

from __future__ import annotations

from typing import Any

import pytest

from floodwall.enrich.addresses import (
    as_public_ip,
    event_remote_ip,
    mail_source_ip,
    received_hops,
)
from floodwall.records import Event, MailMessage, Origin


def _event(fields: dict[str, Any], **kw: Any) -> Event:
    return Event(Origin("t", 1), fields=fields, **kw)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("8.8.8.8", "8.8.8.8"),
        (" 8.8.8.8 ", "8.8.8.8"),
        ("[2001:4860:4860::8888]", "2001:4860:4860::8888"),
        ("IPv6:2001:4860:4860::8888", "2001:4860:4860::8888"),
        ("::ffff:77.88.8.8", "77.88.8.8"),
        ("fe80::1%eth0", None),  # link-local
        ("10.1.2.3", None),
        ("127.0.0.1", None),
        ("192.0.2.7", None),  # documentation (RFC 5737)
        ("100.64.0.1", None),  # shared address space (RFC 6598)
        ("-", None),
        ("999.1.1.1", None),
        ("x" * 10_000, None),
        ("\udcff8.8.8.8", None),
        (None, None),
        (42, None),
    ],
)
def test_as_public_ip(value: Any, expected: str | None) -> None:
    assert as_public_ip(value) == expected


@pytest.mark.parametrize(
    ("fields", "kw", "expected"),
    [
        ({"IpAddress": "77.88.8.8", "EventID": 4625}, {}, "77.88.8.8"),  # failed logon
        ({"IpAddress": "-", "EventID": 4625}, {}, None),
        ({"SourceIp": "10.0.0.5", "DestinationIp": "8.8.8.8", "Initiated": "true"}, {}, "8.8.8.8"),
        # inbound connection: the destination is our own host, the source is remote
        ({"SourceIp": "8.8.4.4", "DestinationIp": "1.1.1.1", "Initiated": "false"}, {}, "8.8.4.4"),
        ({"DestinationIp": "8.8.8.8"}, {}, None),  # not initiated: not the remote end
        ({}, {"source_ip": "9.9.9.9"}, "9.9.9.9"),
        ({"CommandLine": "ping 8.8.8.8"}, {}, None),  # addresses in text are not read
    ],
)
def test_event_remote_ip(fields: dict[str, Any], kw: dict[str, Any], expected: str | None) -> None:
    assert event_remote_ip(_event(fields, **kw)) == expected


OUTLOOK = [
    "from SN7P223MB0623.NAMP223.PROD.OUTLOOK.COM (2603:10b6:806:268::18) by "
    "EA2P223MB0955.NAMP223.PROD.OUTLOOK.COM with HTTPS; Thu, 19 Oct 2023 14:00:48 +0000",
    "from DB3EUR04FT041.eop-eur04.prod.protection.outlook.com (2603:10a6:10:3c2:cafe::2e) by "
    "DUZPR01CA0062.outlook.office365.com (2603:10a6:10:3c2::15) with Microsoft SMTP Server",
    "from a3-15.smtp-out.eu-west-1.amazonses.com (54.240.3.15) by "
    "DB3EUR04FT041.mail.protection.outlook.com (10.152.25.32) with Microsoft SMTP Server",
    "from [192.168.0.10] (unknown [10.0.0.1]) by a3-15.smtp-out.eu-west-1.amazonses.com",
]


def _mail(received: list[str]) -> MailMessage:
    return MailMessage(
        origin=Origin("m.eml", 1),
        message_id="<x@y>",
        sha256="0" * 64,
        headers=tuple(("received", r) for r in received),
        from_addr="a@b.example",
        from_name="",
    )


@pytest.mark.parametrize(
    ("received", "trusted", "expected"),
    [
        (OUTLOOK, None, "54.240.3.15"),  # past Microsoft's own hops
        (OUTLOOK, (), "2603:10b6:806:268::18"),  # nothing trusted: the top hop
        (["from mx.example.org ([198.51.100.1]) by mail.example.com"], None, None),  # docs net
        (
            ["from mx.example.org (mx.example.org [77.88.8.8]) by mail.example.com"],
            None,
            "77.88.8.8",
        ),
        (["from [IPv6:2a02:6b8::2:242] by mail.example.com"], None, "2a02:6b8::2:242"),
        (["from unknown (HELO x) (1.1.1.1) by m"], None, "1.1.1.1"),
        (["by mail.example.com with LMTP"], None, None),  # no from clause
        (["from x (garbage [999.9.9.9]) by y"], None, None),
        (["from " + "a" * 100_000], None, None),  # huge header: read a bounded prefix
        ([], None, None),
    ],
)
def test_mail_source_ip(
    received: list[str], trusted: tuple[str, ...] | None, expected: str | None
) -> None:
    msg = _mail(received)
    got = mail_source_ip(msg) if trusted is None else mail_source_ip(msg, trusted)
    assert got == expected


def test_received_hops_are_bounded() -> None:
    msg = _mail([f"from h{i} ([8.8.8.8]) by x" for i in range(10_000)])
    assert len(received_hops(msg.headers)) == 50
