"""The scan worker's side: a process that builds the detectors once, then scans the
messages the gateway sends it over a socket (``ScanPool`` in ``scan_pool.py`` is the
gateway's side), each within its time limit.

A scan that runs past its time is interrupted inside the worker (SIGALRM, repeating, so
each remaining detector fails fast) and the message becomes unscannable.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
import signal
import socket
import struct
import threading
import time
from dataclasses import dataclass
from types import FrameType

from floodwall.detect.mail.clamd import ClamdClient
from floodwall.detect.mail.reference import load_psl
from floodwall.enrich.mail_auth import (
    SenderVerifier,
    authenticated,
    build_verifier,
    session_envelope,
)
from floodwall.ingest.mail_source import RawMail
from floodwall.mail.detectors import build_detectors
from floodwall.mail.domain_feed import DomainFeed
from floodwall.mail.scan import MailDetector, ScanResult, scan_message
from floodwall.normalize.mime import parse_message
from floodwall.records import MailMessage, Origin
from floodwall.respond.policy import Policy
from floodwall.settings import Settings
from floodwall.store.db import open_store

__all__ = [
    "FRAME",
    "ScanConfig",
    "SmtpSession",
    "WorkerState",
    "build_worker",
    "scan_one",
    "serve",
    "unscannable_result",
]

#: What the SMTP session told: the client's address, MAIL FROM and HELO (RFC 5321 §2.3.1).
SmtpSession = tuple[str, str, str]


@dataclass(frozen=True)
class ScanConfig:
    """What a worker needs to build its detectors: passed in, never read from a global."""

    settings: Settings
    policy: Policy
    use_clamd: bool = True
    timeout: float = 60.0  # seconds one message may take
    use_intel: bool = True  # match messages against the imported threat intel
    # the store's history of domains named in mail, for mail.newly_seen_domain
    use_history: bool = False


class ScanTimeout(Exception):
    """Raised in a worker by SIGALRM when a scan runs past its time."""


@dataclass(frozen=True)
class WorkerState:
    detectors: list[MailDetector]
    policy: Policy
    timeout: float
    use_alarm: bool
    verifier: SenderVerifier  # SPF, DKIM, DMARC ([mail] dns)
    domains: DomainFeed | None = None  # mail.newly_seen_domain's history, kept current


def build_worker(config: ScanConfig, use_alarm: bool) -> WorkerState:
    clamd = ClamdClient.find() if config.use_clamd else None
    feed = None
    if config.use_history:
        # Its own connection: it writes its sightings in batches (``DomainFeed.tick``).
        feed = DomainFeed.open(open_store(config.settings.data_dir), load_psl(), time.time())
    detectors = build_detectors(config.settings, clamd, feed.history if feed else None)
    # Threat intel (issue 4): each worker loads the matcher once, from the compact cache.
    from floodwall.enrich.intel.inline import IntelMailDetector
    from floodwall.enrich.intel.loading import load_run_intel

    if config.use_intel and (matcher := load_run_intel(config.settings)) is not None:
        detectors.append(IntelMailDetector(matcher))
    verifier = build_verifier(config.settings.mail_dns, load_psl)
    verifier.probe()  # a resolver down from the start fails lookups at once, not by timeout
    return WorkerState(detectors, config.policy, config.timeout, use_alarm, verifier, feed)


def _watch_parent(parent: int) -> None:
    # A worker holds both ends of its task pipe, so it never sees EOF when the gateway
    # is killed (kill -9, OOM): it would wait for work forever. It leaves instead.
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _init_worker(config: ScanConfig) -> WorkerState:
    # Ctrl-C reaches the whole process group: the parent finishes in-flight work and
    # then stops the pool, so the workers must not die first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    return build_worker(config, use_alarm=True)


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise ScanTimeout("scan took too long")


def _slim(result: ScanResult) -> ScanResult:
    """The result without attachment bytes and body text, which nothing after the scan
    reads: only this crosses back from the worker."""
    msg = result.message
    attachments = tuple(dataclasses.replace(a, data=b"") for a in msg.attachments)
    slim = dataclasses.replace(msg, attachments=attachments, text="", html="")
    return dataclasses.replace(result, message=slim)


def scan_one(
    state: WorkerState, raw: bytes, path: str, session: SmtpSession | None = None
) -> ScanResult:
    if state.domains is not None:
        state.domains.tick(time.time())
    if state.use_alarm:
        signal.signal(signal.SIGALRM, _on_alarm)
        # Repeats each second after the first expiry: every detector still to run then
        # fails at once, and scan_message records each failure as unscannable.
        signal.setitimer(signal.ITIMER_REAL, state.timeout, 1.0)
    try:
        message = parse_message(RawMail(Origin(path, 1), raw))
        if session is not None:  # sender authentication, within the scan's time limit
            message = authenticated(
                message, raw, state.verifier, lambda m: session_envelope(m, *session)
            )
        result = scan_message(message, state.detectors, state.policy)
        # Mail that came over SMTP (not the pool's warm-up probe) goes into the history:
        # the next message of a campaign finds its domains seen.
        if state.domains is not None and session is not None:
            state.domains.saw(message, time.time())
        return _slim(result)
    except ScanTimeout:
        return unscannable_result(raw, path, state.policy, "scan took too long")
    finally:
        if state.use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)


# -- the worker's side of its socket ---------------------------------------------------
# Each frame is an 8-byte length and a pickle. Requests are (raw, path, session); replies are
# (True, ScanResult) or (False, "what went wrong"); an empty frame says "ready".
FRAME = struct.Struct("!Q")


def _recv_exactly(sock: socket.socket, size: int) -> bytearray | None:
    buf = bytearray(size)
    view, got = memoryview(buf), 0
    while got < size:
        n = sock.recv_into(view[got:])
        if not n:
            return None  # the gateway closed its end, or died
        got += n
    return buf


def serve(sock: socket.socket, config: ScanConfig) -> None:
    """A scan worker process: build the detectors, say "ready", then scan until EOF."""
    state = _init_worker(config)
    sock.sendall(FRAME.pack(0))
    while (head := _recv_exactly(sock, FRAME.size)) is not None:
        body = _recv_exactly(sock, FRAME.unpack(head)[0])
        if body is None:
            break
        raw, path, session = pickle.loads(body)
        reply: tuple[bool, ScanResult | str]
        try:
            reply = (True, scan_one(state, raw, path, session))
        except Exception as exc:
            reply = (False, f"{type(exc).__name__}: {exc}")
        data = pickle.dumps(reply, pickle.HIGHEST_PROTOCOL)
        sock.sendall(FRAME.pack(len(data)) + data)
    if state.domains is not None:
        state.domains.flush()
    sock.close()


def unscannable_result(raw: bytes, path: str, policy: Policy, reason: str) -> ScanResult:
    """A result for a message whose scan could not finish: unscannable, held by default."""
    message = MailMessage(
        origin=Origin(path, 1),
        message_id="",
        sha256=hashlib.sha256(raw).hexdigest(),
        headers=(),
        from_addr="",
        from_name="",
        unscannable=(reason,),
    )
    return ScanResult(message, (), policy.decide([], [reason]))
