"""``/metrics`` in the Prometheus text exposition format (version 0.0.4).

It needs a viewer's credentials (a ``read`` token in Prometheus' ``authorization``
setting). Loopback-only was the other choice, and it was refused: behind a reverse proxy
every caller comes from loopback, and on a shared host any local user is loopback too;
the counts tell an attacker what is detected and what is held.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from floodwall import __version__
from floodwall.console.auth import Viewer, context_of

router = APIRouter(tags=["health"])
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: object) -> str:
    # The format's label escapes: backslash, double quote and line feed.
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'


def _family(
    name: str, help_text: str, kind: str, samples: Iterable[tuple[dict[str, object], float]]
) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        body = ",".join(f"{k}={_label(v)}" for k, v in labels.items())
        lines.append(f"{name}{{{body}}} {value:g}" if body else f"{name} {value:g}")
    return lines


def _grouped(
    conn: sqlite3.Connection, sql: str, label: str
) -> list[tuple[dict[str, object], float]]:
    return [({label: k}, float(n)) for k, n in conn.execute(sql)]


def exposition(conn: sqlite3.Connection) -> str:
    """The whole page; gauges, as they are read from the store at each scrape."""
    lines: list[str] = []
    lines += _family("floodwall_info", "Floodwall version.", "gauge",
                     [({"version": __version__}, 1.0)])  # fmt: skip
    lines += _family(
        "floodwall_alerts", "Stored alerts by triage status.", "gauge",
        _grouped(conn, "SELECT status, count(*) FROM alerts GROUP BY status", "status"),
    )  # fmt: skip
    lines += _family(
        "floodwall_messages", "Scanned messages by verdict.", "gauge",
        _grouped(conn, "SELECT verdict, count(*) FROM messages GROUP BY verdict", "verdict"),
    )  # fmt: skip
    lines += _family(
        "floodwall_quarantine_messages", "Quarantined messages by status.", "gauge",
        _grouped(conn, "SELECT status, count(*) FROM quarantine GROUP BY status", "status"),
    )  # fmt: skip
    lines += _family(
        "floodwall_console_users", "Enabled console users by role.", "gauge",
        _grouped(conn, "SELECT role, count(*) FROM users WHERE disabled = 0 GROUP BY role",
                 "role"),
    )  # fmt: skip
    (entries,) = conn.execute("SELECT count(*) FROM audit_log").fetchone()
    lines += _family("floodwall_audit_entries", "Entries in the audit log.", "gauge",
                     [({}, float(entries))])  # fmt: skip
    return "\n".join(lines) + "\n"


@router.get("/metrics", response_class=PlainTextResponse, responses={401: {}, 403: {}})
def metrics(request: Request, who: Viewer) -> PlainTextResponse:
    """Prometheus metrics (viewer credentials needed)."""
    text = exposition(context_of(request).store().connection)
    return PlainTextResponse(text, media_type=CONTENT_TYPE)
