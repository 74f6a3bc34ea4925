"""Walk-forward: the window is cut into consecutive train/test segments of trading days; each fold's best
train parameters run on its test segment, and walk_forward.csv puts in-sample next to out-of-sample."""

from __future__ import annotations

import json
from datetime import date

import pytest

from tbot_core.backtest.sweep.walk_forward import folds, parse_walk_forward
from tbot_core.errors import ConfigError
from tests.tbot_core.backtest.sweep.conftest import FAST, IDENTITY, read_runs, sweep


def test_folds_step_by_the_test_length_and_drop_a_partial_last_test():
    days = [date(2026, 3, d) for d in (2, 3, 4, 5, 6, 9, 10, 11)]
    plan = folds(days, 3, 2)
    assert [(f.train_start.day, f.train_end.day, f.test_start.day, f.test_end.day) for f in plan] == [
        (2, 4, 5, 6),
        (4, 6, 9, 10),
    ]
    assert parse_walk_forward("60/20") == (60, 20)
    for bad in ("60", "0/5", "a/b", "5/-1"):
        with pytest.raises(ConfigError, match="--walk-forward: expected TRAIN/TEST"):
            parse_walk_forward(bad)


def test_a_walk_forward_sweep_reports_in_sample_next_to_out_of_sample(home_paths, scheduler):
    outcome = sweep(
        home_paths,
        *FAST,
        "--param=BACKTEST_POSITION_FRACTION=0.1,0.3",
        "--walk-forward=1/1",
        f"--scheduler={scheduler}",
    )
    sid = outcome.sweep_id
    runs = read_runs(home_paths.sweep_runs_csv(IDENTITY, sid))
    # sample data days: 2026-01-05, 2026-01-06, 2026-07-07 -> folds (05 | 06) and (06 | 07-07)
    assert [(r["fold"], r["segment"], r["start"]) for r in runs] == [
        ("1", "train", "2026-01-05"),
        ("1", "train", "2026-01-05"),
        ("1", "test", "2026-01-06"),
        ("2", "train", "2026-01-06"),
        ("2", "train", "2026-01-06"),
        ("2", "test", "2026-07-07"),
    ]
    table = read_runs(home_paths.sweep_walk_forward(IDENTITY, sid))
    assert [(t["fold"], t["train_start"], t["test_start"]) for t in table] == [
        ("1", "2026-01-05", "2026-01-06"),
        ("2", "2026-01-06", "2026-07-07"),
    ]
    for line in table:
        train = [r for r in runs if r["fold"] == line["fold"] and r["segment"] == "train"]
        [test] = [r for r in runs if r["fold"] == line["fold"] and r["segment"] == "test"]
        picked = max(train, key=lambda r: float(r["objective"]))
        assert line["train_run_id"] == picked["run_id"] and line["test_run_id"] == test["run_id"]
        assert test["BACKTEST_POSITION_FRACTION"] == picked["BACKTEST_POSITION_FRACTION"]
        assert line["in_sample_return"] == picked["total_return"]
        assert line["out_of_sample_return"] == test["total_return"]
    best = json.loads(home_paths.sweep_best(IDENTITY, sid).read_text())
    assert [f["fold"] for f in best["walk_forward"]] == [1, 2] and best["best"]["fold"] == 2
    assert not home_paths.sweep_heatmap(IDENTITY, sid).exists()
