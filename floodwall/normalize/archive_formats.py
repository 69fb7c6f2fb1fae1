"""One reader per archive format, each feeding members to the walker in ``archives``.

A reader lists members with ``walker.admit`` before reading them, streams their bytes
through a ``Sink`` (which enforces the limits) and records them with ``walker.emit``.
It may raise anything: the walker turns errors into "corrupt archive" reasons.
"""

from __future__ import annotations

import bz2
import functools
import gzip
import io
import lzma
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, BinaryIO, cast

import py7zr
import py7zr.io
import pycdlib
import pyzipper
import rarfile

if TYPE_CHECKING:
    from floodwall.normalize.archives import Node, Sink, Walker


def _sink(w: Walker, node: Node, name: str, compressed: int | None) -> Sink:
    from floodwall.normalize.archives import Sink  # archives imports this module

    return Sink(w, node, name, compressed)


def _limit(reason: str) -> Exception:
    from floodwall.normalize.archives import LimitHit

    return LimitHit(reason)


def _header_check(w: Walker, node: Node, name: str, size: int, compressed: int | None) -> None:
    """Refuse on the declared sizes alone, before decompressing anything.

    Headers can lie the other way too (small sizes, big data): the Sink counts real bytes.
    """
    lim = w.limits
    if size > lim.max_member_bytes:
        w.listed(node, name, size=size)
        raise _limit(f"member over {lim.max_member_bytes >> 20} MiB at {node.path}/{name}")
    if compressed is not None and size > lim.ratio_floor and size > lim.max_ratio * compressed:
        w.listed(node, name, size=size)
        ratio = size // max(1, compressed)
        raise _limit(f"zip bomb: ratio {ratio}:1 in {node.path}/{name}")


# --- zip: APPNOTE.TXT 6.3.10 -------------------------------------------------------------


def read_zip(w: Walker, node: Node) -> None:
    """Zip through the central directory (APPNOTE 4.3.12); local headers if it is lost."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(node.data))
    except zipfile.BadZipFile as err:
        # A truncated zip loses its central directory (at the end) first; the local
        # headers in front still describe the members written before the cut.
        w.reasons.append(f"corrupt archive: {err} in {node.path}")
        _scan_local_headers(w, node)
        return
    crypt: Any = None  # a pyzipper handle, opened at the first encrypted member
    state = {"known": "", "hopeless": ""}
    with archive:
        for index, info in enumerate(archive.infolist()):
            if info.is_dir():
                continue
            w.admit(node)
            _header_check(w, node, info.filename, info.file_size, info.compress_size)
            if info.flag_bits & 0x1:  # APPNOTE 4.4.4 bit 0: encrypted (ZipCrypto or AES)
                if crypt is None:
                    crypt = pyzipper.AESZipFile(io.BytesIO(node.data))
                _zip_encrypted(w, node, crypt, crypt.infolist()[index], state)
                continue
            sink = _sink(w, node, info.filename, info.compress_size)
            try:
                with archive.open(info) as stream:
                    sink.drain(stream.read)
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError) as e:
                w.reasons.append(f"corrupt archive: {e} in {sink.path}")
                w.listed(node, info.filename, size=info.file_size, problems=(f"corrupt: {e}",))
                continue
            w.emit(node, sink)


def _zip_encrypted(w: Walker, node: Node, crypt: Any, info: Any, state: dict[str, str]) -> None:
    """Try the message's passwords; the one that opened a member is tried first next time."""
    tries = [state["known"]] if state["known"] else []
    if not state["hopeless"]:
        tries += [p for p in w.passwords if p != state["known"]]
    for password in tries:
        sink = _sink(w, node, info.filename, info.compress_size)
        try:
            with crypt.open(info, pwd=password.encode()) as stream:
                sink.drain(stream.read)
        except (RuntimeError, zipfile.BadZipFile, zlib.error, ValueError, EOFError, OSError):
            # A wrong password fails the 1- or 2-byte check (APPNOTE 6.1.6, WinZip AE-2),
            # or, 1 time in 256 for ZipCrypto, only the CRC/HMAC at the end.
            continue
        state["known"] = password
        w.emit(node, sink, password=password)
        return
    if not state["known"]:
        state["hopeless"] = "yes"  # no password fits: don't pay the key derivation again
    w.listed(node, info.filename, size=info.file_size, encrypted=True)


_LOCAL = struct.Struct("<4sHHHHHIIIHH")  # APPNOTE 4.3.7 local file header


