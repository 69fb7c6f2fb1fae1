"""Mail files: single messages (.eml), mbox files, Maildir folders and stdin.

The kind of a file is read from its content, not its name. An mbox (RFC 4155) is
streamed: only one message is held at a time, so a 2 GB mailbox is never loaded
whole. A message over the size cap is reported to the intake log and yielded cut
at the cap with ``truncated`` set; the normalizer marks it unscannable.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, ClassVar, Literal

from floodwall.ingest.base import InputError
from floodwall.ingest.intake import IntakeLog
from floodwall.records import Origin

MAX_MESSAGE = 64 << 20  # bytes kept of one message; the rest is cut and reported
BLOCK = 1 << 20  # longest piece of a line read at once
_SNIFF = 64 * 1024

Kind = Literal["eml", "mbox"]

# RFC 5322 section 2.2: a field name is printable US-ASCII except the colon.
_FIELD = re.compile(rb"[!-9;-~]+[ \t]*:")
# RFC 4155: "From " sender and an asctime date ("From a@b Mon Jan  1 00:00:00 2024").
_SEPARATOR = re.compile(rb"From \S+ +[A-Za-z]{3} [A-Za-z]{3} +\d")
# mboxrd quoting (RFC 4155, Appendix A): ">From ", ">>From " ... lose one ">" on reading.
_QUOTED = re.compile(rb">+From ")


@dataclass(frozen=True, slots=True)
class RawMail:
    """One message's bytes as read, before MIME parsing.

    ``truncated`` is set when the message was longer than the source's cap and
    ``data`` holds only its first bytes.
    """

    origin: Origin
    data: bytes
    truncated: bool = False


def sniff_mail(head: bytes) -> Kind | None:
    """The kind of mail file from its first bytes: an mbox, one message, or None."""
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip(b"\r\n")
    if text.startswith(b"From "):
        return "mbox"
    if _FIELD.match(text):
        return "eml"
    return None


def is_maildir(path: str) -> bool:
    """A Maildir folder has ``cur`` and ``new`` subfolders (``tmp`` holds nothing yet)."""
    return os.path.isdir(os.path.join(path, "cur")) and os.path.isdir(os.path.join(path, "new"))


class MailSource:
    """Reads mail messages from an .eml file, an mbox, a Maildir folder or stdin (``-``).

    ``record_id`` is the 1-based number of the message in its file (1 for a single
    message). Damage is reported to the intake log; only a path that cannot be
    opened at all raises ``InputError``.
    """

    name: ClassVar[str] = "mail"

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self.max_message = max_message

    def read(self, path: str, intake: IntakeLog) -> Iterator[RawMail]:
        """Every message of ``path``, one at a time."""
        if path == "-":
            yield from self._single(path, sys.stdin.buffer, intake)
            return
        if os.path.isdir(path):
            if not is_maildir(path):
                raise InputError(f"{path}: a folder that is not a Maildir (no cur/ and new/)")
            for file in maildir_files(path):
                yield from self.read(file, intake)
            return
        try:
            stream = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise InputError(f"cannot open {path!r}: {exc.strerror or exc}") from exc
        with stream:
            head = stream.read(_SNIFF)
            stream.seek(0)
            if sniff_mail(head) == "mbox":
                yield from self._mbox(path, stream, intake)
            else:
                yield from self._single(path, stream, intake)

    def _cut(self, path: str, number: int, intake: IntakeLog) -> None:
        reason = f"message larger than {self.max_message} bytes, cut"
        intake.problem(path, f"message {number}", reason)

    def _single(self, path: str, stream: BinaryIO, intake: IntakeLog) -> Iterator[RawMail]:
        data = stream.read(self.max_message + 1)
        truncated = len(data) > self.max_message
        if truncated:
            data = data[: self.max_message]
            self._cut(path, 1, intake)
            while stream.read(BLOCK):  # drain stdin so the writer is not blocked
                pass
        intake.count(path)
        yield RawMail(Origin(path, 1), data, truncated)

    def _mbox(self, path: str, stream: BinaryIO, intake: IntakeLog) -> Iterator[RawMail]:
        """Split an mbox on its "From " lines (RFC 4155), one message held at a time."""
        number = 0
        chunks: list[bytes] = []
        kept = 0
        truncated = False
        at_start = True  # the next piece read begins a line
        blank_before = True  # the previous line was empty (or there was none)
        started = False

        def flush() -> RawMail:
            data = b"".join(chunks)
            # The empty line that ends each message belongs to the mbox, not the message.
            if data.endswith(b"\r\n\r\n"):
                data = data[:-2]
            elif data.endswith(b"\n\n"):
                data = data[:-1]
            intake.count(path)
            return RawMail(Origin(path, number), data, truncated)

        while True:
            piece = stream.readline(BLOCK)
            if not piece:
                break
            line_start = at_start
            at_start = piece.endswith(b"\n")
            if (
                line_start
                and piece.startswith(b"From ")
                and (blank_before or _SEPARATOR.match(piece))
            ):
                if started:
                    yield flush()
                number += 1
                started = True
                chunks, kept, truncated = [], 0, False
                while not at_start:  # the rest of a very long separator line
                    piece = stream.readline(BLOCK)
                    at_start = not piece or piece.endswith(b"\n")
                blank_before = False
                continue
            if line_start:
                blank_before = piece in (b"\n", b"\r\n")
                if _QUOTED.match(piece):
                    piece = piece[1:]
            elif piece.strip(b"\r\n"):
                blank_before = False
            if not started:  # bytes before the first "From " line
                number, started = 1, True
            if truncated:
                continue
            if kept + len(piece) > self.max_message:
                chunks.append(piece[: self.max_message - kept])
                kept = self.max_message
                truncated = True
                self._cut(path, number, intake)
                continue
            chunks.append(piece)
            kept += len(piece)
        if started:
            yield flush()


def maildir_files(root: str) -> list[str]:
    """The message files of a Maildir (``new`` then ``cur``), sorted, hidden ones left out."""
    found: list[str] = []
    for sub in ("new", "cur"):
        folder = os.path.join(root, sub)
        names = sorted(n for n in os.listdir(folder) if not n.startswith("."))
        found.extend(
            os.path.join(folder, n) for n in names if os.path.isfile(os.path.join(folder, n))
        )
    return found


class MailInputs(list[tuple[str, MailSource]]):
    """The mail files to read, each with its source; ``skipped`` holds ``(path, reason)``."""

    def __init__(self) -> None:
        super().__init__()
        self.skipped: list[tuple[str, str]] = []


def expand_mail_inputs(paths: list[str], source: MailSource | None = None) -> MailInputs:
    """Expand files, Maildirs, directories (recursively) and ``-`` into (path, source) pairs.

    A named file is read as mail whatever its content (an attacker's garbage is
    still a message to judge). Inside a directory, files that are neither a message
    nor an mbox go to ``skipped``. Raises ``InputError`` for a missing path.
    """
    mail = source or MailSource()
    result = MailInputs()
    seen: set[str] = set()

    def add(path: str) -> None:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            result.append((path, mail))

    def walk(root: str) -> None:
        if is_maildir(root):
            for file in maildir_files(root):
                add(file)
            return
        for entry in sorted(os.scandir(root), key=lambda e: e.name):
            if entry.name.startswith(".") or entry.is_symlink():
                continue
            if entry.is_dir():
                walk(entry.path)
                continue
            try:
                with open(entry.path, "rb") as stream:
                    kind = sniff_mail(stream.read(_SNIFF))
            except OSError as exc:
                result.skipped.append((entry.path, f"cannot read: {exc.strerror or exc}"))
                continue
            if kind is None:
                result.skipped.append((entry.path, "not a mail message or mbox"))
            else:
                add(entry.path)

    for path in paths:
        if path == "-":
            result.append(("-", mail))
        elif os.path.isdir(path):
            walk(path)
        elif os.path.exists(path):
            add(path)
        else:
            raise InputError(f"input not found: {path}")
    return result
