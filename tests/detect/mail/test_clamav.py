"""The clamd client and the ClamAV detector: a real clamd with a one-signature database,
then hostile daemons (closing mid-stream, never answering) that a real clamd cannot be
made to be on demand."""

from __future__ import annotations

import hashlib
import shutil
import socket
import socketserver
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import attachment_cases as cases
import pytest

from floodwall.detect.mail.clamav import ClamavDetector
from floodwall.detect.mail.clamd import ClamdClient, ClamdError, ClamResult
from floodwall.ingest.mail_source import RawMail
from floodwall.mail.scan import scan_message
from floodwall.normalize.mime import parse_message
from floodwall.records import Origin
from floodwall.respond.policy import Policy

att, message = cases.att, cases.message

SAMPLE = Path(__file__).parents[2] / "samples" / "detect" / "mail" / "clamav" / "sample.eml"
# Built from two halves so the repository holds no EICAR file that scanners would flag.
EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*").encode()
PLAIN = b"Hello, the minutes of Monday's meeting are below.\n" * 50
# clamd reports signatures from a database it does not know as official with this suffix.
SIGNATURE = "Floodwall.Test.EICAR.UNOFFICIAL"
LIMIT = 1 << 20  # StreamMaxLength of the test daemons
CLAMD = shutil.which("clamd") or next(
    (p for p in ("/usr/sbin/clamd", "/usr/local/sbin/clamd") if Path(p).is_file()), None
)
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class Daemon:
    unix: str
    tcp: str
    start_seconds: float


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def clamd() -> Iterator[Daemon]:
    """A real clamd on a UNIX socket and on TCP, with a database of one signature."""
    if CLAMD is None:
        pytest.skip("clamd is not installed here (Debian: apt-get install clamav-daemon)")
    # Short on purpose: a UNIX socket path is at most 107 bytes.
    folder = Path(tempfile.mkdtemp(prefix="fwclamd-"))
    # freshclam cannot download here and the tests must not hang on the official database:
    # one hash signature (MD5:size:name, a .hdb line) for the EICAR test file.
    (folder / "floodwall-test.hdb").write_text(
        f"{hashlib.md5(EICAR).hexdigest()}:{len(EICAR)}:Floodwall.Test.EICAR\n"
    )
    unix, port = str(folder / "clamd.sock"), _free_port()
    # clamd.conf(5): foreground, no log file or syslog, nothing outside ``folder``.
    (folder / "clamd.conf").write_text(
        f"LocalSocket {unix}\n"
        f"TCPSocket {port}\nTCPAddr 127.0.0.1\n"
        f"DatabaseDirectory {folder}\nTemporaryDirectory {folder}\n"
        f"StreamMaxLength {LIMIT}\n"
        "Foreground yes\nLogSyslog no\nSelfCheck 0\n"
    )
    log_path = folder / "clamd.log"
    with log_path.open("wb") as log:
        start = time.monotonic()
        proc = subprocess.Popen(
            [CLAMD, "-c", str(folder / "clamd.conf")], stdout=log, stderr=subprocess.STDOUT
        )
        try:
            ready = False
            while time.monotonic() - start < START_TIMEOUT and proc.poll() is None:
                try:
                    ClamdClient(unix, connect_timeout=0.5, read_timeout=2).ping()
                    ClamdClient(f"127.0.0.1:{port}", connect_timeout=0.5, read_timeout=2).ping()
                    ready = True
                    break
                except ClamdError:
                    time.sleep(0.1)
            elapsed = time.monotonic() - start
            if not ready:
                tail = log_path.read_text("utf-8", "replace").strip().splitlines()[-5:]
                pytest.skip(
                    f"clamd ({CLAMD}) did not answer PING within {elapsed:.1f} s "
                    f"(exit code {proc.poll()}): {' | '.join(tail)}"
                )
            yield Daemon(unix, f"127.0.0.1:{port}", elapsed)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------- the real clamd


def test_real_clamd_starts_quickly(clamd: Daemon) -> None:
    print(f"clamd answered PING {clamd.start_seconds:.2f} s after start")
    assert clamd.start_seconds < START_TIMEOUT


