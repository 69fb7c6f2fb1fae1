"""Archives built here, byte by byte, and what ``unpack`` makes of them."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import struct
import tarfile
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import py7zr
import pycdlib
import pytest
import pyzipper

from floodwall.normalize import archive_formats
from floodwall.normalize.archives import ArchiveLimits, safe_name, unpack
from floodwall.normalize.filetype import true_type
from floodwall.records import Attachment

T = TypeVar("T")
SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "normalize" / "archives"
PE = b"MZ" + b"\x00" * 58 + (64).to_bytes(4, "little") + b"PE\x00\x00" + b"\x00" * 200


def att(name: str, data: bytes) -> Attachment:
    return Attachment(
        name=name,
        path=name,
        depth=0,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        declared_type="application/octet-stream",
        true_type=true_type(data, name),
        data=data,
    )


def zip_of(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def by_path(members: list[Attachment]) -> dict[str, Attachment]:
    return {m.path: m for m in members}


def test_flat_zip_members_have_paths_types_and_hashes() -> None:
    data = zip_of({"docs/invoice.pdf.exe": PE, "readme.txt": b"hello"})
    members, reasons = unpack(att("invoice.zip", data), passwords=[])
    assert reasons == []
    got = by_path(members)
    exe = got["invoice.zip/docs/invoice.pdf.exe"]
    assert (exe.name, exe.depth, exe.true_type, exe.size) == ("invoice.pdf.exe", 1, "pe", len(PE))
    assert exe.sha256 == hashlib.sha256(PE).hexdigest() and exe.data == PE
    assert got["invoice.zip/readme.txt"].true_type == "text"


def test_not_an_archive_gives_nothing() -> None:
    assert unpack(att("a.pdf", b"%PDF-1.7\n"), passwords=[]) == ([], [])


def test_three_deep_nesting_is_fine() -> None:
    data = zip_of({"payload.js": b"WScript.Echo(1)"})
    for name in ("c.zip", "b.zip"):
        data = zip_of({name: data})
    members, reasons = unpack(att("a.zip", data), passwords=[])
    assert reasons == []
    assert [(m.path, m.depth) for m in members] == [
        ("a.zip/b.zip", 1),
        ("a.zip/b.zip/c.zip", 2),
        ("a.zip/b.zip/c.zip/payload.js", 3),
    ]


def test_fifty_deep_nesting_stops_at_the_limit() -> None:
    data = b"deep"
    for level in range(50, 0, -1):
        data = zip_of({f"{level}.zip" if level < 50 else "x.txt": data}, zipfile.ZIP_STORED)
    members, reasons = unpack(att("0.zip", data), passwords=[])
    assert max(m.depth for m in members) == 10
    assert len(reasons) == 1 and reasons[0].startswith(
        "archive nesting deeper than 10 at 0.zip/1.zip/"
    )


def _peak(fn: Callable[[], T]) -> tuple[T, float, int]:
    """What ``fn`` returns, its seconds, and the peak of Python allocations meanwhile."""
    tracemalloc.start()
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, elapsed, peak


def test_recursive_bomb_16_by_16_stops_fast_and_small() -> None:
    zeros = bytes(4 << 20)
    inner = zip_of({f"{i}.bin": zeros for i in range(16)})
    outer = zip_of({f"{i}.zip": inner for i in range(16)})
    (_members, reasons), elapsed, peak = _peak(lambda: unpack(att("42.zip", outer), passwords=[]))
    print(f"16x16 bomb: {elapsed:.3f}s, peak {peak / 2**20:.1f} MiB")
    assert reasons and all(r.startswith("zip bomb: ratio ") for r in reasons)
    assert "in 42.zip/0.zip/0.bin" in reasons[0]
    assert elapsed < 10 and peak < 200 * 2**20


def test_recursive_bomb_is_caught_while_streaming_when_headers_pass() -> None:
    # Per-member ratios (~1000:1) pass a 2000:1 limit; the overall count does not.
    zeros = bytes(4 << 20)
    inner = zip_of({f"{i}.bin": zeros for i in range(16)})
    outer = zip_of({f"{i}.zip": inner for i in range(16)})
    limits = ArchiveLimits(max_ratio=2000)
    (_members, reasons), elapsed, peak = _peak(
        lambda: unpack(att("42.zip", outer), passwords=[], limits=limits)
    )
    print(f"16x16 bomb, streamed: {elapsed:.3f}s, peak {peak / 2**20:.1f} MiB")
    assert len(reasons) == 1 and reasons[0].startswith("zip bomb: ratio ")
    assert reasons[0].endswith(":1 overall in 42.zip")
    assert elapsed < 10 and peak < 200 * 2**20


def _streamed_bomb(total: int) -> bytes:
    buf = io.BytesIO()
    with (
        zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z,
        z.open("0.txt", "w", force_zip64=True) as f,
    ):
        chunk = bytes(1 << 20)
        for _ in range(total >> 20):
            f.write(chunk)
    return buf.getvalue()


def test_gigabyte_of_zeros_is_refused_on_the_header() -> None:
    data = _streamed_bomb(1 << 30)
    (_members, reasons), elapsed, peak = _peak(lambda: unpack(att("bomb.zip", data), passwords=[]))
    print(f"1 GiB bomb: {elapsed:.3f}s, peak {peak / 2**20:.1f} MiB, {len(data)} bytes compressed")
    assert len(reasons) == 1
    assert reasons[0].startswith("member over 128 MiB at bomb.zip/0.txt")
    assert elapsed < 5 and peak < 200 * 2**20


def test_ratio_over_the_limit_is_a_bomb_and_the_member_still_named() -> None:
    data = _streamed_bomb(64 << 20)
    members, reasons = unpack(att("bomb.zip", data), passwords=[])
    assert [(m.path, m.size, m.data) for m in members] == [("bomb.zip/0.txt", 64 << 20, b"")]
    assert len(reasons) == 1 and reasons[0].startswith("zip bomb: ratio ")
    assert reasons[0].endswith("in bomb.zip/0.txt")
    # The same bomb as a .gz has no compressed size per member: counted while reading.
    _members, reasons = unpack(att("bomb.gz", gzip.compress(bytes(64 << 20))), passwords=[])
    assert len(reasons) == 1 and reasons[0].startswith("zip bomb: ratio ")


def test_total_size_limit() -> None:
    data = zip_of({f"{i}.bin": bytes(range(256)) * 4096 for i in range(8)}, zipfile.ZIP_STORED)
    members, reasons = unpack(
        att("big.zip", data), passwords=[], limits=ArchiveLimits(max_total_bytes=3 << 20)
    )
    assert reasons == ["total unpacked size over 3 MiB"]
    assert len(members) == 3


def test_aes_zip_opens_with_a_password_from_the_message() -> None:
    buf = io.BytesIO()
    with pyzipper.AESZipFile(
        buf, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES
    ) as z:
        z.setpassword(b"infected")
        z.writestr("invoice.exe", PE)
    data = buf.getvalue()
    members, reasons = unpack(att("secret.zip", data), passwords=["1234", "infected"])
    assert reasons == []
    (m,) = members
    assert (m.name, m.password, m.encrypted, m.true_type, m.data) == (
        "invoice.exe",
        "infected",
        False,
        "pe",
        PE,
    )
    members, reasons = unpack(att("secret.zip", data), passwords=["wrong"])
    (m,) = members
    assert (m.name, m.encrypted, m.data, m.size) == ("invoice.exe", True, b"", len(PE))


def _zipcrypto(members: dict[str, bytes], password: bytes) -> bytes:
    """Traditional PKWARE encryption (APPNOTE 6.1), written by hand: pyzipper only reads it."""
    table = [0] * 256
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table[n] = c
    out, central = io.BytesIO(), io.BytesIO()
    for name, plain in members.items():
        keys = [0x12345678, 0x23456789, 0x34567890]

        def update(byte: int, keys: list[int] = keys) -> None:
            keys[0] = (keys[0] >> 8) ^ table[(keys[0] ^ byte) & 0xFF]
            keys[1] = ((keys[1] + (keys[0] & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
            keys[2] = (keys[2] >> 8) ^ table[(keys[2] ^ (keys[1] >> 24)) & 0xFF]

        for byte in password:
            update(byte)
        crc = zlib.crc32(plain)
        deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
        body = bytes(11) + bytes([crc >> 24]) + deflater.compress(plain) + deflater.flush()
        cipher = bytearray()
        for byte in body:
            k = keys[2] | 2
            cipher.append(byte ^ (((k * (k ^ 1)) >> 8) & 0xFF))
            update(byte)
        fields = struct.pack("<HHHHHIII", 20, 1, 8, 0, 0x21, crc, len(cipher), len(plain))
        offset = out.tell()
        out.write(
            b"PK\x03\x04" + fields + struct.pack("<HH", len(name), 0) + name.encode() + cipher
        )
        central.write(b"PK\x01\x02" + struct.pack("<H", 20) + fields)
        central.write(struct.pack("<HHHHHII", len(name), 0, 0, 0, 0, 0, offset) + name.encode())
    start = out.tell()
    out.write(central.getvalue())
    n = len(members)
    out.write(
        b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, n, n, len(central.getvalue()), start, 0)
    )
    return out.getvalue()


def test_zipcrypto_zip() -> None:
    data = _zipcrypto({"a.js": b"var x = 1;", "b.js": b"var y = 2;"}, b"abc")
    members, reasons = unpack(att("legacy.zip", data), passwords=["zzz", "abc"])
    assert reasons == []
    assert [(m.name, m.password, m.data) for m in members] == [
        ("a.js", "abc", b"var x = 1;"),
        ("b.js", "abc", b"var y = 2;"),
    ]
    members, reasons = unpack(att("legacy.zip", data), passwords=["zzz"])
    assert [(m.name, m.encrypted) for m in members] == [("a.js", True), ("b.js", True)]


def _seven(tmp_path: Path, password: str | None = None, header: bool = False) -> bytes:
    target = tmp_path / "a.7z"
    with py7zr.SevenZipFile(target, "w", password=password, header_encryption=header) as z:
        z.writestr(PE, "bin/run.exe")
        z.writestr(b"notes", "notes.txt")
    return target.read_bytes()


def test_7z_plain_and_encrypted(tmp_path: Path) -> None:
    members, reasons = unpack(att("a.7z", _seven(tmp_path)), passwords=[])
    assert reasons == []
    assert {(m.path, m.true_type) for m in members} == {
        ("a.7z/bin/run.exe", "pe"),
        ("a.7z/notes.txt", "text"),
    }
    data = _seven(tmp_path, "s3cret")
    members, reasons = unpack(att("a.7z", data), passwords=["nope", "s3cret"])
    assert reasons == [] and {m.password for m in members} == {"s3cret"}
    assert by_path(members)["a.7z/bin/run.exe"].data == PE
    members, reasons = unpack(att("a.7z", data), passwords=["nope"])
    assert {(m.name, m.encrypted) for m in members} == {("run.exe", True), ("notes.txt", True)}
    members, _ = unpack(att("a.7z", _seven(tmp_path, "s3cret", header=True)), passwords=[])
    assert [(m.name, m.encrypted) for m in members] == [("(encrypted 7z contents)", True)]


def test_tar_gz_and_single_file_compressors() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("dir/run.exe")
        info.size = len(PE)
        tar.addfile(info, io.BytesIO(PE))
    members, reasons = unpack(att("x.tar.gz", buf.getvalue()), passwords=[])
    assert reasons == [] and [(m.path, m.true_type) for m in members] == [
        ("x.tar.gz/dir/run.exe", "pe")
    ]
    for name, data in (
        ("run.exe.gz", gzip.compress(PE)),
        ("run.exe.bz2", bz2.compress(PE)),
        ("run.exe.xz", lzma.compress(PE)),
    ):
        members, reasons = unpack(att(name, data), passwords=[])
        assert reasons == [] and [(m.name, m.data) for m in members] == [("run.exe", PE)], name


def test_iso_with_double_extension(tmp_path: Path) -> None:
    iso = pycdlib.PyCdlib()
    iso.new(joliet=3)
    iso.add_fp(io.BytesIO(PE), len(PE), "/INVOICE.EXE;1", joliet_path="/invoice.pdf.exe")
    out = io.BytesIO()
    iso.write_fp(out)
    iso.close()
    members, reasons = unpack(att("parcel.iso", out.getvalue()), passwords=[])
    assert reasons == []
    assert [(m.path, m.true_type, m.data) for m in members] == [
        ("parcel.iso/invoice.pdf.exe", "pe", PE)
    ]


def test_truncated_zip_keeps_the_members_before_the_cut() -> None:
    data = zip_of({"first.txt": b"one " * 100, "second.exe": PE * 40, "third.txt": PE * 40})
    cut = data[: data.index(b"third.txt") + 20]
    members, reasons = unpack(att("cut.zip", cut), passwords=[])
    assert (
        reasons and reasons[0].startswith("corrupt archive: ") and reasons[0].endswith("in cut.zip")
    )
    got = by_path(members)
    assert got["cut.zip/first.txt"].data == b"one " * 100
    assert got["cut.zip/second.exe"].data == PE * 40
    assert got["cut.zip/third.txt"].problems == ("truncated",)


def test_corrupt_member_is_reported_and_others_kept() -> None:
    data = bytearray(zip_of({"a.txt": b"a" * 5000, "b.txt": b"b" * 50}, zipfile.ZIP_STORED))
    data[100:110] = b"XXXXXXXXXX"  # inside a.txt's stored bytes: its CRC no longer holds
    members, reasons = unpack(att("bad.zip", bytes(data)), passwords=[])
    assert (
        len(reasons) == 1
        and reasons[0].startswith("corrupt archive: ")
        and "bad.zip/a.txt" in reasons[0]
    )
    assert by_path(members)["bad.zip/b.txt"].data == b"b" * 50


def test_path_traversal_names_are_made_safe() -> None:
    data = zip_of({"../../evil.exe": PE, "C:\\Windows\\x.dll": PE, "/abs/y.txt": b"y"})
    members, reasons = unpack(att("t.zip", data), passwords=[])
    assert reasons == []
    assert [(m.path, m.name) for m in members] == [
        ("t.zip/evil.exe", "evil.exe"),
        ("t.zip/Windows/x.dll", "x.dll"),
        ("t.zip/abs/y.txt", "y.txt"),
    ]
    assert all(m.problems and m.problems[0].startswith("unsafe file name: ") for m in members)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("docs/a.txt", ("docs/a.txt", False)),
        ("../../evil.exe", ("evil.exe", True)),
        ("a\\..\\b.exe", ("a/b.exe", True)),
        ("/etc/passwd", ("etc/passwd", True)),
        ("D:x.exe", ("D:x.exe", True)),
        ("evil.exe\x00.txt", ("evil.exe", True)),
        ("..", ("unnamed", True)),
    ],
)
def test_safe_name(raw: str, expected: tuple[str, bool]) -> None:
    assert safe_name(raw) == expected


def test_member_count_limit() -> None:
    data = zip_of({f"{i}.txt": b"x" for i in range(20_000)}, zipfile.ZIP_STORED)
    members, reasons = unpack(att("x.zip", data), passwords=[])
    assert reasons == ["more than 10000 members in x.zip"]
    assert len(members) == 10_000


def test_kept_data_cap_keeps_the_hash() -> None:
    data = zip_of({"a.bin": bytes(range(256)) * 8, "b.bin": bytes(range(256)) * 8})
    members, _ = unpack(att("k.zip", data), passwords=[], limits=ArchiveLimits(max_kept_bytes=3000))
    assert [bool(m.data) for m in members] == [True, False]
    assert members[1].sha256 == hashlib.sha256(bytes(range(256)) * 8).hexdigest()
    assert members[1].problems[0].startswith("data not kept")


def test_rar_without_a_reader_is_named_once() -> None:
    if archive_formats.rar_reader():
        pytest.skip("a rar reader is installed here")
    rar = b"Rar!\x1a\x07\x01\x00" + b"\x00" * 64
    _members, reasons = unpack(att("a.rar", rar), passwords=[])
    assert reasons[0] == "rar (no reader installed): a.rar not unpacked"


def test_garbage_never_raises() -> None:
    for magic in (
        b"PK\x03\x04",
        b"7z\xbc\xaf\x27\x1c",
        b"\x1f\x8b\x08",
        b"BZh9",
        b"\xfd7zXZ\x00",
        b"Rar!\x1a\x07\x00",
    ):
        _members, reasons = unpack(att("g", magic + bytes(range(256)) * 4), passwords=["x"])
        assert reasons and all(isinstance(r, str) for r in reasons), magic


def test_sample_zip_is_current() -> None:
    sample = SAMPLES / "double_extension.zip"
    members, reasons = unpack(att(sample.name, sample.read_bytes()), passwords=[])
    assert reasons == []
    assert [(m.name, m.true_type) for m in members] == [
        ("invoice.pdf.exe", "pe"),
        ("readme.txt", "text"),
    ]
