"""The mail benchmark's peer: Debian's rspamd, loopback only, every network check off.

A private rspamd runs from a temporary directory: its own top-level ``rspamd.conf``
(one ``normal`` worker group on a free ``127.0.0.1`` port; no controller, proxy or
fuzzy worker) over Debian's stock ``/etc/rspamd`` modules, with ``LOCAL_CONFDIR``,
``DBDIR``, ``RUNDIR`` and ``LOGDIR`` pointed into the temporary directory. Everything
else is rspamd's shipped default. What is switched off, and why:

- Modules that query the network: ``fuzzy_check`` (UDP to fuzzy*.rspamd.com),
  ``dkim``, ``spf``, ``dmarc``, ``arc`` (DNS keys and policies), ``rbl`` (DNS
  blocklists, and the SURBL/URIBL rules that rspamd 3 folds into it), ``emails`` and
  ``asn`` (DNS), ``whitelist`` (it only acts on the DKIM/SPF/DMARC results above) and
  ``multimap`` (its only stock rules are the freemail/disposable lists fetched from
  maps.rspamd.com). ``hfilter`` keeps its local checks; its ``helo``, ``hostname`` and
  ``from`` checks resolve names, so they are off. ``phishing`` keeps its local
  link-text check; PhishTank (DNS) and OpenPhish (HTTP) are off.
- No Redis is configured, so the modules that need it stay off by themselves: the
  Bayes classifier (its backend is Redis in rspamd 3), ``neural``, ``ratelimit``,
  ``greylist``, ``replies``, ``reputation``, ``url_redirector``, ``history_redis``.
- rspamd's resolver points at a UDP socket of ours on loopback that never answers and
  counts what arrives: any query left over is reported, and none leaves the machine.

Messages go to ``/checkv2`` over HTTP on loopback, as raw bytes with no envelope
(no client IP, HELO, MAIL FROM or RCPT): the same input ``floodwall mail scan`` gets.
The CPU time is that of rspamd's processes only (main, workers, hs_helper), summed
with psutil before and after a corpus; the client's time is not counted.

Usage::

    python bench/rspamd_peer.py PATH ... [--limit N]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import psutil

NOT_INSTALLED = "rspamd not installed: apt-get install rspamd"
#: rspamd's actions, mildest first. "Flagged" is every action but "no action".
ACTIONS = ("no action", "greylist", "add header", "rewrite subject", "soft reject", "reject")
NETWORK_MODULES = (
    "fuzzy_check", "dkim", "spf", "dmarc", "arc", "rbl", "emails", "asn", "whitelist",
    "multimap", "once_received",
)  # fmt: skip
WORKERS = 2  # the machine's cores: rspamd's default worker count is one per CPU
CLIENTS = 2  # requests in flight, one per worker

TOP_CONF = """\
# Floodwall benchmark: Debian's stock modules, one normal worker group on loopback.
.include "$CONFDIR/common.conf"
options {{
    pidfile = "$RUNDIR/rspamd.pid";
    .include "$CONFDIR/options.inc"
    .include(try=true; priority=10) "$LOCAL_CONFDIR/override.d/options.inc"
}}
logging {{
    type = "file";
    filename = "$LOGDIR/rspamd.log";
    .include "$CONFDIR/logging.inc"
}}
worker "normal" {{
    bind_socket = "127.0.0.1:{port}";
    .include "$CONFDIR/worker-normal.inc"
    count = {workers};
}}
"""


def rspamd_binary() -> str | None:
    """The rspamd daemon, if Debian's package (or another) is installed."""
    return shutil.which("rspamd") or next(
        (p for p in ("/usr/bin/rspamd", "/usr/sbin/rspamd") if os.access(p, os.X_OK)), None
    )


def version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).strip().splitlines()[0] if out.stdout or out.stderr else "?"