@pytest.mark.parametrize("transport", ["unix", "tcp"])
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (EICAR, ClamResult("found", SIGNATURE, f"stream: {SIGNATURE} FOUND")),
        (PLAIN, ClamResult("clean", "", "stream: OK")),
        (EICAR[:-1], ClamResult("clean", "", "stream: OK")),  # one byte short: another hash
    ],
)
def test_real_clamd_scan(clamd: Daemon, transport: str, data: bytes, expected: ClamResult) -> None:
    assert ClamdClient(getattr(clamd, transport)).scan(data) == expected


def test_real_clamd_detector_table(clamd: Daemon) -> None:
    msg = message(
        att("eicar.com", "text", EICAR),
        att("notes.txt", "text", PLAIN),
        att("empty.txt", "text", b""),
        att("inner.com", "text", EICAR, path="tools.zip/inner.com", depth=1),
    )
    detector = ClamavDetector(ClamdClient(clamd.unix))
    findings = detector.detect(msg)
    assert [f.evidence["attachment"] for f in findings] == ["eicar.com", "tools.zip/inner.com"]
    for f in findings:
        assert (f.id, f.detector, f.title, f.severity, f.attack) == (
            "mail.clamav",
            "mail.clamav",
            "ClamAV found malware",
            detector.severity,
            ("T1566.001",),
        )
        assert f.evidence["signature"] == SIGNATURE
        assert SIGNATURE in f.evidence["reason"]
        assert f.observables[0].value == hashlib.sha256(EICAR).hexdigest()


def test_real_clamd_sample(clamd: Daemon) -> None:
    msg = parse_message(RawMail(Origin(str(SAMPLE), 1), SAMPLE.read_bytes()))
    findings = ClamavDetector(ClamdClient(clamd.unix)).detect(msg)
    assert [(f.evidence["attachment"], f.evidence["signature"]) for f in findings] == [
        ("eicar.com", SIGNATURE)
    ]


@pytest.mark.parametrize("transport", ["unix", "tcp"])
def test_real_clamd_stream_limit(clamd: Daemon, transport: str) -> None:
    # clamd(8): past StreamMaxLength clamd answers "INSTREAM size limit exceeded" and
    # closes the connection.
    result = ClamdClient(getattr(clamd, transport)).scan(b"\0" * (2 * LIMIT))
    assert result.status == "error" and "size limit exceeded" in result.detail
    with pytest.raises(ClamdError, match="size limit exceeded"):
        ClamavDetector(ClamdClient(getattr(clamd, transport))).detect(
            message(att("big.bin", "text", b"\0" * (2 * LIMIT)))
        )


def test_real_clamd_find(clamd: Daemon, tmp_path: Path) -> None:
    absent = (str(tmp_path / "no.sock"), f"127.0.0.1:{_free_port()}")
    found = ClamdClient.find((*absent, clamd.tcp, clamd.unix))
    assert found is not None and found.address == clamd.tcp
    assert found.scan(EICAR).status == "found"


# ------------------------------------------------- stand-in daemons that misbehave
# A real clamd cannot be made to drop a stream, stall or talk nonsense on demand, so
# these small servers speak clamd(8)'s protocol and then misbehave. The well-behaved
# "clamd" mode is a stand-in for the real daemon only where it cannot run: it keeps the
# protocol tested when the real-daemon tests above skip (clamd not installed).


class _Handler(socketserver.StreamRequestHandler):
    server: _FakeServer

    def handle(self) -> None:
        command = b""
        while not command.endswith(b"\0"):
            byte = self.rfile.read(1)
            if not byte:
                return
            command += byte
        mode = self.server.mode
        if mode == "garbage":
            self.wfile.write(b"UNKNOWN COMMAND\0")
            return
        if command == b"zPING\0":
            self.wfile.write(b"PONG\0")
            return
        if command != b"zINSTREAM\0":
            self.wfile.write(b"UNKNOWN COMMAND\0")
            return
        data = bytearray()
        while True:
            head = self.rfile.read(4)
            if mode == "close":
                return  # hang up after the first chunk's length, with no reply
            if len(head) < 4:
                return
            size = int.from_bytes(head, "big")
            if size == 0:
                break
            if len(data) + size > LIMIT:
                self.wfile.write(b"INSTREAM size limit exceeded. ERROR\0")
                return
            data += self.rfile.read(size)
        if mode == "silent":
            self.server.release.wait(30)  # read everything, answer nothing
            return
        if EICAR in data:
            self.wfile.write(f"stream: {SIGNATURE} FOUND\0".encode())
        else:
            self.wfile.write(b"stream: OK\0")


