"""``floodwall``: the command line. Subcommands live one per module in this package."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from floodwall import __version__

# Each command's module is imported only when that command runs: a hunt does not pay
# for the console's web stack or the intel parsers, and ``--help`` stays instant.
# name -> (module with ``register(subparsers)``, one-line help for the command list)
COMMANDS: dict[str, tuple[str, str]] = {
    "hunt": ("floodwall.cli.hunt", "hunt security logs with Sigma rules"),
    "rules": ("floodwall.cli.rules", "show or update the Sigma rule set"),
    "mail": ("floodwall.cli.mail", "scan mail (.eml, mbox, Maildir) for malware and phishing"),
    "quarantine": ("floodwall.cli.quarantine", "list, show, release or delete held mail"),
    "gateway": ("floodwall.cli.gateway", "run the SMTP mail gateway: scan, relay, hold or reject"),
    "geo": ("floodwall.cli.geo", "GeoIP/ASN data: info, offline update, lookups"),
    "intel": ("floodwall.cli.intel", "import threat intel feeds; list, count, remove indicators"),
    "attack": ("floodwall.cli.attack", "ATT&CK: rule coverage, techniques seen, Navigator layer"),
    "stats": ("floodwall.cli.stats", "the day's attacks: seen, blocked, got through, losses"),
    "serve": ("floodwall.cli.serve", "run the SOC console and its REST API"),
    "audit": ("floodwall.cli.audit", "verify the console's append-only audit log"),
    "report": ("floodwall.cli.report", "the daily report for management: html, pdf or md"),
    "campaigns": ("floodwall.cli.campaigns", "campaigns: alerts and mail sharing infrastructure"),
}

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse exits with 2 on usage errors, as the exit-code contract wants."""


def _chosen(argv: Sequence[str]) -> str | None:
    """The command named on the command line (the first word that is not an option)."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser; given ``argv``, only the command it names is loaded."""
    parser = _Parser(
        prog="floodwall",
        description="Floodwall: detects attacks in security logs and mail, "
        "and counts them honestly.",
    )
    parser.add_argument("--version", action="version", version=f"floodwall {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = _chosen(argv) if argv is not None else None
    for name, (module, help_text) in COMMANDS.items():
        if argv is not None and chosen is None:
            sub.add_parser(name, help=help_text)  # listed for --help; nothing to run
        elif argv is None or name == chosen:
            importlib.import_module(module).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``floodwall`` command; returns the process exit code."""
    words = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(words)
    args = parser.parse_args(words)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        print("floodwall: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``floodwall hunt ... | head``): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # never a traceback for users; FLOODWALL_DEBUG=1 shows it
        if os.environ.get("FLOODWALL_DEBUG"):
            raise
        print(f"floodwall: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        print("floodwall: set FLOODWALL_DEBUG=1 to see where it happened", file=sys.stderr)
        return EXIT_USAGE
    return code


if __name__ == "__main__":
    sys.exit(main())
