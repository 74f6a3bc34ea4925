"""``python -m tbot_tui [--home DIR] [--theme NAME] [--read-only]``: attach the console to a bot home.

``tbot serve`` starts one of these per browser connection, with ``--read-only``
(no control keys at all) or with ``--web-user NAME`` (control flags name the
web login as their operator).
"""

from __future__ import annotations

import argparse
import os
import sys

from tbot_core.control import Operator

WEB_CLIENT_MAX = 48


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tbot_tui", description="TradeBot operator console")
    parser.add_argument("--home", default=None, help="bot home folder (default: $TBOT_HOME or ./tbot_home)")
    parser.add_argument(
        "--theme",
        default=os.environ.get("TBOT_THEME") or None,
        help="Textual theme, e.g. textual-dark, nord, gruvbox (default: $TBOT_THEME or textual-dark)",
    )
    parser.add_argument("--read-only", action="store_true", help="no control keys or commands: a view only")
    parser.add_argument("--web-user", default=None, help=argparse.SUPPRESS)  # set by `tbot serve --allow-control`
    parser.add_argument(
        "--web-client", default="", help=argparse.SUPPRESS
    )  # the browser's address, for the flag record
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tbot_tui.app import ReadOnlyConsole, TradeBotConsole

    operator = None
    if args.web_user is not None:
        operator = Operator(args.web_user, f"web {args.web_client}"[:WEB_CLIENT_MAX] if args.web_client else "web")
    console = ReadOnlyConsole if args.read_only else TradeBotConsole
    try:
        app = console(home=args.home, theme=args.theme, operator=operator)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    app.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