def _scan_local_headers(w: Walker, node: Node) -> None:
    data, at = node.data, 0
    while (at := data.find(b"PK\x03\x04", at)) >= 0 and at + _LOCAL.size <= len(data):
        _, _, flags, method, _, _, _, csize, usize, nlen, elen = _LOCAL.unpack_from(data, at)
        name = data[at + 30 : at + 30 + nlen].decode("utf-8" if flags & 0x800 else "cp437")
        start = at + 30 + nlen + elen
        # Bit 3 (APPNOTE 4.4.4): sizes follow the data, so read deflate to its own end.
        end = len(data) if flags & 0x8 or not csize else start + csize
        at = start if end == len(data) else end
        if name.endswith("/"):
            continue
        w.admit(node)
        if flags & 0x1 or method not in (0, 8):
            w.listed(node, name, size=usize, encrypted=bool(flags & 0x1))
            continue
        _header_check(w, node, name, usize, csize or None)
        sink = _sink(w, node, name, csize or None)
        complete = _inflate(sink, data[start:end], method, w.limits.chunk_bytes)
        problems = () if complete else ("truncated",)
        w.emit(node, sink, complete=complete, size=usize, problems=problems)


def _inflate(sink: Sink, raw: bytes, method: int, chunk: int) -> bool:
    if method == 0:
        for i in range(0, len(raw), chunk):
            sink.write(raw[i : i + chunk])
        return True
    inflater = zlib.decompressobj(-15)  # raw deflate, as zip stores it
    pending = raw
    while pending and not inflater.eof:
        sink.write(inflater.decompress(pending, chunk))
        pending = inflater.unconsumed_tail
    return inflater.eof


# --- 7z ------------------------------------------------------------------------------------


class _Writer(py7zr.io.Py7zIO):
    """Where py7zr writes one member: straight into a Sink, so limits apply per chunk."""

    def __init__(self, sink: Sink, done: list[Sink]) -> None:
        self.sink, self.done = sink, done

    def write(self, s: bytes | bytearray) -> int:
        return int(self.sink.write(s))

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def flush(self) -> None:
        return None

    def size(self) -> int:
        return int(self.sink.size)

    def close(self) -> None:
        self.done.append(self.sink)  # py7zr calls this once the member is fully written


class _Factory(py7zr.io.WriterFactory):
    def __init__(self, w: Walker, node: Node) -> None:
        self.w, self.node = w, node
        self.done: list[Sink] = []

    def create(self, filename: str) -> py7zr.io.Py7zIO:
        self.w.admit(self.node)
        return _Writer(_sink(self.w, self.node, filename, None), self.done)


def read_7z(w: Walker, node: Node) -> None:
    """7z: try without a password, then each of the message's; list names if all fail."""
    names: list[Any] = []
    encrypted = False
    for password in (None, *w.passwords):
        factory = _Factory(w, node)
        try:
            with py7zr.SevenZipFile(io.BytesIO(node.data), password=password) as archive:
                names = [f for f in archive.list() if not f.is_directory]
                # archiveinfo() wants a file name; the method list is what it reads.
                encrypted = encrypted or "7zAES" in archive._get_method_names()
                if encrypted and password is None:
                    continue
                for f in names:
                    if _traverses(f.filename):  # py7zr refuses to extract these at all
                        w.admit(node)
                        w.listed(node, f.filename, size=f.uncompressed or 0)
                safe = [f.filename for f in names if not _traverses(f.filename)]
                # py7zr's own cap bounds what it decompresses for members we skip.
                archive.max_extract_size = w.limits.max_total_bytes - w.total + 1
                archive.extract(targets=safe, factory=factory)
        except py7zr.exceptions.PasswordRequired:
            encrypted = True  # the names are encrypted too (7z -mhe)
            continue
        except Exception as err:
            if encrypted and not _is_limit(err):
                continue  # a wrong password shows as a CRC or LZMA error
            for sink in factory.done:
                w.emit(node, sink)
            raise
        for sink in factory.done:
            w.emit(node, sink, password=password or "")
        return
    for f in names:
        w.admit(node)
        w.listed(node, f.filename, size=f.uncompressed or 0, encrypted=True)
    if not names:
        w.admit(node)
        w.listed(node, "(encrypted 7z contents)", encrypted=True)


def _traverses(name: str) -> bool:
    return name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/")


def _is_limit(err: BaseException) -> bool:
    from floodwall.normalize.archives import _limit_in

    return _limit_in(err) is not None


# --- tar, and single-file gzip / bzip2 / xz -------------------------------------------------


def read_tar(w: Walker, node: Node) -> None:
    """tar (POSIX ustar, GNU), plain or compressed; members are read in order, once."""
    with tarfile.open(fileobj=io.BytesIO(node.data), mode="r:*") as archive:
        for member in archive:  # lazily: a header at a time
            if member.isdir():
                continue
            w.admit(node)
            if not member.isfile():  # links and devices carry no data of their own
                kind = _TAR_KIND.get(member.type, "special file")
                w.listed(node, member.name, problems=(f"tar {kind}",))
                continue
            _header_check(w, node, member.name, member.size, None)
            stream = archive.extractfile(member)
            sink = _sink(w, node, member.name, None)
            if stream is not None:
                with stream:
                    sink.drain(stream.read)
            w.emit(node, sink)


