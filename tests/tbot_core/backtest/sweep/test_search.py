"""Random and optuna searches on the cluster: seeded, so the same command picks the same runs, and every
pick is a point of the grid the flags describe."""

from __future__ import annotations

import json

from tbot_core.backtest.sweep.params import grid, parse_param
from tbot_core.backtest.sweep.plan import random_points
from tests.tbot_core.backtest.sweep.conftest import FAST, IDENTITY, figures, read_runs, sweep

GRID_3X3 = ("--param=BACKTEST_POSITION_FRACTION=0.1:0.3:0.1", "--param=BACKTEST_SLIPPAGE_BPS=0:10:5")
POINTS = {(f, s) for f in ("0.1", "0.2", "0.3") for s in ("0", "5", "10")}


def _points(rows):
    return [(r["BACKTEST_POSITION_FRACTION"], r["BACKTEST_SLIPPAGE_BPS"]) for r in rows]


def test_a_random_search_draws_distinct_grid_points_by_its_seed():
    specs = [parse_param("ADX_THRESHOLD=10:50:1", "mid"), parse_param("ADX_PERIOD=5:20:1", "mid")]
    everything = grid(specs)
    picks = random_points(specs, 30, seed=7)
    assert len(picks) == 30 and all(p in everything for p in picks)
    assert len({tuple(p.values()) for p in picks}) == 30
    assert random_points(specs, 30, seed=7) == picks and random_points(specs, 30, seed=8) != picks
    assert len(random_points(specs[:1], 100, seed=1)) == 41, "never more runs than the grid has"


def test_a_random_sweep_on_the_cluster_runs_trials_grid_points(home_paths, scheduler):
    outcome = sweep(
        home_paths, *FAST, *GRID_3X3, "--search=random", "--trials=4", "--seed=3", f"--scheduler={scheduler}"
    )
    rows = read_runs(home_paths.sweep_runs_csv(IDENTITY, outcome.sweep_id))
    assert len(rows) == 4 and len(set(_points(rows))) == 4 and set(_points(rows)) <= POINTS


def test_an_optuna_sweep_asks_in_the_client_runs_on_workers_and_repeats_with_its_seed(home_paths, scheduler):
    argv = (*FAST, *GRID_3X3, "--search=optuna", "--trials=10", "--seed=5", f"--scheduler={scheduler}")
    first = sweep(home_paths, *argv)
    rows = read_runs(home_paths.sweep_runs_csv(IDENTITY, first.sweep_id))
    assert len(rows) == 10 and set(_points(rows)) <= POINTS
    assert first.ran == len({r["run_id"] for r in rows}), "a point optuna asks for twice runs once"
    best = json.loads(home_paths.sweep_best(IDENTITY, first.sweep_id).read_text())
    assert best["best"]["objective"] == max(float(r["objective"]) for r in rows)
    again = sweep(home_paths, *argv)
    assert figures(read_runs(home_paths.sweep_runs_csv(IDENTITY, again.sweep_id))) == figures(rows)
