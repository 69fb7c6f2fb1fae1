"""MailSource: .eml, mbox (RFC 4155), Maildir, folders and stdin, kinds read from content."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from floodwall.ingest.base import InputError
from floodwall.ingest.intake import IntakeLog
from floodwall.ingest.mail_source import MailSource, RawMail, expand_mail_inputs, sniff_mail
from floodwall.records import Origin

SAMPLES = Path(__file__).parents[1] / "samples" / "ingest" / "mail"
EML = SAMPLES / "exe_attm.eml"
MBOX = SAMPLES / "three.mbox"


def read_all(path: str, source: MailSource | None = None) -> tuple[list[RawMail], IntakeLog]:
    intake = IntakeLog()
    return list((source or MailSource()).read(path, intake)), intake


def test_eml_is_one_message() -> None:
    mails, intake = read_all(str(EML))
    assert mails == [RawMail(Origin(str(EML), 1), EML.read_bytes(), False)]
    assert intake.received[str(EML)] == 1
    assert intake.problems == []


def test_mbox_is_split_on_from_lines_and_unquoted() -> None:
    mails, intake = read_all(str(MBOX))
    assert [m.origin.record_id for m in mails] == [1, 2, 3]
    assert mails[0].data.startswith(b"From: notification@example.com\n")
    assert mails[1].data.startswith(b"Return-Path: <root@srv.example.com>\n")
    assert mails[1].data.endswith(
        b"------=_MIME_BOUNDARY_000_15328--\n"
    )  # the separating blank line is not kept
    assert b"\nFrom the start of this line" in mails[2].data  # mboxrd: one ">" removed
    assert b"\n>From twice quoted." in mails[2].data
    assert not any(m.truncated for m in mails)
    assert intake.received[str(MBOX)] == 3


def test_from_in_body_without_blank_line_or_date_is_not_a_separator(tmp_path: Path) -> None:
    path = tmp_path / "box"
    path.write_bytes(
        b"From a@b Mon Jan  1 00:00:00 2024\nSubject: one\n\nline\nFrom here on\n\n"
        b"From c@d Tue Jan  2 00:00:00 2024\r\nSubject: two\r\n\r\nbody\r\n\r\n"
    )
    mails, _ = read_all(str(path))
    assert [m.data for m in mails] == [
        b"Subject: one\n\nline\nFrom here on\n",
        b"Subject: two\r\n\r\nbody\r\n",
    ]


def test_oversized_message_is_cut_flagged_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "box"
    path.write_bytes(
        b"From a@b Mon Jan  1 00:00:00 2024\nSubject: big\n\n" + b"x" * 5000 + b"\n\n"
        b"From a@b Mon Jan  1 00:00:00 2024\nSubject: small\n\nok\n"
    )
    mails, intake = read_all(str(path), MailSource(max_message=1000))
    assert [(len(m.data), m.truncated) for m in mails] == [(1000, True), (19, False)]
    assert [(p.where, p.reason) for p in intake.problems] == [
        ("message 1", "message larger than 1000 bytes, cut")
    ]
    eml = tmp_path / "big.eml"
    eml.write_bytes(b"Subject: big\n\n" + b"y" * 5000)
    (single,), intake = read_all(str(eml), MailSource(max_message=1000))
    assert (len(single.data), single.truncated, intake.total_damaged) == (1000, True, 1)


def test_long_lines_are_streamed_in_pieces(tmp_path: Path) -> None:
    path = tmp_path / "box"
    body = b"z" * (3 << 20)
    path.write_bytes(b"From a@b Mon Jan  1 00:00:00 2024\nSubject: long\n\n" + body + b"\nFrom x\n")
    (mail,), _ = read_all(str(path))
    assert mail.data == b"Subject: long\n\n" + body + b"\nFrom x\n"


def test_maildir_reads_new_then_cur(tmp_path: Path) -> None:
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "Mail" / sub).mkdir(parents=True)
    (tmp_path / "Mail" / "cur" / "1.host:2,S").write_bytes(b"Subject: old\n\nx\n")
    (tmp_path / "Mail" / "new" / "2.host").write_bytes(b"Subject: new\n\nx\n")
    (tmp_path / "Mail" / "tmp" / "3.host").write_bytes(b"Subject: partial\n")
    inputs = expand_mail_inputs([str(tmp_path / "Mail")])
    assert [Path(p).parent.name + "/" + Path(p).name for p, _ in inputs] == [
        "new/2.host",
        "cur/1.host:2,S",
    ]
    mails, _ = read_all(str(tmp_path / "Mail"))
    assert [m.data[:12] for m in mails] == [b"Subject: new", b"Subject: old"]
    assert {m.origin.record_id for m in mails} == {1}


def test_directory_is_walked_by_content(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "mail.txt").write_bytes(EML.read_bytes())
    (tmp_path / "a" / "box.dat").write_bytes(MBOX.read_bytes())
    (tmp_path / "a" / "notes.eml").write_bytes(b"\x00\x01 not mail")
    (tmp_path / ".hidden.eml").write_bytes(EML.read_bytes())
    inputs = expand_mail_inputs([str(tmp_path)])
    assert [(Path(p).name, s.name) for p, s in inputs] == [
        ("box.dat", "mail"),
        ("mail.txt", "mail"),
    ]
    assert [(Path(p).name, why) for p, why in inputs.skipped] == [
        ("notes.eml", "not a mail message or mbox")
    ]


def test_named_file_is_read_whatever_its_content(tmp_path: Path) -> None:
    garbage = tmp_path / "x.bin"
    garbage.write_bytes(b"\x00\xff garbage")
    (mail,), _ = read_all(str(garbage))
    assert mail.data == b"\x00\xff garbage"
    assert len(expand_mail_inputs([str(garbage), str(garbage)])) == 1


def test_stdin_is_one_message(monkeypatch: pytest.MonkeyPatch) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(b"Subject: piped\n\nhello\n"))
    monkeypatch.setattr(sys, "stdin", stdin)
    assert [(p, s.name) for p, s in expand_mail_inputs(["-"])] == [("-", "mail")]
    mails, intake = read_all("-")
    assert mails == [RawMail(Origin("-", 1), b"Subject: piped\n\nhello\n")]
    assert intake.received["-"] == 1


def test_missing_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"input not found: .*nowhere"):
        expand_mail_inputs([str(tmp_path / "nowhere")])
    with pytest.raises(InputError, match="cannot open"):
        read_all(str(tmp_path / "nowhere"))


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"From a@b Mon Jan  1 00:00:00 2024\n", "mbox"),
        (b"\xef\xbb\xbfReceived: from x\n", "eml"),
        (b"\r\nX-Spam: no\n", "eml"),
        (b"hello world\n", None),
        (b"", None),
    ],
)
def test_sniff(head: bytes, kind: str | None) -> None:
    assert sniff_mail(head) == kind
