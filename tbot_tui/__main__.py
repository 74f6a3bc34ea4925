"""``python -m tbot_tui [--home DIR]``: attach the console to a bot home."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tbot_tui", description="TradeBot operator console")
    parser.add_argument("--home", default=None, help="bot home folder (default: $TBOT_HOME or ./tbot_home)")
    args = parser.parse_args(argv)
    from tbot_tui.app import TradeBotConsole

    TradeBotConsole(home=args.home).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