class _FakeServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, mode: str) -> None:
        super().__init__(path, _Handler)
        self.mode = mode
        self.release = threading.Event()


@pytest.fixture
def fake(request: pytest.FixtureRequest) -> Iterator[str]:
    """The socket path of a stand-in daemon in the mode the test names."""
    folder = Path(tempfile.mkdtemp(prefix="fwfake-"))
    server = _FakeServer(str(folder / "clamd.sock"), request.param)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield str(folder / "clamd.sock")
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("fake", ["clamd"], indirect=True)
def test_fake_clamd_protocol(fake: str) -> None:
    client = ClamdClient.find(("/nonexistent/clamd.ctl", fake))
    assert client is not None and client.address == fake
    assert client.scan(EICAR) == ClamResult("found", SIGNATURE, f"stream: {SIGNATURE} FOUND")
    assert client.scan(PLAIN).status == "clean"
    assert client.scan(b"a" * 200_000).status == "clean"  # several chunks
    findings = ClamavDetector(client).detect(
        message(att("eicar.com", "text", EICAR), att("empty.txt", "text", b""))
    )
    assert [f.evidence["attachment"] for f in findings] == ["eicar.com"]


@pytest.mark.parametrize("fake", ["clamd"], indirect=True)
def test_huge_attachment_beyond_the_limit_is_an_error(fake: str) -> None:
    huge = b"\0" * (LIMIT * 4)
    result = ClamdClient(fake).scan(huge)
    assert result.status == "error" and "size limit exceeded" in result.detail
    # Known to the client, the limit is kept without sending anything.
    assert ClamdClient(fake, max_stream=LIMIT).scan(huge) == ClamResult(
        "error", detail=f"{len(huge)} bytes is over the stream limit {LIMIT}"
    )


@pytest.mark.parametrize("fake", ["close"], indirect=True)
def test_server_closing_mid_stream_raises(fake: str) -> None:
    with pytest.raises(ClamdError):
        ClamdClient(fake).scan(EICAR)
    with pytest.raises(ClamdError):
        ClamdClient(fake).scan(b"x" * (LIMIT // 2))


@pytest.mark.parametrize("fake", ["silent"], indirect=True)
def test_server_never_answering_times_out(fake: str) -> None:
    client = ClamdClient(fake, read_timeout=0.5)
    start = time.monotonic()
    with pytest.raises(ClamdError, match=r"in time|timed out"):
        client.scan(EICAR)
    assert time.monotonic() - start < 2


@pytest.mark.parametrize("fake", ["garbage"], indirect=True)
def test_a_reply_that_is_not_a_verdict_raises(fake: str) -> None:
    with pytest.raises(ClamdError, match="unexpected reply"):
        ClamdClient(fake).scan(EICAR)
    assert ClamdClient.find((fake,)) is None  # PING not answered with PONG


@pytest.mark.parametrize("fake", ["close"], indirect=True)
def test_a_failed_scan_holds_the_message_as_unscannable(fake: str) -> None:
    msg = message(att("eicar.com", "text", EICAR))
    result = scan_message(msg, [ClamavDetector(ClamdClient(fake))], Policy.load(None))
    assert any("mail.clamav" in reason for reason in result.verdict.unscannable)


def test_no_daemon(tmp_path: Path) -> None:
    nowhere = (str(tmp_path / "clamd.ctl"), f"127.0.0.1:{_free_port()}", "not-an-address")
    assert ClamdClient.find(nowhere) is None
    with pytest.raises(ClamdError, match="cannot connect"):
        ClamdClient(nowhere[0]).scan(EICAR)
    # Empty attachments are skipped: nothing is sent, so no daemon is needed.
    assert ClamavDetector(ClamdClient(nowhere[0])).detect(message(att("e.txt", "text"))) == []
