"""Floodwall behind Debian's Postfix as an after-queue content filter.

The chain, all on loopback:

    client -> postfix smtpd (queue) -> floodwall gateway -> postfix smtpd on the
    reinjection port (no filter) -> postfix smtp -> next-hop sink

This is Postfix's "advanced content filter" (FILTER_README, "Advanced content filter:
SMTP"): ``content_filter = floodwall:[127.0.0.1]:PORT`` sends every queued message to the
gateway, which relays what it accepts to a second smtpd started with
``-o content_filter=`` so the message is not filtered twice. Postfix keeps the message in
its own queue until the gateway answers ``250``, so a ``451`` from the gateway only
defers it (FILTER_README: "the filter ... must not lose mail").

Postfix runs from its own configuration directory (``postfix -c DIR``) with its own
queue, on free unprivileged ports. Its master process must start as root (it drops to
``mail_owner`` for its daemons); where the test does not run as root, or Debian's
postfix is not installed, it is skipped with the reason.
"""

from __future__ import annotations

import os
import pwd
import shutil
import smtplib
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from gw_util import InProcessGateway, Sink, ham, sample

from floodwall.respond.policy import Policy

pytestmark = pytest.mark.timeout(180)

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"

# EICAR (in ``clamav``'s sample) is held: a dangerous attachment quarantines here
# whatever the shipped weights become.
POLICY = """
[thresholds]
tag = 4.0
quarantine = 8.0
reject = 100.0
[unscannable]
action = "quarantine"
[weights]
"mail.dangerous_attachment" = 10.0
[severity_weights]
informational = 0.0
low = 0.0
medium = 0.0
high = 0.0
critical = 0.0
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
mail_owner = postfix
setgid_group = postdrop
myhostname = pf.test
mydomain = pf.test
myorigin = pf.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains = example.net
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
alias_maps =
alias_database =
local_recipient_maps =
biff = no
append_dot_mydomain = no
# Every message queued by the public smtpd goes through Floodwall (FILTER_README).
content_filter = floodwall:[127.0.0.1]:{gateway}
# Then to the sink: an address literal, so no DNS lookup at all.
default_transport = smtp:[127.0.0.1]:{sink}
relay_transport = smtp:[127.0.0.1]:{sink}
smtp_dns_support_level = disabled
smtp_tls_security_level = none
smtpd_tls_security_level = none
# Retry deferred mail within seconds, not minutes: the test waits for it.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
"""

MASTER_CF = """\
{inbound} inet n - n - - smtpd
floodwall unix - - n - 4 smtp
  -o smtp_send_xforward_command=yes
  -o disable_mime_output_conversion=yes
127.0.0.1:{reinject} inet n - n - - smtpd
  -o content_filter=
  -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_milters
  -o smtpd_helo_restrictions=
  -o smtpd_client_restrictions=
  -o smtpd_sender_restrictions=
  -o smtpd_relay_restrictions=permit_mynetworks,reject
  -o smtpd_recipient_restrictions=permit_mynetworks,reject
  -o mynetworks=127.0.0.0/8
  -o smtpd_authorized_xforward_hosts=127.0.0.0/8
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def why_postfix_cannot_run() -> str | None:
    """The reason the test must skip, or None."""
    if not os.access(POSTFIX, os.X_OK):
        return "Debian's postfix is not installed (scripts/test installs it as root)"
    if os.geteuid() != 0:
        return "postfix's master must start as root (it then drops to mail_owner)"
    try:
        pwd.getpwnam("postfix")
    except KeyError:
        return "the postfix user is missing (the package creates it)"
    return None


class Postfix:
    """A private Postfix instance: its own config directory, queue and ports."""

    def __init__(self, gateway_port: int, sink_port: int, reinject: int) -> None:
        # Not under pytest's tmp_path: that is 0700 and Postfix's unprivileged daemons
        # (mail_owner) must reach the queue and data directories.
        self.root = Path(tempfile.mkdtemp(prefix="fw-postfix-"))
        os.chmod(self.root, 0o755)
        self.inbound, self.reinject = free_port(), reinject
        self.conf = self.root / "conf"
        self.conf.mkdir()
        # postfix start creates the queue's subfolders (post-install) but not the queue
        # itself; master's lock file goes in data_directory, which mail_owner owns.
        (self.root / "queue").mkdir(mode=0o755)
        (self.root / "data").mkdir(mode=0o755)
        shutil.chown(self.root / "data", user="postfix")
        (self.conf / "main.cf").write_text(
            MAIN_CF.format(root=self.root, gateway=gateway_port, sink=sink_port)
        )
        (self.conf / "master.cf").write_text(
            MASTER_CF.format(inbound=self.inbound, reinject=self.reinject)
        )

    def _postfix(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [POSTFIX, "-c", str(self.conf), *args],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    def start(self) -> None:
        done = self._postfix("start")
        if done.returncode != 0:
            # Postfix writes to stderr only on a terminal; its maillog_file has the reason.
            raise AssertionError(f"postfix start failed:\n{self.log()}")
        deadline = time.monotonic() + 30
        while not self._is_listening(self.inbound) or not self._is_listening(self.reinject):
            assert time.monotonic() < deadline, f"postfix did not listen:\n{self.log()}"
            time.sleep(0.1)

    @staticmethod
    def _is_listening(port: int) -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
        except OSError:
            return False
        return True

    def queued(self) -> list[str]:
        """Files still in Postfix's queue (incoming, active, deferred, hold...)."""
        queue = self.root / "queue"
        return [
            str(p.relative_to(queue))
            for sub in ("maildrop", "incoming", "active", "deferred", "hold", "corrupt")
            if (queue / sub).is_dir()
            for p in (queue / sub).rglob("*")
            if p.is_file()
        ]

    def log(self) -> str:
        path = self.root / "maillog"
        return path.read_text(errors="replace")[-4000:] if path.exists() else "(no maillog)"

    def stop(self) -> None:
        self._postfix("stop")
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Chain:
    """Postfix (started) and the sink; the gateway on a fixed port, started by the test."""

    postfix: Postfix
    sink: Sink
    data_dir: Path
    policy: Policy
    gateway_port: int
    reinject: int

    def gateway(self) -> InProcessGateway:
        # The gateway's next hop is Postfix's reinjection port; Postfix's is the sink.
        return InProcessGateway(
            self.data_dir, self.reinject, policy=self.policy, retry_first=0.2,
            port=self.gateway_port,
        )  # fmt: skip

    def wait_until_settled(self, held_count: int, timeout: float = 60.0) -> None:
        """Until the quarantine holds ``held_count`` and Postfix's queue is empty."""
        deadline = time.monotonic() + timeout
        while len(held(self.data_dir)) < held_count or self.postfix.queued():
            assert time.monotonic() < deadline, (
                f"queue {self.postfix.queued()}\n{self.postfix.log()}"
            )
            time.sleep(0.2)


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    reason = why_postfix_cannot_run()
    if reason:
        pytest.skip(reason)
    (tmp_path / "policy.toml").write_text(POLICY)
    sink = Sink().start()
    gateway_port, reinject = free_port(), free_port()
    postfix = Postfix(gateway_port, sink.port, reinject)
    try:
        postfix.start()
        yield Chain(
            postfix, sink, tmp_path / "data", Policy.load(tmp_path / "policy.toml"),
            gateway_port, reinject,
        )  # fmt: skip
    finally:
        postfix.stop()
        sink.close()


