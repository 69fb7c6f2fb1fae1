"""``floodwall gateway``: an SMTP server that scans every message and acts on the verdict.

Exit codes: 0 after a clean stop (SIGTERM or SIGINT), 2 when it cannot start (bad
arguments, port in use, spool taken by another gateway, unreadable policy or TLS files).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floodwall.settings import Settings

if TYPE_CHECKING:
    from floodwall.ingest.smtp_source import SmtpSource
    from floodwall.mail.gateway import Gateway

log = logging.getLogger("floodwall.gateway")


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def register(sub: Any) -> None:
    p = sub.add_parser("gateway", help="run the SMTP mail gateway: scan, relay, hold or reject")
    p.add_argument("--listen", required=True, type=_host_port, metavar="HOST:PORT")
    p.add_argument("--relay", required=True, type=_host_port, metavar="HOST:PORT",
                   help="the next hop that accepted mail goes to")  # fmt: skip
    p.add_argument("--data", type=Path, metavar="DIR", help="data directory (store, spool)")
    p.add_argument("--tls-cert", type=Path, metavar="PEM", help="certificate for STARTTLS")
    p.add_argument("--tls-key", type=Path, metavar="PEM", help="its private key")
    p.add_argument("--require-tls", action="store_true", help="refuse mail before STARTTLS")
    p.add_argument("--max-size", type=int, default=25 << 20, metavar="BYTES",
                   help="largest message accepted (SIZE, RFC 1870); default 25 MiB")  # fmt: skip
    p.add_argument("--policy", type=Path, metavar="FILE", help="policy file (weights, thresholds)")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), metavar="N",
                   help="scanning processes (0: a thread of the gateway process)")  # fmt: skip
    p.add_argument("--hostname", help="the name the gateway gives itself (greeting, Received:)")
    p.add_argument("--max-queue", type=int, default=10_000, metavar="N",
                   help="spooled messages not yet delivered before new mail gets 451")  # fmt: skip
    p.add_argument("--retry-first", type=float, default=5.0, metavar="SECONDS",
                   help="first retry delay when the next hop fails (then doubling)")  # fmt: skip
    p.add_argument("--hop-down-hold", type=float, default=30.0, metavar="SECONDS",
                   help="how long a failing next hop counts as down (new mail: 451)")  # fmt: skip
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.set_defaults(run=run_gateway)


def run_gateway(args: argparse.Namespace) -> int:
    # The scanner's libraries load here, not when the command line is parsed: every
    # other subcommand would pay for them at start-up.
    from floodwall.detect.mail.clamd import DEFAULT_CANDIDATES, ClamdClient
    from floodwall.detect.mail.reference import load_psl
    from floodwall.enrich.mail_auth import DnsOff, build_verifier, not_verified_notice
    from floodwall.ingest.smtp_source import SmtpSource
    from floodwall.mail.delivery import RetryPolicy
    from floodwall.mail.gateway import Gateway, GatewayConfig
    from floodwall.mail.recorder import GatewayRecorder
    from floodwall.mail.scan_pool import ScanConfig, ScanPool
    from floodwall.respond.policy import Policy, PolicyError

    logging.basicConfig(
        stream=sys.stderr, level=args.log_level, format="%(asctime)s %(levelname)s %(message)s"
    )
    settings = Settings.load(args.data)
    policy_path = args.policy or (
        settings.data_dir / "policy.toml" if (settings.data_dir / "policy.toml").exists() else None
    )
    try:
        policy = Policy.load(policy_path)
        tls = None
        if args.tls_cert or args.tls_key:
            if not (args.tls_cert and args.tls_key):
                raise ValueError("--tls-cert and --tls-key go together")
            tls = SmtpSource.tls_context_from(str(args.tls_cert), str(args.tls_key))
        if args.require_tls and tls is None:
            raise ValueError("--require-tls needs --tls-cert and --tls-key")
        verifier = build_verifier(settings.mail_dns, load_psl)
    except (PolicyError, ValueError, OSError) as exc:
        print(f"floodwall gateway: {exc}", file=sys.stderr)
        return 2
    clamd = ClamdClient.find() is not None
    if not clamd:
        log.info("ClamAV: no clamd answered at %s; attachments are not scanned by ClamAV",
                 ", ".join(DEFAULT_CANDIDATES))  # fmt: skip
    # Sender authentication (SPF, DKIM, DMARC) in the scan workers needs DNS: said once.
    if why := verifier.probe():
        (log.info if isinstance(verifier, DnsOff) else log.warning)(not_verified_notice(why))
    config = GatewayConfig(
        relay_host=args.relay[0], relay_port=args.relay[1],
        retry=RetryPolicy(first=args.retry_first), max_queue=args.max_queue,
        hop_down_hold=args.hop_down_hold,
        **({"hostname": args.hostname} if args.hostname else {}),
    )  # fmt: skip
    scan = ScanConfig(settings, policy, use_clamd=clamd, use_history=True)
    scanner = ScanPool(scan, workers=args.workers)
    from floodwall.enrich.intel.loading import origin_context_enricher

    recorder = GatewayRecorder(settings.data_dir, enricher=origin_context_enricher(settings))
    gateway = Gateway(settings.data_dir, config, scanner, recorder)
    source = SmtpSource(
        gateway.on_message, args.listen[0], args.listen[1], hostname=config.hostname,
        tls_context=tls, require_tls=args.require_tls, max_size=args.max_size,
    )  # fmt: skip
    return asyncio.run(_serve(gateway, source, settings.data_dir))


async def _serve(gateway: Gateway, source: SmtpSource, data_dir: Path) -> int:
    from floodwall.mail.spool import SpoolError

    try:
        recovered = await gateway.start()  # the spool is recovered before anything listens
    except SpoolError as exc:
        print(f"floodwall gateway: {exc}", file=sys.stderr)
        return 2
    try:
        await source.start()
    except OSError as exc:
        print(f"floodwall gateway: cannot listen on {source.host}:{source.port}: {exc}",
              file=sys.stderr)  # fmt: skip
        await gateway.stop()
        return 2
    cfg = gateway.config
    print(
        f"floodwall gateway: listening on {source.host}:{source.port}, relaying to "
        f"{cfg.relay_host}:{cfg.relay_port}, data {data_dir}, {recovered} spooled "
        f"message(s) recovered{', STARTTLS' if source.tls_context else ''}",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping: finishing messages in progress")
    await source.stop(cfg.grace)
    await gateway.stop()
    log.info("stopped; %d message(s) left in the spool for the next start",
             len(gateway.spool.queued()))  # fmt: skip
    return 0