def offline_overrides(dns_port: int) -> dict[str, str]:
    """``override.d`` files (relative path -> text) that take rspamd off the network."""
    files = {f"{m}.conf": "enabled = false;\n" for m in NETWORK_MODULES}
    files["hfilter.conf"] = (
        "helo_enabled = false;\nhostname_enabled = false;\nfrom_enabled = false;\n"
    )
    files["phishing.conf"] = (
        "phishtank_enabled = false;\nopenphish_enabled = false;\n"
        "exceptions = {\n"
        '  REDIRECTOR_FALSE = ["${CONFDIR}/maps.d/redirectors.inc"];\n'
        "};\n"
    )
    # Stock maps whose first source is maps.rspamd.com: the packaged copy only.
    files["mime_types.conf"] = 'file = ["${CONFDIR}/maps.d/mime_types.inc"];\n'
    files["mid.conf"] = 'source = {\n  url = ["${CONFDIR}/maps.d/mid.inc"];\n}\n'
    # The resolver: our silent counter on loopback, one short try per query.
    files["options.inc"] = (
        f'dns {{\n  nameserver = ["127.0.0.1:{dns_port}"];\n'
        "  timeout = 0.2s;\n  retransmits = 0;\n}\n"
    )
    return files


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def qname(packet: bytes) -> str:
    """The first question's name in a DNS query (RFC 1035 4.1.2), or "?" if malformed."""
    labels: list[str] = []
    at = 12  # the question follows the 12-byte header
    while at < len(packet) and packet[at] and len(labels) < 128:
        end = at + 1 + packet[at]
        labels.append(packet[at + 1 : end].decode("ascii", "replace"))
        at = end
    return ".".join(labels) or "?"


class DnsCounter:
    """A UDP socket on loopback that counts DNS queries and never answers them."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.names: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                packet = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.names[qname(packet)] += 1

    @property
    def queries(self) -> int:
        return sum(self.names.values())

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@dataclass(frozen=True)
class PeerVerdict:
    """rspamd's answer for one message."""

    path: str
    action: str
    score: float
    symbols: tuple[str, ...]  # symbols with a non-zero score

    @property
    def is_flagged(self) -> bool:
        return self.action != "no action"


@dataclass
class PeerRun:
    """One corpus through rspamd."""

    verdicts: list[PeerVerdict] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Messages per CPU-second of rspamd's processes."""
        return len(self.verdicts) / self.cpu_seconds if self.cpu_seconds else 0.0

    @property
    def flagged(self) -> int:
        return sum(v.is_flagged for v in self.verdicts)

    def actions(self) -> Counter[str]:
        return Counter(v.action for v in self.verdicts)


