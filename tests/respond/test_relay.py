"""relay_message against a real aiosmtpd server on loopback: each SMTP outcome maps to
a result, a temporary error or a permanent error, with the code kept."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator

import pytest
import trustme
from smtp_sink import SinkHandler, smtp_sink

from floodwall.respond.relay import (
    RecipientRefusal,
    RelayError,
    RelayPermanentError,
    RelayTemporaryError,
    relay_message,
)

pytestmark = pytest.mark.timeout(60)

MESSAGE = (
    b"From: a@example.org\r\nTo: b@example.net\r\nSubject: hi\r\n\r\n"
    b"line one\r\n.leading dot survives dot-stuffing\r\n\xc3\xa9 8-bit body\r\n"
)


def test_delivers_exact_bytes() -> None:
    with smtp_sink() as (sink, host, port):
        result = relay_message(host, port, "a@example.org", ["b@example.net"], MESSAGE)
    assert result.code == 250
    assert "queued as SINK1" in result.text
    assert result.accepted == ("b@example.net",)
    assert result.refused == ()
    assert len(sink.received) == 1
    got = sink.received[0]
    assert (got.mail_from, got.rcpt_tos, got.data) == (
        "a@example.org",
        ("b@example.net",),
        MESSAGE,
    )


def test_bare_lf_becomes_crlf() -> None:
    # RFC 5321 §2.3.8: a bare LF must not go on the wire.
    with smtp_sink() as (sink, host, port):
        relay_message(host, port, "a@x.org", ["b@x.org"], b"Subject: s\n\nbody\n")
    assert sink.received[0].data == b"Subject: s\r\n\r\nbody\r\n"


def test_partial_recipient_refusal_is_success_with_the_refusals() -> None:
    handler = SinkHandler(rcpt_replies={"gone@x.org": "550 5.1.1 no such user"})
    with smtp_sink(handler) as (sink, host, port):
        result = relay_message(host, port, "a@x.org", ["gone@x.org", "ok@x.org"], MESSAGE)
    assert result.accepted == ("ok@x.org",)
    assert result.refused == (RecipientRefusal("gone@x.org", 550, "5.1.1 no such user"),)
    assert sink.received[0].rcpt_tos == ("ok@x.org",)


@pytest.mark.parametrize(
    ("handler", "error", "code"),
    [
        (SinkHandler(data_reply="451 4.3.0 try later"), RelayTemporaryError, 451),
        (SinkHandler(data_reply="554 5.7.1 content refused"), RelayPermanentError, 554),
        (SinkHandler(mail_reply="421 4.7.0 busy"), RelayTemporaryError, 421),
        (SinkHandler(mail_reply="553 5.1.8 bad sender"), RelayPermanentError, 553),
        (
            SinkHandler(rcpt_replies={"a@x.org": "550 5.1.1 no", "b@x.org": "551 5.1.6 moved"}),
            RelayPermanentError,
            550,
        ),
        # One 4xx among the refusals: a retry may still reach that recipient.
        (
            SinkHandler(rcpt_replies={"a@x.org": "550 5.1.1 no", "b@x.org": "450 4.2.1 full"}),
            RelayTemporaryError,
            550,
        ),
    ],
    ids=["data-4xx", "data-5xx", "mail-4xx", "mail-5xx", "rcpt-all-5xx", "rcpt-5xx-and-4xx"],
)
def test_reply_codes_map_to_errors(
    handler: SinkHandler, error: type[RelayError], code: int
) -> None:
    with smtp_sink(handler) as (sink, host, port), pytest.raises(error) as caught:
        relay_message(host, port, "s@x.org", ["a@x.org", "b@x.org"], MESSAGE)
    assert caught.value.code == code
    assert isinstance(caught.value, RelayError)
    assert sink.received == []


def test_all_refused_lists_every_refusal() -> None:
    handler = SinkHandler(rcpt_replies={"a@x.org": "550 5.1.1 no", "b@x.org": "450 4.2.1 full"})
    with smtp_sink(handler) as (_, host, port), pytest.raises(RelayTemporaryError) as caught:
        relay_message(host, port, "s@x.org", ["a@x.org", "b@x.org"], MESSAGE)
    assert [(r.recipient, r.code) for r in caught.value.refused] == [
        ("a@x.org", 550),
        ("b@x.org", 450),
    ]


def test_refused_connection_is_temporary() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    with pytest.raises(RelayTemporaryError) as caught:
        relay_message("127.0.0.1", port, "a@x.org", ["b@x.org"], MESSAGE, timeout=5)
    assert caught.value.code == 0
    assert f"127.0.0.1:{port}" in caught.value.text


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and never says a word (no 220 greeting)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    sock.close()


def test_silent_server_times_out_as_temporary(silent_server: int) -> None:
    with pytest.raises(RelayTemporaryError):
        relay_message("127.0.0.1", silent_server, "a@x.org", ["b@x.org"], MESSAGE, timeout=0.5)


def test_greeting_refusal_keeps_its_code() -> None:
    # A 554 greeting (RFC 5321 §3.1): the server will not talk to us at all.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)

    def greet() -> None:
        conn, _ = sock.accept()
        conn.sendall(b"554 5.3.2 no service\r\n")
        conn.recv(1024)
        conn.close()

    thread = threading.Thread(target=greet, daemon=True)
    thread.start()
    try:
        with pytest.raises(RelayPermanentError) as caught:
            relay_message("127.0.0.1", sock.getsockname()[1], "a@x.org", ["b@x.org"], MESSAGE)
    finally:
        thread.join(5)
        sock.close()
    assert caught.value.code == 554


def test_no_recipients_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="recipient"):
        relay_message("127.0.0.1", 1, "a@x.org", [], MESSAGE)


def test_starttls_required_and_offered() -> None:
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    with smtp_sink(tls_context=server_ctx) as (sink, host, port):
        relay_message(
            host, port, "a@x.org", ["b@x.org"], MESSAGE, starttls=True, ssl_context=client_ctx
        )
    assert sink.received[0].data == MESSAGE


def test_starttls_required_but_not_offered_is_temporary() -> None:
    with smtp_sink() as (sink, host, port), pytest.raises(RelayTemporaryError, match="STARTTLS"):
        relay_message(host, port, "a@x.org", ["b@x.org"], MESSAGE, starttls=True)
    assert sink.received == []


def test_untrusted_certificate_is_temporary_and_sends_nothing() -> None:
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    untrusting = ssl.create_default_context()
    with (
        smtp_sink(tls_context=server_ctx) as (sink, host, port),
        pytest.raises(RelayTemporaryError),
    ):
        relay_message(
            host, port, "a@x.org", ["b@x.org"], MESSAGE, starttls=True, ssl_context=untrusting
        )
    assert sink.received == []


def test_non_ascii_address_goes_with_smtputf8() -> None:
    with smtp_sink(smtputf8=True) as (sink, host, port):
        relay_message(host, port, "a@x.org", ["jörg@x.org"], MESSAGE)
    assert sink.received[0].rcpt_tos == ("jörg@x.org",)


def test_non_ascii_address_without_smtputf8_is_permanent() -> None:
    # RFC 6531 §3.4: such an address cannot be sent to a server without SMTPUTF8.
    with smtp_sink(smtputf8=False) as (sink, host, port), pytest.raises(RelayPermanentError) as e:
        relay_message(host, port, "a@x.org", ["jörg@x.org"], MESSAGE)
    assert e.value.code == 553
    assert sink.received == []


def test_odd_reply_to_quit_after_delivery_is_still_success() -> None:
    # Once DATA got its 250 the message is delivered; reporting a failure because QUIT
    # got an odd reply would make the caller retry and deliver it twice.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    got: list[bytes] = []

    def serve() -> None:
        conn, _ = sock.accept()
        with conn, conn.makefile("rb") as reader:
            conn.sendall(b"220 scripted\r\n")
            for line in reader:
                verb = line[:4].upper()
                if verb == b"DATA":
                    conn.sendall(b"354 go on\r\n")
                    got.extend(iter(reader.readline, b".\r\n"))
                    conn.sendall(b"250 queued\r\n")
                elif verb == b"QUIT":
                    conn.sendall(b"500 what?\r\n")
                    return
                else:
                    conn.sendall(b"250 ok\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        result = relay_message("127.0.0.1", sock.getsockname()[1], "a@x.org", ["b@x.org"], MESSAGE)
    finally:
        thread.join(5)
        sock.close()
    assert result.code == 250
    assert b"".join(got).replace(b"\r\n..", b"\r\n.") == MESSAGE
