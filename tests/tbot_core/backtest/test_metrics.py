"""Backtest metrics agree with empyrical-reloaded on the same daily returns, and trade stats are exact."""

from __future__ import annotations

from decimal import Decimal

import empyrical
import numpy as np
import pytest

from tbot_core.backtest.backtest_engine import run_fast
from tbot_core.backtest.data import bars_from_arrays
from tbot_core.backtest.metrics import daily_series, max_drawdown, sharpe_annualized
from tbot_core.backtest.portfolio import FillModel
from tbot_core.config import Settings


def _random_walk_bars(n=3000, seed=7):
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0.0002, 0.012, n)))
    open_ = np.r_[100.0, close[:-1]] * (1 + rng.normal(0, 0.002, n))
    high = np.maximum(open_, close) * 1.003
    low = np.minimum(open_, close) * 0.997
    ts = np.datetime64("2015-01-01", "ns") + np.arange(n) * np.timedelta64(1, "D")
    return {"RW": bars_from_arrays("RW", ts, open_, high, low, close, np.full(n, 1e6))}


@pytest.fixture(scope="module")
def result():
    model = FillModel(Decimal(100000), Decimal(1), Decimal("0.005"), Decimal(0), Decimal(2))
    return run_fast(_random_walk_bars(), "sma_cross", Settings(), model=model)


def test_sharpe_and_drawdown_match_empyrical_on_the_same_daily_returns(result):
    daily = daily_series(result.simulation, 100000.0)
    assert sharpe_annualized(daily.returns) == pytest.approx(
        empyrical.sharpe_ratio(daily.returns, period="daily"), rel=1e-9
    )
    assert float(result.metrics["sharpe_annualized"]) == pytest.approx(empyrical.sharpe_ratio(daily.returns), rel=1e-5)
    # Daily bars: the per-bar drawdown is the daily one.
    assert max_drawdown(result.simulation.equity, 100000.0) == pytest.approx(
        empyrical.max_drawdown(daily.returns), rel=1e-9
    )
    total = float(result.metrics["total_return"])
    assert total == pytest.approx(empyrical.cum_returns_final(daily.returns), rel=1e-6, abs=1e-9)


def test_trade_statistics_are_computed_from_the_trades(result):
    closed = [t for t in result.simulation.trades if t.status == "closed"]
    assert closed
    wins = sum(t.pnl > 0 for t in closed)
    assert result.metrics["win_rate"] == f"{Decimal(wins) / len(closed):.6f}"
    avg = (sum((t.pnl for t in closed), Decimal(0)) / len(closed)).quantize(Decimal("0.01"))
    assert result.metrics["avg_trade_pnl"] == str(avg)
    assert result.metrics["avg_trade_duration_bars"] == pytest.approx(
        np.mean([t.exit_bar - t.entry_bar for t in closed])
    )
    assert result.metrics["avg_trade_duration_seconds"] == pytest.approx(
        86400 * result.metrics["avg_trade_duration_bars"]
    )


def test_cash_is_exact_decimal_money_through_every_fill(result):
    model_cash = Decimal(100000)
    for trade in result.simulation.trades:
        model_cash -= trade.entry_price * trade.qty + trade.entry_commission
        if trade.status == "closed":
            model_cash += trade.exit_price * trade.qty - trade.exit_commission
    assert model_cash == result.simulation.final_cash
    assert all(isinstance(t.pnl, Decimal) for t in result.simulation.trades)


def test_sharpe_is_undefined_for_flat_returns():
    assert sharpe_annualized(np.zeros(10)) is None
    assert sharpe_annualized(np.array([0.01])) is None


@pytest.mark.parametrize(("days", "defined"), [(19, False), (20, True)])
def test_sharpe_needs_twenty_daily_returns(days, defined):
    from tbot_core.backtest.backtest_engine import summary_lines
    from tbot_core.backtest.metrics import compute
    from tbot_core.backtest.portfolio import SimulationResult

    bars = _random_walk_bars(days, seed=3)
    equity = 100000 * (1 + np.random.default_rng(1).normal(0, 0.01, days)).cumprod()
    final = Decimal(f"{equity[-1]:.2f}")
    simulation = SimulationResult([], bars["RW"].ts, equity, final, final)
    metrics = compute(simulation, bars, Decimal(100000), {})
    assert metrics["days"] == days and (metrics["sharpe_annualized"] is not None) == defined
    line = next(x for x in summary_lines("sma_cross", metrics) if "Sharpe" in x)
    assert line.endswith("n/a (19 days < 20)") if not defined else "n/a" not in line
