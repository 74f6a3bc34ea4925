"""``tbot``: the operator's command line.

Expected failures print one line (``error: ...``) and exit non-zero; nothing
prints a traceback unless ``TBOT_DEBUG=1``, and that traceback goes through
the sanitizer like every other output, because an exception message can carry
a secret the process loaded.  Command groups are registered
explicitly below.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from tbot_core import __version__
from tbot_core.cli import (
    cmd_audit,
    cmd_backtest,
    cmd_config,
    cmd_control,
    cmd_home,
    cmd_ledger,
    cmd_run,
    cmd_secrets,
    cmd_serve,
)
from tbot_core.errors import TbotError
from tbot_core.sanitize import scrub

COMMAND_MODULES = [
    cmd_home,
    cmd_run,
    cmd_config,
    cmd_audit,
    cmd_control,
    cmd_ledger,
    cmd_secrets,
    cmd_backtest,
    cmd_serve,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tbot", description="TradeBot safety core and operator console.")
    parser.add_argument("--version", action="version", version=f"tbot {__version__}")
    parser.add_argument("--home", default=None, help="bot home folder (default: $TBOT_HOME or ./tbot_home)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except TbotError as exc:
        print(f"error: {scrub(exc.one_line())}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if os.environ.get("TBOT_DEBUG") == "1":  # messages and chained causes appear verbatim: scrub them too
            print(scrub(traceback.format_exc()), end="", file=sys.stderr)
        print(
            f"internal error: {type(exc).__name__}: {scrub(str(exc))[:300]} (set TBOT_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return 70


if __name__ == "__main__":
    sys.exit(main())
