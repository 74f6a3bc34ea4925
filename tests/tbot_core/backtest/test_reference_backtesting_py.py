"""sma_cross (10/20) on backtesting.py's GOOG data gives the same trades and final equity as backtesting.py.

backtesting.py settings that express our fill rules:
- ``trade_on_close=False``: a signal on bar t's close fills at bar t+1's open (our rule);
- ``commission=0``, ``spread=0`` and our ``BACKTEST_SLIPPAGE_BPS=0``, ``BACKTEST_COMMISSION_*=0``;
- ``self.buy()`` with its default size (all available equity, whole units) and our
  ``BACKTEST_POSITION_FRACTION=1``: whole shares with all the cash;
- long only: ``buy()`` on a cross above when flat, ``position.close()`` on a cross below;
- ``exclusive_orders=False``, ``hedging=False``, ``finalize_trades=False`` (an open trade
  at the end is marked to market in equity, as ours is).
"""

from __future__ import annotations

import warnings
from decimal import Decimal

import numpy as np
import pytest

backtesting = pytest.importorskip("backtesting")
from backtesting import Backtest, Strategy  # noqa: E402 - after importorskip, so a missing peer skips instead of failing collection
from backtesting.lib import crossover  # noqa: E402 - after importorskip, so a missing peer skips instead of failing collection
from backtesting.test import GOOG, SMA  # noqa: E402 - after importorskip, so a missing peer skips instead of failing collection

from tbot_core.backtest.backtest_engine import run_fast  # noqa: E402 - after importorskip, so a missing peer skips instead of failing collection
from tbot_core.backtest.data import bars_from_arrays  # noqa: E402 - after importorskip, so a missing peer skips instead of failing collection
from tbot_core.backtest.portfolio import FillModel  # noqa: E402 - after importorskip, so a missing peer skips instead of failing collection
from tbot_core.config import Settings  # noqa: E402 - after importorskip, so a missing peer skips instead of failing collection

CASH = 100_000


class LongOnlySmaCross(Strategy):
    n1, n2 = 10, 20

    def init(self):
        self.fast = self.I(SMA, self.data.Close, self.n1)
        self.slow = self.I(SMA, self.data.Close, self.n2)

    def next(self):
        if crossover(self.fast, self.slow) and not self.position:
            self.buy()
        elif crossover(self.slow, self.fast) and self.position:
            self.position.close()


@pytest.fixture(scope="module")
def peer():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = Backtest(
            GOOG,
            LongOnlySmaCross,
            cash=CASH,
            commission=0,
            spread=0,
            trade_on_close=False,
            exclusive_orders=False,
            hedging=False,
            finalize_trades=False,
        )
        stats = bt.run()
    return stats


@pytest.fixture(scope="module")
def ours():
    ts = GOOG.index.tz_localize("UTC").to_numpy(dtype="datetime64[ns]")
    bars = {
        "GOOG": bars_from_arrays(
            "GOOG",
            ts,
            GOOG.Open.to_numpy(),
            GOOG.High.to_numpy(),
            GOOG.Low.to_numpy(),
            GOOG.Close.to_numpy(),
            GOOG.Volume.to_numpy(),
        )
    }
    model = FillModel(Decimal(CASH), Decimal(1), Decimal(0), Decimal(0), Decimal(0))
    return run_fast(bars, "sma_cross", Settings(), signal_filter=None, model=model)


def test_same_trades_entry_exit_bars_prices_and_sizes(peer, ours):
    theirs = peer._trades  # closed trades only (finalize_trades=False)
    mine = [t for t in ours.simulation.trades if t.status == "closed"]
    assert len(mine) == len(theirs) > 10
    for t, m in zip(theirs.itertuples(), mine):
        assert (m.entry_bar, m.exit_bar, m.qty) == (t.EntryBar, t.ExitBar, t.Size)
        assert float(m.entry_price) == pytest.approx(t.EntryPrice, rel=1e-12)
        assert float(m.exit_price) == pytest.approx(t.ExitPrice, rel=1e-12)
        assert float(m.pnl) == pytest.approx(t.PnL, rel=1e-9, abs=1e-6)


def test_final_equity_within_one_millionth(peer, ours):
    assert float(ours.simulation.final_equity) == pytest.approx(peer["Equity Final [$]"], rel=1e-6)


def test_equity_curve_matches_bar_by_bar(peer, ours):
    theirs = peer._equity_curve["Equity"].to_numpy()
    np.testing.assert_allclose(ours.simulation.equity, theirs, rtol=1e-9)
