"""Files that survive a crash: written aside, fsynced, renamed into place, and the
directory synced, so that after power loss the file is either whole or absent.

The gateway's spool and the quarantine both promise durability before they answer
(RFC 5321 §6.1: a server that accepted a message must not lose it); this is the one
place that does it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Make the names in ``path`` (a new file, a rename, an unlink) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is written (it may write fewer)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_durably(temp: Path, final: Path, *chunks: bytes) -> None:
    """Write ``chunks`` to ``temp`` (a new file, mode 0600), fsync it, rename it to
    ``final`` and fsync ``final``'s directory. On any error ``temp`` is removed and the
    error raised; ``final`` is then untouched."""
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        for chunk in chunks:
            write_all(fd, chunk)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    os.close(fd)
    os.replace(temp, final)
    # The rename is only durable once the directory holding the new name is synced.
    fsync_dir(final.parent)