_TAR_KIND = {tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hard link"}


def _open_stream(kind: str, raw: IO[bytes]) -> io.BufferedIOBase:
    """A decompressing reader whose ``read(n)`` returns at most ``n`` bytes."""
    if kind == "gzip":
        return gzip.GzipFile(fileobj=raw)
    if kind == "bzip2":
        return bz2.BZ2File(raw)
    return lzma.LZMAFile(raw)


_SUFFIXES = {"gzip": (".gz", ".gzip", ".z"), "bzip2": (".bz2", ".bz"), "xz": (".xz",)}


def _compressed(kind: str) -> Callable[[Walker, Node], None]:
    def read(w: Walker, node: Node) -> None:
        with _open_stream(kind, io.BytesIO(node.data)) as stream:
            first = stream.read(512)
            if first[257:262] == b"ustar":  # a .tar.gz: show the tar's members directly
                read_tar(w, node)
                return
            w.admit(node)
            sink = _sink(w, node, _inner_name(node, kind), None)
            sink.write(first)
            sink.drain(stream.read)
            w.emit(node, sink)

    read.__doc__ = f"A single {kind} stream: one member, named after the archive."
    return read


def _inner_name(node: Node, kind: str) -> str:
    if kind == "gzip" and node.data[3] & 0x08:  # RFC 1952 2.3.1: FNAME, after FEXTRA
        at = 10 + (2 + int.from_bytes(node.data[10:12], "little") if node.data[3] & 0x04 else 0)
        end = node.data.find(b"\x00", at, at + 1024)
        if end > at:
            return node.data[at:end].decode("latin-1")
    base = node.path.rsplit("/", 1)[-1]
    if base.lower().endswith((".tgz", ".tbz2", ".txz")):
        return base.rsplit(".", 1)[0] + ".tar"
    for suffix in _SUFFIXES[kind]:
        if base.lower().endswith(suffix):
            return base[: -len(suffix)] or "unnamed"
    return base + ".out"


# --- ISO 9660 (ECMA-119) and UDF ------------------------------------------------------------


def read_iso(w: Walker, node: Node) -> None:
    """ISO 9660 via pycdlib; Rock Ridge or Joliet names when present (ECMA-119 8.5 SVD)."""
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(node.data))
    try:
        if iso.has_rock_ridge():
            key = "rr_path"
        elif iso.has_joliet():
            key = "joliet_path"
        elif iso.has_udf():
            key = "udf_path"
        else:
            key = "iso_path"
        for root, _dirs, files in iso.walk(**{key: "/"}):
            for name in files:
                full = root.rstrip("/") + "/" + name
                shown = full.lstrip("/")
                if key == "iso_path":
                    shown = shown.split(";", 1)[0]  # ECMA-119 7.5.1: ";1" is the version
                w.admit(node)
                sink = _sink(w, node, shown, None)
                iso.get_file_from_iso_fp(cast(BinaryIO, sink), **{key: full})
                w.emit(node, sink)
    finally:
        iso.close()


# --- rar: rarfile needs an unrar, unar or bsdtar program to decompress --------------------


@functools.cache
def rar_reader() -> bool:
    """Whether a program rarfile can decompress with is installed (asked once)."""
    try:
        rarfile.tool_setup()
    except Exception:
        return False
    return True


def read_rar(w: Walker, node: Node) -> None:
    """RAR 4/5: names always (rarfile parses headers itself), data only with a reader."""
    reader = rar_reader()
    if not reader:
        w.note_once(f"rar (no reader installed): {node.path} not unpacked")
    archive = rarfile.RarFile(io.BytesIO(node.data))
    for info in archive.infolist():
        if info.is_dir():
            continue
        w.admit(node)
        if not reader:
            problems = ("rar (no reader installed)",)
            w.listed(node, info.filename, size=info.file_size, problems=problems)
            continue
        _header_check(w, node, info.filename, info.file_size, info.compress_size)
        for password in (None, *w.passwords) if info.needs_password() else (None,):
            if info.needs_password() and password is None:
                continue
            sink = _sink(w, node, info.filename, info.compress_size)
            try:
                with archive.open(info, pwd=password) as stream:
                    sink.drain(stream.read)
            except (rarfile.Error, OSError):
                continue
            w.emit(node, sink, password=password or "")
            break
        else:
            w.listed(node, info.filename, size=info.file_size, encrypted=info.needs_password())


READERS: dict[str, Callable[[Walker, Node], None]] = {
    "zip": read_zip,
    "7z": read_7z,
    "tar": read_tar,
    "gzip": _compressed("gzip"),
    "bzip2": _compressed("bzip2"),
    "xz": _compressed("xz"),
    "iso": read_iso,
    "udf": read_iso,
    "rar": read_rar,
}
