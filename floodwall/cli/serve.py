"""``floodwall serve``: the SOC console and its REST API on one address.

On the first run it creates the ``admin`` account: with $FLOODWALL_ADMIN_PASSWORD, or
with a generated password printed once here and stored only as an argon2id hash.
There is no built-in password. Listens on loopback unless told otherwise; give
``--tls-cert``/``--tls-key`` to serve HTTPS (cookies are then Secure).
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path
from typing import Any

from floodwall.settings import Settings

EXIT_USAGE = 2
DEFAULT_LISTEN = "127.0.0.1:8080"


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the SOC console and its REST API")
    p.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT",
                   help=f"address to listen on (default {DEFAULT_LISTEN})")  # fmt: skip
    p.add_argument("--data", type=Path, metavar="DIR", help="data directory")
    p.add_argument("--tls-cert", type=Path, metavar="FILE", help="PEM certificate: serve HTTPS")
    p.add_argument("--tls-key", type=Path, metavar="FILE", help="PEM private key for --tls-cert")
    p.set_defaults(run=run_serve)


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[v6]:PORT``; ValueError otherwise."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--listen wants HOST:PORT, got {value!r}")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def run_serve(args: argparse.Namespace) -> int:
    try:
        host, port = parse_listen(args.listen)
    except ValueError as exc:
        print(f"floodwall serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if (args.tls_cert is None) != (args.tls_key is None):
        print("floodwall serve: --tls-cert and --tls-key go together", file=sys.stderr)
        return EXIT_USAGE
    # The web stack loads only for this command (see cli/main.py).
    import uvicorn

    from floodwall.console.app import create_app
    from floodwall.console.context import utc_now
    from floodwall.console.passwords import PasswordHasherAdapter
    from floodwall.console.users import ADMIN_NAME, ADMIN_PASSWORD_ENV, UserStore
    from floodwall.store.db import open_store

    settings = Settings.load(args.data)
    hasher = PasswordHasherAdapter()
    with open_store(settings.data_dir) as store:
        boot = UserStore(store, hasher, utc_now).ensure_admin()
    scheme = "https" if args.tls_cert else "http"
    shown = f"[{host}]" if ":" in host else host
    print(f"Floodwall console: {scheme}://{shown}:{port}/  (API: /api, OpenAPI: /api/openapi.json)")
    print(f"data directory: {settings.data_dir}")
    if boot.created and boot.password is not None:
        print(f"first run: created user {ADMIN_NAME!r} with password  {boot.password}")
        print("  this password is shown only now; change it after signing in")
    elif boot.created:
        print(f"first run: created user {ADMIN_NAME!r} with the password in ${ADMIN_PASSWORD_ENV}")
    else:
        print("sign in with your console user (an admin adds users under /api/users)")
    if not _is_loopback(host) and not args.tls_cert:
        print("warning: listening beyond loopback without TLS; passwords and cookies travel in "
              "clear text", file=sys.stderr)  # fmt: skip
    sys.stdout.flush()
    app = create_app(settings, hasher=hasher)
    uvicorn.run(
        app, host=host, port=port, log_level="warning", access_log=False,
        ssl_certfile=str(args.tls_cert) if args.tls_cert else None,
        ssl_keyfile=str(args.tls_key) if args.tls_key else None,
        proxy_headers=False,  # client addresses are the peer's: rate limits count them
    )  # fmt: skip
    return 0
