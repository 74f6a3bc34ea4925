"""``tbot serve``: the operator console in a browser, behind a login, read-only unless ``--allow-control``.

The web server is a program of the console package (``python -m tbot_tui.web``,
built on textual-serve); the core never imports it, and ``tbot serve`` hands
over with ``exec`` after the checks that need no console code: the home exists
and the bind is loopback, or TLS is given. The server repeats those checks and
adds its own (TLS files, the ``web_console`` login) before it listens.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys

from tbot_core.cli.common import add_home_option, open_home
from tbot_core.errors import TbotError

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8765
TUNNEL = "ssh -L {port}:127.0.0.1:{port} you@this-server, then open http://127.0.0.1:{port}/"


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help="address to listen on (default 127.0.0.1; any other needs TLS)"
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument(
        "--allow-control",
        action="store_true",
        help="control keys in the browser; flags name the web login as operator (default: read-only)",
    )
    parser.add_argument("--tls-cert", default=None, help="PEM certificate (with --tls-key): serve https and wss")
    parser.add_argument("--tls-key", default=None, help="PEM private key for --tls-cert")
    parser.add_argument("--theme", default=None, help="Textual theme of the console, e.g. nord, gruvbox")
    parser.add_argument("--session-minutes", type=float, default=480.0, help="how long a login lasts (default 480)")


def register(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser(
        "serve", help="serve the console to a browser (login: the web_console secret; read-only by default)"
    )
    add_home_option(serve)
    add_serve_arguments(serve)
    serve.set_defaults(handler=cmd_serve)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind_problem(host: str, port: int, tls: bool) -> str:
    """Why this address is refused, or "": anything but loopback needs TLS."""
    if not 1 <= port <= 65535:
        return f"--port {port}: expected 1-65535"
    if not is_loopback(host) and not tls:
        return (
            f"--host {host[:64]}: not a loopback address and no TLS (--tls-cert/--tls-key), so the login would cross "
            f"the network in clear; keep 127.0.0.1 and use an SSH tunnel: {TUNNEL.format(port=port)}"
        )
    return ""


def forwarded(args: argparse.Namespace) -> list[str]:
    """The options again, for ``python -m tbot_tui.web``."""
    argv = ["--host", args.host, "--port", str(args.port), "--session-minutes", repr(args.session_minutes)]
    argv += ["--allow-control"] if args.allow_control else []
    for option in ("tls_cert", "tls_key", "theme"):
        value = getattr(args, option)
        if value is not None:
            argv += [f"--{option.replace('_', '-')}", value]
    return argv


def cmd_serve(args: argparse.Namespace) -> int:
    problem = bind_problem(args.host, args.port, bool(args.tls_cert or args.tls_key))
    if problem:
        raise TbotError(problem)
    home = open_home(args)
    home.require_exists()
    root = str(home.paths.root)
    os.execv(sys.executable, [sys.executable, "-m", "tbot_tui.web", "--home", root, *forwarded(args)])
    return 0  # not reached
