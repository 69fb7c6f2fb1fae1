"""Fill a Floodwall data directory with the bundled samples, through the real pipeline.

1. ``floodwall hunt`` over the bundled attack logs (OTRF Security-Datasets, MIT).
2. ``floodwall intel import`` of the threat-intel samples in ``../shared/data`` (when
   present): ESET's MISP events and the STIX 2.1 examples.
3. Mail through ``floodwall gateway`` over loopback SMTP, with a loopback sink as the
   next hop: the harmless attack samples in ``tests/samples/detect/mail`` (one per
   detector: EICAR, macros, HTML smuggling, remote template, lookalike sender, ...)
   and, when ``../shared/data`` is present, real phishing (``phishing_pot``) and real ham
   (``spamassassin_ham``). Held mail lands in the quarantine; the rest reaches the sink.

Usage: ``python scripts/demo_load.py DATA_DIR [--phishing N] [--ham N]``. Prints what it did.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import smtplib
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
FLOODWALL = [sys.executable, "-m", "floodwall"]
RECIPIENTS = ("alice@corp.example", "bob@corp.example", "ceo@corp.example", "it@corp.example")


def floodwall(data: Path, *args: str) -> int:
    env = {**os.environ, "FLOODWALL_DATA": str(data)}
    done = subprocess.run([*FLOODWALL, *args], env=env, stdout=subprocess.DEVNULL, check=False)
    return done.returncode


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sink:
    """The next hop: an SMTP server on loopback that counts what it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import SMTP

        from floodwall.ingest.smtp_source import LongLineSMTP

        class LongLineController(Controller):
            def factory(self) -> SMTP:  # real mail has long lines: take them, as Postfix does
                return LongLineSMTP(self.handler, **self.SMTP_kwargs)

        self.count = 0
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = LongLineController(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.count += 1
        return "250 OK"

    def __enter__(self) -> Sink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def mail_files(phishing: int, ham: int) -> list[Path]:
    files = sorted((ROOT / "tests" / "samples" / "detect" / "mail").glob("*/sample.eml"))
    for corpus, limit in (("phishing_pot", phishing), ("spamassassin_ham", ham)):
        folder = SHARED / "mail" / corpus
        if folder.is_dir():
            # message files only: phishing_pot's are *.eml, the ham corpus's start with digits
            files += sorted(
                p for p in folder.iterdir() if p.suffix == ".eml" or p.name[:1].isdigit()
            )[:limit]
    return files


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"the gateway stopped at start-up (exit {proc.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the gateway did not start listening within a minute")


def messages_done(data: Path) -> int:
    db = data / "floodwall.db"
    if not db.exists():
        return 0
    with sqlite3.connect(db, timeout=30) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0])


def send_mail(data: Path, files: list[Path]) -> tuple[int, int, int]:
    """Send ``files`` through a gateway; returns (accepted by it, refused, reached sink)."""
    env = {**os.environ, "FLOODWALL_DATA": str(data)}
    accepted = refused = 0
    with Sink() as sink:
        port = free_port()
        log = (data / "demo-gateway.log").open("wb")
        gateway = subprocess.Popen(
            [*FLOODWALL, "gateway", "--listen", f"127.0.0.1:{port}",
             "--relay", f"127.0.0.1:{sink.port}", "--data", str(data), "--workers", "1"],
            env=env, stdout=log, stderr=log,
        )  # fmt: skip
        try:
            wait_for_port(port, gateway)
            with smtplib.SMTP("127.0.0.1", port, timeout=120) as smtp:
                for i, path in enumerate(files):
                    rcpt = [RECIPIENTS[i % len(RECIPIENTS)]]
                    if i % 7 == 0:  # some messages go to two people: counted per recipient
                        rcpt.append(RECIPIENTS[(i + 1) % len(RECIPIENTS)])
                    try:
                        # Lines end in CRLF on the wire (RFC 5321 §2.3.8), as an MTA
                        # sends them; smtplib leaves a bytes message's bare LFs as
                        # they are, and a file stored with LF would be one long line.
                        raw = re.sub(rb"\r?\n", b"\r\n", path.read_bytes())
                        smtp.sendmail("sender@outside.example", rcpt, raw)
                        accepted += 1
                    except smtplib.SMTPResponseException as exc:
                        refused += 1  # rejected by policy (550 with a reference)
                        if exc.smtp_code != 550:  # anything but a policy reject is news
                            print(f"    {path}: {exc.smtp_code} {exc.smtp_error[:80]!r}")
                        smtp.rset()
            # Delivery to the next hop runs after the 250; give it time to drain.
            end = time.monotonic() + 120
            while time.monotonic() < end and messages_done(data) < accepted + refused:
                time.sleep(0.5)
            time.sleep(2)
        finally:
            gateway.send_signal(signal.SIGTERM)
            try:
                gateway.wait(60)
            except subprocess.TimeoutExpired:
                gateway.kill()
            log.close()
        return accepted, refused, sink.count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--phishing", type=int, default=300, help="real phishing messages")
    parser.add_argument("--ham", type=int, default=100, help="real ham messages")
    args = parser.parse_args()
    data: Path = args.data.resolve()
    data.mkdir(parents=True, exist_ok=True)

    config = data / "floodwall.toml"
    if not config.exists():
        # Origins are domestic or abroad only against a home country: the demo says
        # Germany (change it here, or in your own data directory's floodwall.toml).
        config.write_text('[origin]\nhome_country = "DE"\n', encoding="utf-8")
        print(f"home country for the demo: DE ({config})")
    print("1/3 hunting the bundled attack logs ...", flush=True)
    floodwall(data, "hunt", "--format", "jsonl", "--min-level", "low",
              str(ROOT / "floodwall" / "data" / "samples" / "logs"))  # fmt: skip
    print("2/3 importing threat-intel samples ...", flush=True)
    feeds = [SHARED / "threat_intel" / n for n in ("misp_events_eset", "stix21_examples")]
    feeds = [f for f in feeds if f.is_dir()]
    if feeds:
        floodwall(data, "intel", "import", *map(str, feeds))
    else:
        print("    ../shared/data/threat_intel is absent: no intel loaded")
    files = mail_files(args.phishing, args.ham)
    print(f"3/3 sending {len(files)} messages through the gateway ...", flush=True)
    accepted, refused, delivered = send_mail(data, files)
    print(f"    {accepted} accepted by the gateway, {refused} rejected, {delivered} reached the "
          "next hop; the rest are in the quarantine")  # fmt: skip
    print("grouping alerts and mail that share infrastructure into campaigns ...", flush=True)
    floodwall(data, "campaigns", "build")
    return 0


if __name__ == "__main__":
    sys.exit(main())
