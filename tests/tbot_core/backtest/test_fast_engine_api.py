"""``run_fast`` as sweeps call it: a pure function of its inputs, with the metrics they read, and clear refusals."""

from __future__ import annotations

import pickle

import pytest

from tbot_core.backtest.backtest_engine import run_fast
from tbot_core.backtest.data import read_bars_csv
from tbot_core.backtest.fundamentals import PointInTimeFundamentals
from tbot_core.backtest.sources import attach_vix
from tbot_core.config import Settings
from tbot_core.errors import ConfigError
from tbot_core.paths import package_sample_data
from tests.tbot_core.backtest.bar_vs_fast import fill_keys


@pytest.fixture(scope="module")
def sample_bars():
    bars = read_bars_csv(package_sample_data("sample_ohlcv.csv"))
    return attach_vix(bars, package_sample_data("sample_vix.csv"))


def test_run_fast_is_deterministic_and_reports_the_metrics_sweeps_read(sample_bars):
    settings = Settings().with_values({"MAX_RISK_PER_TRADE": "0.05"})
    shipped = pickle.loads(pickle.dumps((sample_bars, settings)))  # what a Dask worker receives
    first = run_fast(sample_bars, "all", settings)
    again = run_fast(*shipped[:1], "all", shipped[1])
    assert first.run is not None and again.run is not None
    assert fill_keys(first.run) == fill_keys(again.run) and len(first.run.fills) > 0
    assert [f.fitid for f in first.run.fills] == [f.fitid for f in again.run.fills]
    assert first.metrics == again.metrics
    for key in ("total_return", "sharpe_annualized", "max_drawdown", "final_equity", "trades", "win_rate"):
        assert key in first.metrics
    assert first.run.strategies == ["open", "mid", "close"] and first.signals == sum(first.run.signals.values())
    assert first.bars == sum(len(b) for b in sample_bars.values())


def test_a_sweep_point_changes_the_result(sample_bars):
    base = run_fast(sample_bars, "all", Settings())
    smaller = run_fast(sample_bars, "all", Settings().with_values({"PAPER_STARTING_CASH": "20000.00"}))
    assert base.metrics["final_equity"] != smaller.metrics["final_equity"]


def test_the_point_in_time_source_is_left_as_it_was_given(sample_bars, tmp_path):
    table = tmp_path / "fundamentals.csv"
    table.write_text("date,symbol,pe,debt_equity,market_cap\n2020-01-01,AAPL,20,0.5,2000000000000\n")
    source = PointInTimeFundamentals(table)
    before = source.today
    result = run_fast(
        sample_bars, "open", Settings().with_values({"FUNDAMENTAL_GUARD_ENABLED": "true"}), fundamentals=source
    )
    assert source.today is before
    assert result.blocks.get("finnhub_fundamental_guard", 0) > 0  # only AAPL has figures: the others are blocked


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ({"STRAT_OPEN_FLAT_MINUTES_BEFORE_CLOSE": "45"}, "STRAT_OPEN_FLAT_MINUTES_BEFORE_CLOSE=45"),
        ({"STRAT_MID_FLAT_MINUTES_BEFORE_CLOSE": "31"}, "STRAT_MID_FLAT_MINUTES_BEFORE_CLOSE=31"),
        ({"VIX_SOURCE": "file"}, "VIX_SOURCE=file"),
    ],
)
def test_settings_the_fast_engine_cannot_reproduce_are_refused_with_one_line(sample_bars, values, needle):
    with pytest.raises(ConfigError) as err:
        run_fast(sample_bars, "all", Settings().with_values(values))
    line = err.value.one_line()
    assert needle in line and "--engine bar" in line and "\n" not in line


def test_an_unknown_strategy_is_refused(sample_bars):
    with pytest.raises(ConfigError, match="--strategy"):
        run_fast(sample_bars, "momentum", Settings())
