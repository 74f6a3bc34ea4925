"""``tbot backtest``: the backtest engine's CLI (same flags as ``python -m tbot_core.backtest.backtest_engine``),
and ``tbot backtest sweep``: many fast backtests over a grid of settings, on Dask (docs/sweeps.md).

``tbot backtest`` takes flags only, so ``sweep`` is not an argparse subcommand of it (its required
``--strategy/--start/--end`` would be demanded of the sweep too): when the first word after
``backtest`` is ``sweep``, the rest goes to the sweep's own parser instead.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import cast

from tbot_core.backtest.arguments import add_arguments

SWEEP = "sweep"


class _BacktestParser(argparse.ArgumentParser):
    """``tbot backtest`` flags, or ``tbot backtest sweep ...`` handed to the sweep's parser."""

    sweep_parser: argparse.ArgumentParser

    def parse_known_args(  # type: ignore[override]  # typeshed overloads it on the namespace type; one signature serves here
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if args and args[0] == SWEEP:
            return self.sweep_parser.parse_known_args(list(args[1:]), namespace)
        return super().parse_known_args(args, namespace)


def register(sub: argparse._SubParsersAction) -> None:
    backtest = sub.add_parser(
        "backtest",
        help="backtest the core's strategies with its gate, risk bot, kill switch and paper fills over CSV bars "
        "(--engine fast, default, or bar: the core's engine bar by bar); writes "
        "only its outputs; `tbot backtest sweep --help`: parameter sweeps on Dask",
        epilog="tbot backtest sweep --strategy S --param KEY=a:b:step ... : a parameter sweep (see its --help)",
    )
    add_arguments(backtest)
    backtest.set_defaults(handler=_run)
    backtest.__class__ = _BacktestParser
    from tbot_core.backtest.sweep.arguments import add_sweep_arguments

    sweep = argparse.ArgumentParser(
        prog=f"{backtest.prog} {SWEEP}",
        description="Run many fast backtests over a grid of settings, on Dask (docs/sweeps.md).",
    )
    add_sweep_arguments(sweep)
    sweep.set_defaults(handler=_run_sweep)
    cast(_BacktestParser, backtest).sweep_parser = sweep


def _run(args: argparse.Namespace) -> int:
    from tbot_core.backtest.backtest_engine import run_cli

    return run_cli(args)


def _run_sweep(args: argparse.Namespace) -> int:
    from tbot_core.backtest.sweep.cli import run_cli

    return run_cli(args)
