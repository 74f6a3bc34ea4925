"""``python -m tbot_tui.web``: what ``tbot serve`` runs (same options; see ``tbot serve --help``).

Refuses, with one line and exit 2, before listening: a non-loopback ``--host``
without TLS (use an SSH tunnel instead), TLS files that do not load, a home
that does not exist, a ``web_console`` login that is not set.
"""

from __future__ import annotations

import argparse
import ssl
import sys

from tbot_core.cli.cmd_serve import add_serve_arguments, bind_problem
from tbot_core.errors import TbotError
from tbot_core.home import BotHome
from tbot_core.sanitize import scrub


def tls_context(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    if not cert and not key:
        return None
    if not (cert and key):
        raise TbotError("--tls-cert and --tls-key: give both (PEM files)")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise TbotError(
            f"--tls-cert/--tls-key: cannot load the certificate and key ({type(exc).__name__}: "
            f"{getattr(exc, 'strerror', None) or getattr(exc, 'reason', None) or 'unreadable'})"
        ) from None
    return context


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tbot serve", description="the console in a browser, behind a login")
    parser.add_argument("--home", default=None, help="bot home folder (default: $TBOT_HOME or ./tbot_home)")
    add_serve_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return serve(args)
    except TbotError as exc:
        print(f"error: {scrub(exc.one_line())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def serve(args: argparse.Namespace) -> int:
    problem = bind_problem(args.host, args.port, bool(args.tls_cert or args.tls_key))
    if problem:
        raise TbotError(problem)
    if not args.session_minutes > 0:
        raise TbotError("--session-minutes: expected a positive number")
    context = tls_context(args.tls_cert, args.tls_key)
    home = BotHome(args.home)
    home.require_exists()
    from tbot_tui.web.auth import login_problem

    missing = login_problem(str(home.paths.root))
    if missing:
        raise TbotError(missing)
    if args.theme:
        from tbot_tui.app import ReadOnlyConsole

        try:
            ReadOnlyConsole(str(home.paths.root), theme=args.theme)
        except ValueError as exc:
            raise TbotError(str(exc)) from None
    from tbot_tui.web.server import ConsoleServer

    server = ConsoleServer(
        str(home.paths.root),
        host=args.host,
        port=args.port,
        allow_control=args.allow_control,
        tls=context,
        theme=args.theme,
        session_ttl_s=args.session_minutes * 60,
    )
    mode = "control allowed (flags name the web login)" if args.allow_control else "read-only"

    def ready() -> None:
        print(
            f"tbot serve: console ({mode}) on {server.public_url}/ — log in with the web_console secret; Ctrl+C stops",
            flush=True,
        )

    import asyncio

    asyncio.run(server.run(ready))
    return 0


if __name__ == "__main__":
    sys.exit(main())
