"""parse_message: real samples, one golden parse, and hostile messages built here."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import os
import time
from email.utils import getaddresses, parseaddr
from pathlib import Path
from typing import Any

import pytest

from floodwall.ingest.mail_source import RawMail
from floodwall.normalize import archives, filetype, mime
from floodwall.normalize.mime import MimeLimits, parse_message
from floodwall.normalize.mime_text import passwords_in, safe_name
from floodwall.records import Attachment, Link, MailMessage, Origin

GOLDEN = Path(__file__).parents[1] / "samples" / "normalize" / "mime"


def parse(data: bytes, **kw: Any) -> MailMessage:
    return parse_message(RawMail(Origin("test", 1), data), **kw)


# --- real samples ---------------------------------------------------------------

REAL = [
    # (corpus/file, message_id, from_addr, subject prefix, link urls (subset), attachment names, unscannable)
    (
        "rspamd_test_messages/exe_attm.eml",
        "<20190126120458.015328@srv.example.com>",
        "root@srv.example.com",
        "test Sat",
        [],
        ["hello_world.exe"],
        [],
    ),
    (
        "rspamd_test_messages/html_phishing.eml",
        "",
        "notification@example.com",
        "Your weekly newsletter",
        [
            "https://phishing-site.evil",
            "https://phishing-site.evil/steal-credentials",
            "https://phishing-site.evil/fake",
        ],
        [],
        [],
    ),
    (
        "rspamd_test_messages/badboundary.eml",
        "<156951315267.43830.14912869070271436609@example.org>",
        "test@example.org",
        "Test message",
        [],
        ["Transparent.gif"],
        ["truncated MIME: closing boundary not found"],
    ),
    (
        "rspamd_test_messages/fname.eml",
        "<CA+1S=h4aGimA6vSBJF=t1F+5z-Mua5+Cimf+NU_NDWJk8ZNOcw@mail.gmail.com>",
        "test@test.com",
        "Fwd:",
        [],
        [
            "[삼성생명]2020.08.14 데일리 경제뉴스.pdf",
            "01029_402110_10620_RGT06902_PRT180ML_20200803_101820.pdf",
        ],
        ["damaged base64 content"],
    ),
    (
        "rspamd_test_messages/mixed-html-zip.eml",
        "<mixed-html-zip@test.com>",
        "test@test.com",
        "multipart/mixed with html",
        ["https://example.com"],
        ["ComplaintLetter_1508658544.zip"],
        [],
    ),
    (
        "rspamd_test_messages/gtube.eml",
        "<GTUBE1.1010101@example.net>",
        "sender@example.net",
        "Test spam mail (GTUBE)",
        [],
        [],
        [],
    ),
    ("rspamd_test_messages/utf.eml", None, None, None, None, None, None),
    ("rspamd_test_messages/bad_message.eml", None, None, None, None, None, None),
    ("rspamd_test_messages/zip.eml", None, None, None, None, None, None),
    ("rspamd_test_messages/rar4.eml", None, None, None, None, None, None),
    ("phishing_pot/sample-1002.eml", None, None, None, None, None, None),
    ("phishing_pot/sample-1003.eml", None, None, None, None, None, None),
    ("phishing_pot/sample-3050.eml", None, None, None, None, None, None),
]


@pytest.mark.parametrize(("name", "mid", "sender", "subject", "urls", "files", "reasons"), REAL)
def test_real_sample(
    shared_data: Path,
    name: str,
    mid: str | None,
    sender: str | None,
    subject: str | None,
    urls: list[str] | None,
    files: list[str] | None,
    reasons: list[str] | None,
) -> None:
    data = (shared_data / "mail" / name).read_bytes()
    msg = parse(data)
    assert not any(r.startswith("cannot parse") for r in msg.unscannable), msg.unscannable
    assert msg.headers and msg.sha256 and (msg.text or msg.attachments)
    if mid is None:  # smoke only: parsed whole
        return
    assert (msg.message_id, msg.from_addr) == (mid, sender)
    assert msg.subject.startswith(subject or "")
    assert set(urls or ()) <= {link.url for link in msg.links}
    assert [a.name for a in msg.attachments if a.depth == 0] == files
    assert list(msg.unscannable) == reasons


def test_whole_corpus_parses(shared_data: Path) -> None:
    """Every real message gives a MailMessage, none a crash, quickly."""
    files = sorted((shared_data / "mail" / "rspamd_test_messages").glob("*.eml"))
    files += sorted((shared_data / "mail" / "phishing_pot").glob("sample-1*.eml"))
    started = time.monotonic()
    failed = [
        f.name
        for f in files
        if any(r.startswith("cannot parse") for r in parse(f.read_bytes()).unscannable)
    ]
    assert failed == []
    assert time.monotonic() - started < 60


# --- golden ---------------------------------------------------------------------


def summary(msg: MailMessage) -> dict[str, Any]:
    return {
        "message_id": msg.message_id,
        "from_addr": msg.from_addr,
        "from_name": msg.from_name,
        "to": list(msg.to),
        "return_path": msg.return_path,
        "subject": msg.subject,
        "text": msg.text,
        "links": [[link.url, link.text] for link in msg.links],
        "attachments": [
            [a.name, a.path, a.declared_type, a.true_type, a.size, a.sha256]
            for a in msg.attachments
        ],
        "unscannable": list(msg.unscannable),
    }


def test_golden() -> None:
    msg = parse_message(
        RawMail(Origin("samples/normalize/mime/input.eml", 1), (GOLDEN / "input.eml").read_bytes())
    )
    got = summary(msg)
    path = GOLDEN / "expected.json"
    if os.environ.get("FLOODWALL_REGENERATE_GOLDEN") == "1":
        path.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert got == json.loads(path.read_text(encoding="utf-8"))


# --- hostile messages -----------------------------------------------------------

HEAD = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: s\r\nMIME-Version: 1.0\r\n"


def multipart(parts: list[bytes], boundary: bytes = b"b", close: bool = True) -> bytes:
    out = b"Content-Type: multipart/mixed; boundary=" + boundary + b"\r\n\r\n"
    for part in parts:
        out += b"--" + boundary + b"\r\n" + part + b"\r\n"
    return out + (b"--" + boundary + b"--\r\n" if close else b"")


def text_part(body: bytes, ctype: bytes = b"text/plain; charset=utf-8") -> bytes:
    return b"Content-Type: " + ctype + b"\r\n\r\n" + body


def attachment(name: bytes, data: bytes) -> bytes:
    return (
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="'
        + name
        + b'"\r\n\r\n'
        + base64.encodebytes(data)
    )


def nested(depth: int) -> bytes:
    body = text_part(b"deep")
    for level in range(depth):
        body = multipart([body], boundary=b"L%d" % level)
    return HEAD + body


def many_parts(n: int) -> bytes:
    return HEAD + multipart([text_part(b"p%d" % i) for i in range(n)])


def cut_in_base64() -> bytes:
    whole = HEAD + multipart([text_part(b"hi"), attachment(b"a.bin", bytes(range(256)) * 40)])
    return whole[: len(whole) // 2]


CASES: list[tuple[str, bytes, list[str]]] = [
    ("fine multipart", HEAD + multipart([text_part(b"hello")]), []),
    ("10,000 parts", many_parts(10_000), ["more than 1000 MIME parts"]),
    ("50 deep", nested(50), ["MIME nesting deeper than 30 levels"]),
    ("29 deep is fine", nested(29), []),
    (
        "cut in base64",
        cut_in_base64(),
        ["truncated MIME: closing boundary not found", "damaged base64 content"],
    ),
    (
        "no close boundary",
        HEAD + multipart([text_part(b"x")], close=False),
        ["truncated MIME: closing boundary not found"],
    ),
    (
        "no start boundary",
        HEAD + b"Content-Type: multipart/mixed; boundary=zz\r\n\r\njust text\r\n",
        ["truncated MIME: start boundary not found", "malformed MIME: multipart without parts"],
    ),
    (
        "no boundary parameter",
        HEAD + b"Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\nt\r\n",
        ["malformed MIME: multipart without boundary", "malformed MIME: multipart without parts"],
    ),
    (
        "unknown body charset",
        HEAD + text_part(b"caf\xe9", b"text/plain; charset=x-nope"),
        ["invalid charset 'x-nope' in part 1"],
    ),
    (
        "codec that is no charset",
        HEAD + text_part(b"abc", b"text/plain; charset=rot13"),
        ["invalid charset 'rot13' in part 1"],
    ),
    (
        "unknown header charset",
        b"Subject: =?x-nope?Q?hi?=\r\nFrom: a@b.c\r\n\r\nx",
        ["invalid charset 'x-nope' in header subject"],
    ),
    (
        "8-bit header bytes neither UTF-8 nor cp1252",
        b"Subject: caf\x81\x8d\x90\r\nFrom: a@b.c\r\n\r\nx",
        ["invalid 8-bit bytes in header subject"],
    ),
    (
        "invalid UTF-8 body",
        HEAD + text_part(b"ok \xc3\x28 \xff\xfe"),
        ["invalid utf-8 bytes in part 1"],
    ),
    (
        "8-bit text labelled ascii",
        HEAD + text_part(b"caf\xe9", b"text/plain; charset=us-ascii"),
        [],
    ),
    ("empty", b"", ["empty message"]),
    ("garbage", bytes(range(256)) * 64, ["no header fields (not a mail message)"]),
]


@pytest.mark.parametrize(("data", "reasons"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile(data: bytes, reasons: list[str]) -> None:
    started = time.monotonic()
    msg = parse(data)
    assert time.monotonic() - started < 10
    assert list(msg.unscannable) == reasons


def test_hostile_contents() -> None:
    assert parse(HEAD + text_part(b"ok \xc3\x28")).text == "ok \ufffd("
    assert parse(b"Subject: caf\x81\x8d\r\n\r\n").subject == "caf\x81\x8d"
    deep = parse(nested(29))
    assert deep.text == "deep"
    assert parse(many_parts(10_000)).text.startswith("p0\np1\n")


def test_100_mb_header_is_cut_quickly() -> None:
    data = b"From: a@b.c\r\nSubject: " + b"A" * (100 << 20) + b"\r\nTo: d@e.f\r\n\r\nbody\r\n"
    started = time.monotonic()
    msg = parse(data)
    del data
    assert time.monotonic() - started < 10
    assert msg.unscannable == ("header subject longer than 1048576 bytes, cut",)
    assert len(msg.subject) < (1 << 20) and msg.to == ("d@e.f",) and msg.text.strip() == "body"
    assert sum(len(v) for _, v in msg.headers) < (1 << 20) + 100


def test_100_mb_folded_header_in_a_part_is_cut() -> None:
    folded = b"x\r\n " * (25 << 20)
    data = HEAD + multipart([b"Content-Type: text/plain; name=" + folded + b"\r\n\r\nbody"])
    started = time.monotonic()
    msg = parse(data)
    assert time.monotonic() - started < 20
    assert msg.unscannable == ("header content-type longer than 8192 bytes, cut",)


def test_truncated_message_is_unscannable() -> None:
    msg = parse_message(RawMail(Origin("x", 3), HEAD + b"\r\nbody", truncated=True))
    assert msg.unscannable == (f"message larger than {len(HEAD) + 6} bytes",)
    assert msg.origin == Origin("x", 3)


def test_unsafe_attachment_names() -> None:
    names = [
        b"../../etc/passwd",
        b"/abs/path.exe",
        b"C:\\\\Windows\\\\evil.dll",
        b"nul\x00.pdf.exe",
        b"ok.pdf",
    ]
    data = HEAD + multipart([text_part(b"see files")] + [attachment(n, b"MZ data") for n in names])
    msg = parse(data)
    got = [(a.name, a.problems) for a in msg.attachments]
    unsafe = ("unsafe file name",)
    assert got == [
        ("passwd", unsafe),
        ("path.exe", unsafe),
        ("evil.dll", unsafe),
        ("nul.pdf.exe", unsafe),
        ("ok.pdf", ()),
    ]
    assert msg.unscannable == ()
    assert {a.true_type for a in msg.attachments} == {filetype.true_type(b"MZ data", "x.exe")}


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("..", ("", True)),
        ("a/..", ("", True)),
        ("report.pdf", ("report.pdf", False)),
        ("x" * 300, ("x" * 255, True)),
    ],
)
def test_safe_name(name: str, safe: tuple[str, bool]) -> None:
    assert safe_name(name) == safe


def test_unexpected_exception_becomes_unscannable(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(data: bytes, name: str) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(filetype, "true_type", boom)
    msg = parse(HEAD + multipart([attachment(b"a.exe", b"MZ")]))
    assert msg.unscannable == ("cannot parse: RuntimeError: boom",)
    assert msg.origin == Origin("test", 1) and msg.attachments == ()


def test_archives_are_unpacked_with_the_passwords_of_the_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, Any] = {}

    def unpack(
        att: Attachment, *, passwords: list[str], limits: Any
    ) -> tuple[list[Attachment], list[str]]:
        seen.update(name=att.name, passwords=list(passwords), limits=limits)
        member = dataclasses.replace(
            att, name="x.exe", path=att.path + "/x.exe", depth=1, data=b"MZ"
        )
        return [member], ["archive nested too deep"]

    monkeypatch.setattr(archives, "unpack", unpack)
    body = text_part(
        b'Invoice attached. Password: Inv2024! <br> or try "7731"', b"text/html; charset=utf-8"
    )
    msg = parse(HEAD + multipart([body, attachment(b"inv.zip", b"PK\x03\x04rest")]))
    assert seen["name"] == "inv.zip" and seen["passwords"] == ["Inv2024!", "7731"]
    assert [(a.path, a.depth) for a in msg.attachments] == [("inv.zip", 0), ("inv.zip/x.exe", 1)]
    assert msg.unscannable == ("archive nested too deep",)
    assert isinstance(seen["limits"], archives.ArchiveLimits)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("The password: s3cret.", ["s3cret"]),
        ("Passwort : Geheim123\nKennwort: zwei", ["Geheim123", "zwei"]),
        ("mot de passe : azerty ; contraseña: clave1", ["azerty", "clave1"]),
        ("pwd=1234 and code '9876'", ["1234", "9876"]),
        ("Senha do PDF: 7731", ["7731"]),
        ("Senha do Arquivo em Anexo: 123\r\nE-mail", ["123"]),
        ("Segue o boleto. Senha de acesso ao PDF 7731 - protocolo 99", ["7731"]),
        ("Senha do PDF 123\r\nProtocolo: 24", ["123"]),
        ("[PDF Password]:62734", ["62734"]),
        ("The password is 7731.", ["7731"]),
        (
            "wachtwoord: geheim, parola: segreta; hasło: tajne; contrasena: clave",
            ["geheim", "segreta", "tajne", "clave"],
        ),
        # Words without a digit, and "pass" inside other words, are not taken without ":".
        ("Your password is your date of birth", []),
        ("With SuperPass you get: All Big 12 games", []),
        ("Viel Spass und Erfolg auf der jobfair24!", []),
        ("no secrets here", []),
        (
            "password: " + " ".join(f"'p{i:03}'" for i in range(100)),
            [f"p{i:03}" for i in range(20)],
        ),
    ],
)
def test_passwords_in(text: str, found: list[str]) -> None:
    assert passwords_in(text) == found


def test_links_html_and_bare() -> None:
    html = b'<p>Hi <a href=" https://evil.example/login ">your <b>bank</b></a></p><script>var x="https://no.example"</script>'
    plain = (
        b"Visit https://a.example/x?y=1, or (https://b.example/z).\nAgain https://a.example/x?y=1"
    )
    msg = parse(HEAD + multipart([text_part(plain), text_part(html, b"text/html")]))
    assert msg.links == (
        Link("https://evil.example/login", "your bank"),
        Link("https://a.example/x?y=1"),
        Link("https://b.example/z"),
    )
    assert "var x" not in msg.text and "Hi your bank" in msg.text
    assert msg.html.startswith("<p>Hi")


def test_addresses() -> None:
    data = (
        b"From: =?utf-8?B?w4lyaWM=?= <Eric@Example.ORG>\r\nTo: a@x.y, B <b@x.y>\r\nCc: c@x.y\r\n"
        b"Reply-To: r@z.y\r\nReturn-Path: <Bounce@x.y>\r\nMessage-ID: <m@x>\r\n\r\nhi"
    )
    msg = parse(data)
    assert (
        msg.from_name,
        msg.from_addr,
        msg.to,
        msg.reply_to,
        msg.return_path,
        msg.message_id,
    ) == (
        "Éric",
        "eric@example.org",
        ("a@x.y", "b@x.y", "c@x.y"),
        ("r@z.y",),
        "bounce@x.y",
        "<m@x>",
    )
    assert msg.header("FROM") == ("Éric <Eric@Example.ORG>",)


def test_limits_are_settable() -> None:
    msg = parse(many_parts(20), limits=MimeLimits(max_parts=5))
    assert msg.unscannable == ("more than 5 MIME parts",)
    assert {"zip", "7z", "rar", "iso"} <= mime.ARCHIVE_TYPES


# --- header bytes and encodings (RFC 6532, RFC 2047, RFC 2231) ---------------------


@pytest.mark.parametrize(
    ("raw", "subject", "reasons"),
    [
        (b"caf\xc3\xa9", "café", []),  # UTF-8 (RFC 6532)
        (b"Robbie's \xa380m deal", "Robbie's £80m deal", []),  # raw Latin-1 (old mailers)
        (b"Sel\xe5sdal \x93quoted\x94", "Selåsdal “quoted”", []),  # cp1252 quotes
        (b"caf\xc3\x28 \xff", "cafÃ( ÿ", []),  # not UTF-8: read as cp1252, not unscannable
        (b"x\x81\x8d", "x\x81\x8d", ["invalid 8-bit bytes in header subject"]),
        (b"=?utf-8?B?w6k=?= =?utf-8?Q?t=C3=A9?=", "été", []),  # blank between words dropped
        (b"=?utf-8?B?w6nDqQ==?=", "éé", []),
        (b"=?utf-8?Q?=C3?= =?utf-8?Q?=A9?=", "é", []),  # one character split over two words
        (b"a =?iso-8859-1?q?caf=E9_ok?= b", "a café ok b", []),
        (b"=?utf-8*en?Q?hi?=", "hi", []),  # RFC 2231 language suffix
        (b"=?utf-8?B?w6k?=", "é", []),  # missing base64 padding
        (b"=?x-nope?Q?hi?=", "hi", ["invalid charset 'x-nope' in header subject"]),
        (b"Minutes =?unknown-8bit?q?=FF?=", "Minutes ÿ", []),  # RFC 1428, as Python writes
        (b"=?unknown-8bit?q?caf=C3=A9?=", "café", []),
        (b"no =?encoded words", "no =?encoded words", []),
    ],
)
def test_header_decoding(raw: bytes, subject: str, reasons: list[str]) -> None:
    msg = parse(b"From: a@b.c\r\nSubject: " + raw + b"\r\n\r\nbody")
    assert (msg.subject, list(msg.unscannable)) == (subject, reasons)


def test_latin1_sender_is_read_and_scannable() -> None:
    msg = parse(b'From: "Nils O. Sel\xe5sdal" <nos@example.no>\r\n\r\nhi')
    assert (msg.from_name, msg.from_addr, msg.unscannable) == (
        "Nils O. Selåsdal",
        "nos@example.no",
        (),
    )


def part_with(headers: bytes, body: bytes) -> bytes:
    return headers + b"\r\n" + body


@pytest.mark.parametrize(
    ("part", "name", "data"),
    [
        (  # RFC 2231 continuations with a charset
            part_with(
                b"Content-Type: application/octet-stream\r\n"
                b"Content-Disposition: attachment;\r\n filename*0*=utf-8''r%C3%A9;\r\n"
                b" filename*1=sum.exe\r\n",
                b"MZ",
            ),
            "résum.exe",
            b"MZ",
        ),
        (  # the older Content-Type name parameter, quoted with a ";"
            part_with(b'Content-Type: application/x-msdownload; name="a;b.exe"\r\n', b"MZ"),
            "a;b.exe",
            b"MZ",
        ),
        (  # RFC 2047 words in a file name (not standard, common)
            part_with(
                b"Content-Type: application/pdf\r\nContent-Disposition: attachment;"
                b' filename="=?utf-8?B?w6kucGRm?="\r\n',
                b"%PDF-1.4",
            ),
            "é.pdf",
            b"%PDF-1.4",
        ),
        (
            part_with(
                b'Content-Type: application/octet-stream; name="q.bin"\r\n'
                b"Content-Transfer-Encoding: quoted-printable\r\n",
                b"MZ=00=FF=\r\nend",
            ),
            "q.bin",
            b"MZ\x00\xffend",
        ),
        (
            part_with(
                b'Content-Type: application/octet-stream; name="u.exe"\r\n'
                b"Content-Transfer-Encoding: x-uuencode\r\n",
                b"begin 644 u.exe\r\n" + binascii.b2a_uu(b"MZ payload") + b"`\r\nend\r\n",
            ),
            "u.exe",
            b"MZ payload",
        ),
    ],
)
def test_attachment_encodings(part: bytes, name: str, data: bytes) -> None:
    msg = parse(HEAD + multipart([text_part(b"hi"), part]))
    assert [(a.name, a.data) for a in msg.attachments] == [(name, data)]
    assert msg.unscannable == ()


def test_boundary_prefix_lines_are_content() -> None:
    """``--bX`` is no delimiter of boundary ``b`` (RFC 2046 5.1.1): only blanks may follow."""
    body = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
    body += b"--b\r\nContent-Type: text/plain\r\n\r\none\r\n--bX\r\ntwo\r\n--b \r\n\r\nthree\r\n--b--\r\n"
    msg = parse(HEAD + body)
    assert msg.text == "one\r\n--bX\r\ntwo\nthree" and msg.unscannable == ()


def test_encoded_attached_message_is_walked() -> None:
    inner = HEAD + multipart([text_part(b"inner text"), attachment(b"x.exe", b"MZ")])
    part = part_with(
        b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n",
        base64.encodebytes(inner),
    )
    msg = parse(HEAD + multipart([text_part(b"outer"), part]))
    assert msg.text == "outer\ninner text"
    assert [a.name for a in msg.attachments] == ["x.exe"] and msg.unscannable == ()


def test_deep_attached_messages_hit_the_depth_limit() -> None:
    data = text_part(b"deep")
    for _ in range(40):
        data = b"Content-Type: message/rfc822\r\n\r\n" + HEAD + data
    msg = parse(HEAD + data)
    assert msg.unscannable == ("MIME nesting deeper than 30 levels",)


@pytest.mark.parametrize(
    "value",
    [
        "a@b.c",
        "<a@b.c>",
        "Name <A@B.C>",
        '"Na, me" <a@b.c>',
        "John  Smith <a@b.c>",
        '"a@b" <c@d.e>',
        "Support\u2008\u2008 <x@y.z>",  # unicode blanks stay in the name, as the stdlib has it
        "a (comment) <b@c.d>",
        "Name <a@b.c>, other@d.e",
        "<@route:a@b.c>",
        "not an address",
        "",
    ],
)
def test_sender_fast_path_agrees_with_the_stdlib(value: str) -> None:
    msg = parse(f"From: {value}\r\nReply-To: {value}\r\n\r\nhi".encode())
    name, addr = parseaddr(value)
    assert (msg.from_name, msg.from_addr) == (name, addr.lower())
    assert msg.reply_to == tuple(a.lower() for _, a in getaddresses([value]) if a)
