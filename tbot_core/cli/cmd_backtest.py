"""``tbot backtest``: the backtest engine's CLI (same flags as ``python -m tbot_core.backtest.backtest_engine``)."""

from __future__ import annotations

import argparse

from tbot_core.backtest.arguments import add_arguments


def register(sub: argparse._SubParsersAction) -> None:
    backtest = sub.add_parser(
        "backtest",
        help="backtest the core (live engine, paper fills) or one strategy (--engine fast) over CSV bars; writes only its outputs",
    )
    add_arguments(backtest)
    backtest.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from tbot_core.backtest.backtest_engine import run_cli

    return run_cli(args)
