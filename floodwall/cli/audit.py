"""``floodwall audit verify``: recompute the console's hash-chained audit log.

Exit codes: 0 the chain is intact (the head ``seq:hash`` is printed: note it, and give
it back with ``--anchor`` later to prove nothing before it was rewritten); 1 an entry
was edited, removed or reordered (the first broken link is printed); 2 usage error.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from floodwall.console import audit
from floodwall.settings import Settings
from floodwall.store.db import open_store

EXIT_BROKEN = 1
EXIT_USAGE = 2
_ANCHOR = re.compile(r"(\d{1,18}):([0-9a-f]{64})")


def register(sub: Any) -> None:
    p = sub.add_parser("audit", help="verify the console's append-only audit log")
    actions = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = actions.add_parser("verify", help="detect any edit or removal of audit entries")
    verify.add_argument("--data", type=Path, metavar="DIR", help="data directory")
    verify.add_argument(
        "--anchor", metavar="SEQ:HASH", help="a head printed by an earlier verify, to check against"
    )
    verify.set_defaults(run=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    anchor: tuple[int, str] | None = None
    if args.anchor is not None:
        match = _ANCHOR.fullmatch(args.anchor.strip())
        if match is None:
            print("floodwall audit: --anchor is SEQ:HASH (64 hex digits)", file=sys.stderr)
            return EXIT_USAGE
        anchor = (int(match.group(1)), match.group(2))
    settings = Settings.load(args.data)
    with open_store(settings.data_dir) as store:
        report = audit.verify(store.connection, anchor=anchor)
    if report.is_intact:
        print(
            f"audit log intact: {report.entries} entries; head {report.head_seq}:{report.head_hash}"
        )
        return 0
    print(
        f"audit log BROKEN at entry {report.broken_at}: {report.problem}\n"
        f"the {report.entries - 1} entries before it check out; last good link "
        f"{report.head_seq}:{report.head_hash}",
        file=sys.stderr,
    )
    return EXIT_BROKEN
