"""The bar engine's result is replayed from the paper broker's fills: every fill must sit on a bar of its symbol
and sell no more than is held, and the replayed cash must equal the account's, or the run is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from tbot_core.backtest.data import SymbolBars
from tbot_core.backtest.fills import simulation_from_fills
from tbot_core.brokers.base import Fill
from tbot_core.errors import LogicError

T0 = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)


def _bars(symbol: str, n: int = 5, start: datetime = T0) -> SymbolBars:
    ts = np.array([(start + timedelta(minutes=i)).replace(tzinfo=None) for i in range(n)], dtype="datetime64[ns]")
    close = np.array([100.0 + i for i in range(n)])
    return SymbolBars(symbol, ts, close, close, close, close, np.full(n, 1000.0))


def _fill(n: int, symbol: str, side: str, qty: int, price: str, minute: int, fee: str = "1") -> Fill:
    return Fill(
        f"f{n}",
        f"o{n}",
        symbol,
        side,
        Decimal(qty),
        Decimal(price),
        Decimal(fee),
        T0 + timedelta(minutes=minute),
        "mid",
    )


BARS = {"AAPL": _bars("AAPL"), "SPY": _bars("SPY", start=T0 + timedelta(minutes=2))}


def test_fills_of_two_symbols_replay_to_trades_cash_steps_and_the_equity_curve():
    fills = [
        _fill(1, "AAPL", "buy", 10, "100", 0),
        _fill(2, "SPY", "buy", 5, "102", 2),
        _fill(3, "AAPL", "sell", 10, "103", 3),
    ]
    cash = Decimal(10_000) - 1000 - 1 - 510 - 1 + 1030 - 1
    result = simulation_from_fills(
        fills, BARS, starting_cash=Decimal(10_000), final_cash=cash, final_equity=cash, marks={"SPY": Decimal(104)}
    )
    closed, held = result.trades
    assert (closed.symbol, closed.entry_bar, closed.exit_bar, closed.pnl, closed.status) == (
        "AAPL",
        0,
        3,
        Decimal(28),
        "closed",
    )
    assert (held.symbol, held.entry_bar, held.pnl) == ("SPY", 0, Decimal(5 * 104 - 510 - 1))
    # the timeline is minutes 0-6 (AAPL 0-4, SPY 2-6); cash steps at minutes 0, 2 and 3, holdings at each close
    assert result.equity.tolist() == [
        8999 + 10 * 100,
        8999 + 10 * 101,
        8488 + 10 * 102 + 5 * 100,
        9517 + 5 * 101,
        9517 + 5 * 102,
        9517 + 5 * 103,
        9517 + 5 * 104,
    ]


@pytest.mark.parametrize(
    "fills, message",
    [
        (
            [_fill(1, "AAPL", "buy", 1, "100", 0, fee="0"), _fill(2, "AAPL", "buy", 1, "100", 30, fee="0")],
            "f2: AAPL has no bar at",
        ),
        ([_fill(1, "SPY", "buy", 1, "100", 0, fee="0")], "f1: SPY has no bar at"),  # before SPY's first bar
        ([_fill(1, "MSFT", "buy", 1, "100", 0, fee="0")], "f1: MSFT is not in the backtest's bars"),
        ([_fill(1, "AAPL", "sell", 1, "100", 0, fee="0"), _fill(2, "AAPL", "buy", 1, "100", 99)], "f1: sells 1 AAPL"),
    ],
    ids=["off-bar", "before-first-bar", "unknown-symbol", "sell-first-then-off-bar"],
)
def test_a_fill_that_cannot_be_placed_is_refused_naming_the_first_one_in_booking_order(fills, message):
    with pytest.raises(LogicError, match=message):
        simulation_from_fills(
            fills, BARS, starting_cash=Decimal(1000), final_cash=Decimal(0), final_equity=Decimal(0), marks={}
        )


def test_a_replay_whose_cash_differs_from_the_account_by_a_cent_is_refused():
    fills = [_fill(1, "AAPL", "buy", 1, "100", 0, fee="0")]
    with pytest.raises(LogicError, match="replay to cash 900"):
        simulation_from_fills(
            fills, BARS, starting_cash=Decimal(1000), final_cash=Decimal("900.01"), final_equity=Decimal(0), marks={}
        )
