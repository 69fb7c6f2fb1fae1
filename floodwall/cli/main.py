"""``floodwall``: the command line. Subcommands live one per module in this package."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from floodwall import __version__
from floodwall.cli import gateway as gateway_cmd
from floodwall.cli import geo as geo_cmd
from floodwall.cli import hunt as hunt_cmd
from floodwall.cli import intel as intel_cmd
from floodwall.cli import mail as mail_cmd
from floodwall.cli import quarantine as quarantine_cmd
from floodwall.cli import rules as rules_cmd

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse exits with 2 on usage errors, as the exit-code contract wants."""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="floodwall",
        description="Floodwall: detects attacks in security logs and mail, "
        "and counts them honestly.",
    )
    parser.add_argument("--version", action="version", version=f"floodwall {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    hunt_cmd.register(sub)
    rules_cmd.register(sub)
    mail_cmd.register(sub)
    quarantine_cmd.register(sub)
    gateway_cmd.register(sub)
    geo_cmd.register(sub)
    intel_cmd.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``floodwall`` command; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
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
