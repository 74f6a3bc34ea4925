"""No look-ahead: rewriting every bar after t leaves every decision up to t unchanged."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from tbot_core.backtest.backtest_engine import run_fast
from tbot_core.backtest.data import SymbolBars, read_bars_csv
from tbot_core.backtest.portfolio import FillModel
from tbot_core.backtest.sources import attach_vix
from tbot_core.config import Settings
from tbot_core.paths import package_sample_data

MODEL = FillModel(Decimal(100000), Decimal("0.25"), Decimal("0.005"), Decimal(0), Decimal(2))


def _scramble_after(series: SymbolBars, t: int, seed: int) -> SymbolBars:
    rng = np.random.default_rng(seed)

    def tail(a):
        out = a.copy()
        out[t + 1 :] = a[t + 1 :] * rng.uniform(0.8, 1.2, len(a) - t - 1)
        return out

    close, open_ = tail(series.close), tail(series.open)
    high = np.maximum(np.maximum(open_, close), tail(series.high))
    low = np.minimum(np.minimum(open_, close), tail(series.low))
    vix = None if series.vix is None else tail(series.vix)
    return SymbolBars(series.symbol, series.ts, open_, high, low, close, tail(series.volume), vix)


def _decisions_up_to(result, t: int) -> list[tuple]:
    """Entries and exits decided on bars <= t (their fills happen at t+1 at the latest)."""
    out = []
    for tr in result.simulation.trades:
        if tr.entry_signal_bar <= t:
            out.append(
                (
                    "entry",
                    tr.symbol,
                    tr.entry_signal_bar,
                    tr.entry_bar,
                    tr.qty,
                    tr.entry_price if tr.entry_bar <= t else None,
                )
            )
        if tr.exit_signal_bar is not None and tr.exit_signal_bar <= t:
            out.append(("exit", tr.symbol, tr.exit_signal_bar, tr.exit_bar))
    return out


@pytest.fixture(scope="module")
def sample_bars():
    bars = read_bars_csv(package_sample_data("sample_ohlcv.csv"))
    return attach_vix(bars, package_sample_data("sample_vix.csv"))


@pytest.mark.parametrize("strategy", ["sma_cross", "open", "mid", "close"])
def test_changing_the_future_does_not_change_past_decisions(strategy, sample_bars):
    base = run_fast(sample_bars, strategy, Settings(), model=MODEL)
    n = len(next(iter(sample_bars.values())))
    for t in (n // 5, n // 2, (4 * n) // 5):
        changed = {s: _scramble_after(b, t, seed=t) for s, b in sample_bars.items()}
        other = run_fast(changed, strategy, Settings(), model=MODEL)
        assert _decisions_up_to(other, t) == _decisions_up_to(base, t), f"{strategy}: decisions up to bar {t} changed"


@pytest.mark.parametrize("strategy", ["sma_cross", "open", "mid", "close"])
def test_every_strategy_trades_on_the_sample_data(strategy, sample_bars):
    """Guards the test above against passing vacuously with no trades at all."""
    assert len(run_fast(sample_bars, strategy, Settings(), model=MODEL).simulation.trades) >= 3
