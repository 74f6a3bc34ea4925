"""``tbot backtest sweep``'s flags (kept free of heavy imports, like the backtest's own arguments)."""

from __future__ import annotations

import argparse

from tbot_core.backtest.sweep.objective import OBJECTIVES

SEARCHES = ("grid", "random", "optuna")
# How the bars reach the workers (docs/sweeps.md): shipped by the client, or read from a shared path.
SHIP_MODES = ("auto", "scatter", "path")


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strategy", required=True, help="all|open|mid|close|sma_cross (the fast engine)")
    parser.add_argument(
        "--param",
        action="append",
        metavar="KEY=SPEC",
        help="a settings key to vary: KEY=start:stop:step or KEY=v1,v2,... (repeat for more keys)",
    )
    parser.add_argument("--symbols", default=None, help="comma-separated symbols (default: every symbol in the data)")
    parser.add_argument("--start", required=True, help="first UTC date, YYYY-MM-DD")
    parser.add_argument("--end", required=True, help="last UTC date, YYYY-MM-DD")
    parser.add_argument("--data", default=None, help="CSV file (default: the home's sample data with VIX)")
    parser.add_argument("--config", default=None, help="a plaintext .env_bot laid over the home's config")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--filters", default=None, help="comma-separated enhancement modules to apply")
    group.add_argument("--no-filters", action="store_true", help="switch every enhancement filter off")
    parser.add_argument("--search", default="grid", help="|".join(SEARCHES) + " (default grid)")
    parser.add_argument("--trials", type=int, default=None, help="runs for --search random|optuna")
    parser.add_argument("--objective", default="sharpe", help="|".join(OBJECTIVES) + " (default sharpe)")
    parser.add_argument(
        "--walk-forward", default=None, metavar="TRAIN/TEST", help="trading days per train/test segment, e.g. 60/20"
    )
    parser.add_argument("--workers", type=int, default=None, help="local worker processes (default: one per core)")
    parser.add_argument("--scheduler", default=None, help="tcp://HOST:PORT of an existing Dask scheduler")
    parser.add_argument(
        "--ship-data",
        default="auto",
        help="|".join(SHIP_MODES) + ": scatter = the client sends the bars once; path = workers read --data "
        "themselves (a shared path); auto = path on a local cluster, scatter with --scheduler",
    )
    parser.add_argument("--resume", action="store_true", help="skip the runs this sweep already finished")
    parser.add_argument("--seed", type=int, default=0, help="seed of --search random|optuna (default 0)")
    parser.add_argument("--home", default=argparse.SUPPRESS, help="bot home (outputs go to its backtest folder)")
