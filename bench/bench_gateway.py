"""Load test of ``floodwall gateway``: a steady rate of real mail over loopback SMTP.

Starts a next-hop sink (aiosmtpd, its own process) and the gateway (``python -m
floodwall gateway``, its own process with its scan workers), then sends messages drawn
from ``../shared/data/mail`` (phishing_pot and spamassassin_ham) over several client
connections at a fixed rate for a fixed time. Prints the achieved rate, the latency
from the end of DATA (the final ".") to the reply, the gateway's RSS over time, CPU
seconds per message (gateway process, its scan workers), and what became of the
messages. Asserts nothing.

    .venv/bin/python bench/bench_gateway.py --quick          # 20 s
    .venv/bin/python bench/bench_gateway.py                  # 300 s at 200 msg/s
    .venv/bin/python bench/bench_gateway.py --profile out.prof   # cProfile of the gateway
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "mail"
CORPORA = ("phishing_pot", "spamassassin_ham")
_BARE_LF = re.compile(rb"(?<!\r)\n")


def load_corpus(limit_bytes: int) -> tuple[list[bytes], dict[str, int]]:
    """Every message of the corpora, CRLF line ends and dot-stuffed for the wire."""
    messages: list[bytes] = []
    counts: dict[str, int] = {}
    for name in CORPORA:
        folder = SHARED / name
        if not folder.is_dir():
            sys.exit(f"bench_gateway: {folder} not found (the shared mail corpora)")
        n = 0
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or path.name.startswith(("LICENSE", "README")):
                continue
            data = path.read_bytes()
            if not data.strip() or len(data) > limit_bytes:
                continue
            data = _BARE_LF.sub(b"\r\n", data)
            if not data.endswith(b"\r\n"):
                data += b"\r\n"
            data = re.sub(rb"(?m)^\.", b"..", data)  # RFC 5321 §4.5.2
            messages.append(data)
            n += 1
        counts[name] = n
    return messages, counts


# -- the next hop ---------------------------------------------------------------------


def _sink_main(port: Synchronized[int], count: Synchronized[int], stop: Any) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP

    from floodwall.ingest.smtp_source import LongLineSMTP  # as Postfix: takes long lines

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with count.get_lock():
                count.value += 1
            return "250 2.0.0 Ok: queued"

    # aiosmtpd's Controller checks it is up by connecting to its port, so it needs a
    # real one: a free port picked here (nothing else on loopback races for it).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = int(probe.getsockname()[1])

    class LongLineController(Controller):
        def factory(self) -> SMTP:
            return LongLineSMTP(self.handler, **self.SMTP_kwargs)

    controller = LongLineController(Handler(), hostname="127.0.0.1", port=free)
    controller.start()
    port.value = free
    stop.wait()
    controller.stop()


# -- the client -----------------------------------------------------------------------


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)  # end of DATA -> reply, seconds
    codes: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    sent: int = 0
    behind: float = 0.0  # seconds the slowest slot started after its schedule


async def _reply(reader: asyncio.StreamReader) -> tuple[int, str]:
    lines = []
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("connection closed")
        lines.append(line.decode("latin-1").rstrip())
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3]), "\n".join(lines)


async def _connection(
    port: int, messages: list[bytes], slots: Any, results: Results, stop_at: float, index: int
) -> None:
    rng = random.Random(index)  # the same mix of messages in every run, to compare runs
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await _reply(reader)
    writer.write(b"EHLO bench.test\r\n")
    await _reply(reader)
    try:
        while True:
            slot = slots()
            if slot >= stop_at or time.perf_counter() >= stop_at:
                break  # the run lasts its time: slots it fell behind on are not sent late
            delay = slot - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                results.behind = max(results.behind, -delay)
            data = messages[rng.randrange(len(messages))]
            codes = []
            for command in (b"MAIL FROM:<bench@example.org>", b"RCPT TO:<user@example.net>",
                            b"DATA"):  # fmt: skip
                writer.write(command + b"\r\n")  # no PIPELINING: one reply at a time
                codes.append((await _reply(reader))[0])
            if codes != [250, 250, 354]:
                results.errors += 1
                writer.write(b"RSET\r\n")
                await _reply(reader)
                continue
            writer.write(data)
            writer.write(b".\r\n")
            await writer.drain()
            t0 = time.perf_counter()
            code, _ = await _reply(reader)
            results.latencies.append(time.perf_counter() - t0)
            results.codes[code] = results.codes.get(code, 0) + 1
            results.sent += 1
    finally:
        writer.write(b"QUIT\r\n")
        writer.close()


async def drive(
    port: int, messages: list[bytes], rate: float, seconds: float, conns: int
) -> Results:
    results = Results()
    start = time.perf_counter() + 0.5
    counter = iter(range(10**12))

    def slots() -> float:
        return start + next(counter) / rate

    stop_at = start + seconds
    await asyncio.gather(
        *(_connection(port, messages, slots, results, stop_at, i) for i in range(conns))
    )
    return results


# -- the gateway process --------------------------------------------------------------


class Sampler(threading.Thread):
    """RSS of the gateway process and of its whole tree, every ``every`` seconds."""

    def __init__(self, pid: int, every: float, queue: Path) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.every = every
        self.queue = queue  # the spool's queue: messages accepted, not yet finished
        self.samples: list[tuple[float, float, float, int]] = []  # t, main MB, tree MB, queued
        self.done = threading.Event()

    def run(self) -> None:
        t0 = time.monotonic()
        while not self.done.wait(self.every):
            try:
                main = self.proc.memory_info().rss
                tree = main + sum(c.memory_info().rss for c in self.proc.children(recursive=True))
            except psutil.Error:
                return
            queued = sum(1 for _ in self.queue.iterdir()) if self.queue.is_dir() else 0
            self.samples.append((time.monotonic() - t0, main / 2**20, tree / 2**20, queued))

    def cpu(self) -> tuple[float, float, float]:
        """CPU seconds of the gateway process (user, system) and of its children now,
        those still running and those it has reaped (recycled scan workers)."""
        t = self.proc.cpu_times()
        kids = t.children_user + t.children_system
        for c in self.proc.children(recursive=True):
            with_times = c.cpu_times()
            kids += with_times.user + with_times.system
        return t.user, t.system, kids


def start_gateway(
    data: Path, relay_port: int, workers: int, profile: str | None
) -> tuple[subprocess.Popen[bytes], int]:
    cmd = [sys.executable]
    if profile:
        cmd += ["-m", "cProfile", "-o", profile]
    cmd += ["-m", "floodwall", "gateway", "--listen", "127.0.0.1:0", "--relay",
            f"127.0.0.1:{relay_port}", "--data", str(data), "--workers", str(workers),
            "--log-level", "WARNING", "--max-queue", "100000"]  # fmt: skip
    err = (data / "gateway.stderr").open("wb")
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=err)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", line)
    if m is None:
        proc.kill()
        sys.exit(f"gateway did not start: {(data / 'gateway.stderr').read_text()[-2000:]}")
    return proc, int(m.group(1))


def store_counts(data: Path) -> dict[str, int]:
    conn = sqlite3.connect(data / "floodwall.db")
    try:
        rows = conn.execute(
            "SELECT verdict, COUNT(*) FROM messages WHERE source = 'gateway' GROUP BY verdict"
        ).fetchall()
        held = conn.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0]
    finally:
        conn.close()
    return {**{str(v): int(n) for v, n in rows}, "held": int(held)}


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seconds", type=float, default=300.0)
    ap.add_argument("--rate", type=float, default=200.0, help="messages per second offered")
    ap.add_argument("--quick", action="store_true", help="20 seconds")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2, help="gateway scan processes")
    ap.add_argument("--max-message", type=int, default=2 << 20, help="skip larger corpus files")
    ap.add_argument("--profile", metavar="FILE", help="run the gateway under cProfile")
    ap.add_argument("--workdir", type=Path, help="keep the data directory here")
    args = ap.parse_args()
    seconds = 20.0 if args.quick else args.seconds

    messages, counts = load_corpus(args.max_message)
    sizes = [len(m) for m in messages]
    mix = ", ".join(f"{k} {v:,}" for k, v in counts.items())
    median, mean = statistics.median(sizes) / 1024, statistics.mean(sizes) / 1024
    print(f"corpus: {len(messages):,} messages ({mix}), median {median:.1f} KiB,"
          f" mean {mean:.1f} KiB")  # fmt: skip

    ctx = multiprocessing.get_context("spawn")
    sink_port, sink_count, sink_stop = ctx.Value("i", 0), ctx.Value("q", 0), ctx.Event()
    sink = ctx.Process(target=_sink_main, args=(sink_port, sink_count, sink_stop), daemon=True)
    sink.start()
    while not sink_port.value:
        if not sink.is_alive():
            sys.exit("bench_gateway: the next-hop sink did not start")
        time.sleep(0.05)

    tmp = tempfile.TemporaryDirectory(prefix="bench-gateway-")
    data = args.workdir or Path(tmp.name)
    data.mkdir(parents=True, exist_ok=True)
    gateway, port = start_gateway(data, sink_port.value, args.workers, args.profile)
    sampler = Sampler(
        gateway.pid, every=min(10.0, max(1.0, seconds / 30)), queue=data / "spool" / "queue"
    )
    sampler.start()
    bench_cpu0 = time.process_time()
    sink_cpu0 = psutil.Process(sink.pid).cpu_times()
    print(f"offering {args.rate:g} msg/s for {seconds:g} s over {args.connections} connections;"
          f" gateway pid {gateway.pid}, {args.workers} scan worker(s)", flush=True)  # fmt: skip

    cpu0 = sampler.cpu()  # from here on: start-up (imports, store, workers) not counted
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    results = asyncio.run(drive(port, messages, args.rate, seconds, args.connections))
    load1 = os.getloadavg()[0]
    wall = time.perf_counter() - t0 - 0.5
    main_user, main_sys, worker_cpu = (b - a for a, b in zip(cpu0, sampler.cpu(), strict=True))
    main_cpu = main_user + main_sys
    # Let the spool drain, then stop the gateway cleanly.
    queue = data / "spool" / "queue"
    deadline = time.monotonic() + 120
    while any(queue.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = sum(1 for _ in queue.iterdir())
    sampler.done.set()
    gateway.send_signal(signal.SIGTERM)
    gateway.wait(120)
    sink_cpu1 = psutil.Process(sink.pid).cpu_times()
    sink_stop.set()
    sink.join(10)
    bench_cpu = time.process_time() - bench_cpu0
    sink_cpu = (sink_cpu1.user + sink_cpu1.system) - (sink_cpu0.user + sink_cpu0.system)

    accepted = results.codes.get(250, 0)
    print()
    print(f"sent {results.sent:,} in {wall:.1f} s: {results.sent / wall:.1f} msg/s achieved"
          f" (offered {args.rate:g}, {args.rate * seconds:,.0f} in {seconds:g} s); slowest"
          f" slot {results.behind:.2f} s late")  # fmt: skip
    print(f"machine load average (1 min): {load0:.2f} at the start, {load1:.2f} at the end"
          f" ({os.cpu_count()} CPUs; this run itself adds about 1.5)")  # fmt: skip
    print("replies: " + ", ".join(f"{c}: {n:,}" for c, n in sorted(results.codes.items()))
          + f"; protocol errors {results.errors}")  # fmt: skip
    lat = [x * 1000 for x in results.latencies]
    print(f"latency end of DATA -> reply: p50 {pct(lat, 50):.1f} ms, p90 {pct(lat, 90):.1f} ms,"
          f" p99 {pct(lat, 99):.1f} ms, max {max(lat, default=float('nan')):.1f} ms")  # fmt: skip
    verdicts = store_counts(data)
    print(f"store: {', '.join(f'{k} {v:,}' for k, v in sorted(verdicts.items()))};"
          f" next hop got {sink_count.value:,}; spool left {left}")  # fmt: skip
    # Every 250 must end at the next hop or in quarantine (a 550 was never accepted).
    lost = accepted - sink_count.value - verdicts["held"]
    print(f"lost: {lost:,} (accepted {accepted:,} = next hop {sink_count.value:,}"
          f" + quarantine {verdicts['held']:,} + still spooled {left})")  # fmt: skip
    n = max(results.sent, 1)
    print(f"CPU s per message: gateway process {main_cpu / n * 1000:.2f} ms"
          f" ({main_sys / n * 1000:.2f} ms of it in the kernel),"
          f" scan workers {worker_cpu / n * 1000:.2f} ms, sink {sink_cpu / n * 1000:.2f} ms,"
          f" client {bench_cpu / n * 1000:.2f} ms"
          f" (gateway total {(main_cpu + worker_cpu) / wall:.2f} cores)")  # fmt: skip
    print("RSS (MB) of the gateway: t, main process, with scan workers; spooled messages")
    samples = sampler.samples
    step = max(1, len(samples) // 12)
    for t, main_mb, tree_mb, queued in samples[::step]:
        print(f"  {t:6.0f} s  {main_mb:7.1f}  {tree_mb:7.1f}  {queued:7,}")
    if samples:
        picks = (samples[0], samples[len(samples) // 2], samples[-1])
        print("RSS with workers (MB): start {:.1f}, mid {:.1f}, end {:.1f}".format(
              *(p[2] for p in picks)))  # fmt: skip
    if len(samples) >= 4:
        q = len(samples) // 4
        first = statistics.mean(s[2] for s in samples[q : 2 * q])
        last = statistics.mean(s[2] for s in samples[3 * q :])
        print(f"RSS with workers, 2nd quarter mean {first:.1f} MB -> last quarter mean"
              f" {last:.1f} MB ({last - first:+.1f} MB)")  # fmt: skip
    if args.profile:
        print(f"profile of the gateway process: {args.profile}")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
