"""A real two-worker ``LocalCluster`` (processes, one thread each) shared by the sweep tests, and helpers
that run ``tbot backtest sweep`` in-process against it (through ``--scheduler``, as an operator would)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tbot_core.backtest.sweep.cli import build_parser, request_from_args
from tbot_core.backtest.sweep.driver import SweepOutcome, run_sweep
from tbot_core.paths import HomePaths

IDENTITY = "TBOT_PAPER_01"
# sma_cross on two symbols of the sample data: a run takes tens of milliseconds, and the fill model's keys
# (position size, slippage) change its figures, so a small grid has distinct results.
FAST = (
    "--strategy=sma_cross",
    "--start=2026-01-05",
    "--end=2026-07-07",
    "--symbols=SPY,AAPL",
    "--objective=return",
)
GRID_2D = ("--param=BACKTEST_POSITION_FRACTION=0.1,0.2", "--param=BACKTEST_SLIPPAGE_BPS=0:10:5")


@pytest.fixture(scope="session")
def scheduler() -> Iterator[str]:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=50
    ) as cluster:
        yield cluster.scheduler_address


def sweep(home: HomePaths, *argv: str, observer: Any = None) -> SweepOutcome:
    args = build_parser().parse_args([*argv, f"--home={home.root}"])
    return run_sweep(request_from_args(args), observer=observer)


def read_runs(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def figures(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Rows without the one column that is a measurement, not a result (the run's seconds)."""
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]