def submit(port: int, data: bytes, rcpt: tuple[str, ...]) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo("client.test")
        assert smtp.mail("alice@example.org")[0] == 250
        for r in rcpt:
            assert smtp.rcpt(r)[0] == 250
        return smtp.data(data)


def held(data_dir: Path) -> list[dict[str, object]]:
    conn = sqlite3.connect(data_dir / "floodwall.db")
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM quarantine")]
    finally:
        conn.close()


def test_clean_mail_reaches_the_sink_and_eicar_is_held(chain: Chain) -> None:
    postfix, sink = chain.postfix, chain.sink
    with chain.gateway() as gw:
        code, text = submit(postfix.inbound, ham("clean1"), ("bob@example.net", "c@example.net"))
        assert code == 250, text  # Postfix queued it; the filter runs after the queue
        eicar = sample("clamav")
        assert b"eicar.com" in eicar
        assert submit(postfix.inbound, eicar, ("bob@example.net",))[0] == 250
        (got,) = sink.wait_for(1, timeout=60)
        chain.wait_until_settled(held_count=1)
        gw.wait_idle()
    assert got.token == "clean1"
    assert sorted(got.rcpt_tos) == ["bob@example.net", "c@example.net"]
    assert got.mail_from == "alice@example.org"
    # Postfix -> Floodwall -> Postfix: every hop is in the trace, Floodwall's id too.
    assert got.spool_id
    assert b"(Floodwall)" in got.data
    assert got.data.count(b"by pf.test (Postfix") >= 2
    (row,) = held(chain.data_dir)
    assert row["rcpt_to"] == '["bob@example.net"]'
    assert (chain.data_dir / "quarantine" / str(row["file"])).exists()
    assert len(sink.received) == 1  # EICAR never went on
    assert postfix.queued() == []  # nothing left behind, nothing bounced back to us


def test_mail_waits_in_postfix_while_the_gateway_is_down(chain: Chain) -> None:
    postfix, sink = chain.postfix, chain.sink
    assert submit(postfix.inbound, ham("early"), ("bob@example.net",))[0] == 250
    assert submit(postfix.inbound, sample("clamav"), ("bob@example.net",))[0] == 250
    deadline = time.monotonic() + 30
    while not any(q.startswith("deferred/") for q in postfix.queued()):
        assert time.monotonic() < deadline, f"not deferred: {postfix.queued()}\n{postfix.log()}"
        time.sleep(0.2)
    assert sink.received == []
    refused = f"connect to 127.0.0.1[127.0.0.1]:{chain.gateway_port}: Connection refused"
    assert refused in postfix.log()
    with chain.gateway() as gw:  # the gateway comes up: Postfix's retry finds it
        (got,) = sink.wait_for(1, timeout=60)
        chain.wait_until_settled(held_count=1)
        gw.wait_idle()
    assert got.token == "early"
    assert len(held(chain.data_dir)) == 1
    assert len(sink.received) == 1