class RspamdPeer:
    """A private rspamd on loopback for the length of a ``with`` block."""

    def __init__(self, binary: str, *, workers: int = WORKERS, start_timeout: float = 180.0):
        self.binary = binary
        self.workers = workers
        self.start_timeout = start_timeout
        self.port = free_port()
        self.dns = DnsCounter()
        self.root = Path(tempfile.mkdtemp(prefix="fw-rspamd-"))
        self.log = self.root / "log" / "rspamd.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start_seconds = 0.0

    def _write_config(self) -> list[str]:
        for sub in ("local/override.d", "db", "run", "log"):
            (self.root / sub).mkdir(parents=True)
        (self.root / "rspamd.conf").write_text(
            TOP_CONF.format(port=self.port, workers=self.workers)
        )
        for name, text in offline_overrides(self.dns.port).items():
            (self.root / "local" / "override.d" / name).write_text(text)
        args = [
            self.binary, "-f", "-c", str(self.root / "rspamd.conf"),
            f"--var=LOCAL_CONFDIR={self.root / 'local'}", f"--var=DBDIR={self.root / 'db'}",
            f"--var=RUNDIR={self.root / 'run'}", f"--var=LOGDIR={self.root / 'log'}",
        ]  # fmt: skip
        if os.geteuid() == 0:
            # rspamd refuses to run its workers as root; Debian's package adds _rspamd.
            import grp
            import pwd

            user = pwd.getpwnam("_rspamd")
            group = grp.getgrgid(user.pw_gid)
            os.chmod(self.root, 0o755)
            for sub in ("db", "run", "log"):
                os.chown(self.root / sub, user.pw_uid, user.pw_gid)
            args += ["-u", user.pw_name, "-g", group.gr_name]
        return args

    def __enter__(self) -> RspamdPeer:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        args = self._write_config()
        started = time.perf_counter()
        with (self.root / "stderr.txt").open("wb") as err:
            self.proc = subprocess.Popen(args, stdout=err, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.start_timeout
        while not self._is_pong():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"rspamd did not start:\n{self.tail()}")
            time.sleep(0.2)
        # rspamd compiles its Hyperscan database in hs_helper after the workers answer;
        # wait until the whole tree is idle so start-up work is not billed to a corpus.
        self._wait_idle(deadline)
        self.start_seconds = time.perf_counter() - started

    def _is_pong(self) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            conn.request("GET", "/ping")
            body = conn.getresponse().read()
            conn.close()
        except OSError:
            return False
        return body.strip() == b"pong"

    def _processes(self) -> list[psutil.Process]:
        assert self.proc is not None
        root = psutil.Process(self.proc.pid)
        return [root, *root.children(recursive=True)]

    def cpu_seconds(self) -> dict[int, float]:
        """User + system CPU seconds of every rspamd process now, by pid."""
        seconds: dict[int, float] = {}
        for p in self._processes():
            try:
                t = p.cpu_times()
            except psutil.Error:
                continue
            seconds[p.pid] = t.user + t.system + t.children_user + t.children_system
        return seconds

    def _wait_idle(self, deadline: float, window: float = 1.0) -> None:
        before = sum(self.cpu_seconds().values())
        while time.monotonic() < deadline:
            time.sleep(window)
            now = sum(self.cpu_seconds().values())
            if now - before < 0.03 * window:
                return
            before = now

    def check(self, path: Path) -> PeerVerdict:
        """One message through ``/checkv2``."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request("POST", "/checkv2", body=path.read_bytes())
            reply = conn.getresponse()
            body = reply.read()
        finally:
            conn.close()
        if reply.status != 200:
            raise RuntimeError(f"HTTP {reply.status}: {body[:200]!r}")
        result = json.loads(body)
        symbols = tuple(
            sorted(n for n, s in result.get("symbols", {}).items() if s.get("score", 0.0))
        )
        return PeerVerdict(str(path), str(result["action"]), float(result["score"]), symbols)

    def scan(self, files: Sequence[Path], clients: int = CLIENTS) -> PeerRun:
        """Every file through rspamd, ``clients`` at a time; rspamd's CPU time around it."""
        run = PeerRun()
        before = self.cpu_seconds()
        started = time.perf_counter()

        def one(path: Path) -> PeerVerdict | str:
            try:
                return self.check(path)
            except (OSError, RuntimeError, ValueError, KeyError) as exc:
                return f"{type(exc).__name__}: {str(exc)[:80]}"

        with ThreadPoolExecutor(clients) as pool:
            for outcome in pool.map(one, files):
                if isinstance(outcome, PeerVerdict):
                    run.verdicts.append(outcome)
                else:
                    run.errors[outcome] += 1
        run.wall_seconds = time.perf_counter() - started
        after = self.cpu_seconds()
        run.cpu_seconds = sum(t - before.get(pid, 0.0) for pid, t in after.items())
        return run

    def tail(self, lines: int = 20) -> str:
        texts = []
        for f in (self.root / "stderr.txt", self.log):
            if f.exists():
                texts += f.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(texts)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.dns.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def corpus_files(corpus: Path, limit: int | None = None) -> list[Path]:
    """The messages of a corpus folder, as ``bench_mail.py`` picks them."""
    return sorted(
        p
        for p in corpus.rglob("*")
        if p.is_file() and not p.name.startswith((".", "LICENSE", "README"))
    )[:limit]


def describe() -> str:
    """One line on what the peer runs with."""
    return (
        f"network modules off: {', '.join(NETWORK_MODULES)}; hfilter helo/hostname/from off; "
        "phishtank/openphish off; no Redis (Bayes, neural, ratelimit, greylist, replies, "
        "reputation off)"
    )


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, help="corpus folders")
    parser.add_argument("--limit", type=int, help="messages per folder (default: all)")
    args = parser.parse_args(None if argv is None else list(argv))
    binary = rspamd_binary()
    if binary is None:
        print(NOT_INSTALLED, file=sys.stderr)
        return 2
    with RspamdPeer(binary) as peer:
        print(f"{version(binary)}, started in {peer.start_seconds:.1f} s; {describe()}")
        for path in args.paths:
            run = peer.scan(corpus_files(path, args.limit))
            print(
                f"{path.name:24} {len(run.verdicts):6,} flagged {run.flagged:6,} "
                f"{run.rate:8,.1f} msg/CPU-s  {dict(run.actions())}  errors {dict(run.errors)}"
            )
        print(f"DNS queries rspamd sent to the loopback counter: {dict(peer.dns.names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
