"""A grid sweep on a real two-worker LocalCluster: every point runs once, the files say the same thing,
and each run's figures are exactly those of the backtest run by hand with the same settings."""

from __future__ import annotations

import json
from datetime import date

import pyarrow.parquet as pq
import pytest

from tbot_core.backtest.backtest_engine import run_fast
from tbot_core.backtest.data import read_bars_csv
from tbot_core.backtest.filtering import build_filter, filter_settings
from tbot_core.backtest.sources import attach_vix, load_settings, resolve_identity
from tests.tbot_core.backtest.sweep.conftest import FAST, GRID_2D, IDENTITY, figures, read_runs, sweep


def test_a_two_key_grid_runs_every_point_and_writes_csv_parquet_best_and_heatmap(home_paths, scheduler):
    outcome = sweep(home_paths, *FAST, *GRID_2D, f"--scheduler={scheduler}")
    sid = outcome.sweep_id
    rows = read_runs(home_paths.sweep_runs_csv(IDENTITY, sid))
    assert [(r["BACKTEST_POSITION_FRACTION"], r["BACKTEST_SLIPPAGE_BPS"]) for r in rows] == [
        ("0.1", "0"),
        ("0.1", "5"),
        ("0.1", "10"),
        ("0.2", "0"),
        ("0.2", "5"),
        ("0.2", "10"),
    ]
    assert len({r["run_id"] for r in rows}) == 6 and outcome.ran == 6 and outcome.reused == 0
    assert len({r["final_equity"] for r in rows}) == 6, "each point is a different backtest"
    table = pq.read_table(home_paths.sweep_runs_parquet(IDENTITY, sid)).to_pylist()
    assert [t["run_id"] for t in table] == [r["run_id"] for r in rows]
    assert [t["final_equity"] for t in table] == [r["final_equity"] for r in rows]
    best = json.loads(home_paths.sweep_best(IDENTITY, sid).read_text())
    top = max(rows, key=lambda r: float(r["objective"]))
    assert best["best"]["run_id"] == top["run_id"] and best["objective"] == "return"
    assert best["best"]["params"] == {
        "BACKTEST_POSITION_FRACTION": top["BACKTEST_POSITION_FRACTION"],
        "BACKTEST_SLIPPAGE_BPS": top["BACKTEST_SLIPPAGE_BPS"],
    }
    assert [t["objective"] for t in best["top"]] == sorted((float(r["objective"]) for r in rows), reverse=True)
    assert home_paths.sweep_heatmap(IDENTITY, sid).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    meta = json.loads(home_paths.sweep_meta(IDENTITY, sid).read_text())
    assert meta["status"] == "finished" and meta["runs_done"] == 6 and meta["ship_data"] == "scatter"


@pytest.mark.parametrize(("strategy", "key"), [("sma_cross", "BACKTEST_SLIPPAGE_BPS"), ("mid", "PAPER_SLIPPAGE_BPS")])
def test_a_sweep_run_is_the_backtest_run_by_hand_with_the_same_settings(home_paths, scheduler, strategy, key):
    argv = [a for a in FAST if not a.startswith("--strategy")]
    outcome = sweep(home_paths, *argv, f"--strategy={strategy}", f"--param={key}=7", f"--scheduler={scheduler}")
    [row] = read_runs(home_paths.sweep_runs_csv(IDENTITY, outcome.sweep_id))
    bars = read_bars_csv(home_paths.sample_ohlcv, start=date(2026, 1, 5), end=date(2026, 7, 7))
    bars = {s: b for s, b in attach_vix(bars, home_paths.sample_vix).items() if s in ("SPY", "AAPL")}
    settings = filter_settings(
        load_settings(home_paths, None), only=None, no_filters=False, fundamentals=False
    ).with_values({key: "7"})
    identity = resolve_identity(home_paths)
    gate = build_filter(settings, paths=home_paths, identity=identity)
    by_hand = run_fast(bars, strategy, settings, signal_filter=gate, identity=identity).metrics
    assert row["trades"] == str(by_hand["trades"])
    for name in ("total_return", "final_equity", "max_drawdown", "win_rate"):
        assert row[name] == str(by_hand[name] if by_hand[name] is not None else ""), name


def test_the_same_sweep_twice_names_the_same_runs_with_the_same_figures(home_paths, scheduler):
    first = sweep(home_paths, *FAST, *GRID_2D, f"--scheduler={scheduler}")
    before = read_runs(home_paths.sweep_runs_csv(IDENTITY, first.sweep_id))
    second = sweep(home_paths, *FAST, *GRID_2D, f"--scheduler={scheduler}", "--ship-data=path")
    assert second.sweep_id == first.sweep_id and second.ran == 6, "without --resume every run runs again"
    assert figures(read_runs(home_paths.sweep_runs_csv(IDENTITY, second.sweep_id))) == figures(before)
