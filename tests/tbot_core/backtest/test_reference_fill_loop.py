"""The reference path's fill loop (inlined arithmetic, trades as columns) books exactly what the
``FillModel`` methods book when applied one order at a time.

The straightforward re-computation below is the model as documented: orders in fill-time order
(next open, ties in signal order), long only, ``fill_price``/``entry_qty``/``commission`` per fill,
all in ``Decimal``.  Hypothesis draws the markets, orders and costs, including cash too small for a
share (skipped entries), slippage, per-share and percentage commissions, several symbols whose
bars interleave, and orders on the last bar (never filled).  Every Decimal must be equal, not close.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tbot_core.backtest.data import SymbolBars, bars_from_arrays
from tbot_core.backtest.metrics import compute
from tbot_core.backtest.portfolio import FillModel, Order, SimulationResult, TradeTable, simulate

START = np.datetime64("2026-01-05T14:30", "ns")


@dataclass
class Market:
    bars: dict[str, SymbolBars]
    orders: list[Order]
    model: FillModel


@st.composite
def markets(draw: st.DrawFn) -> Market:
    n_symbols = draw(st.integers(1, 3))
    bars: dict[str, SymbolBars] = {}
    for k in range(n_symbols):
        n = draw(st.integers(2, 30))
        cents = draw(st.booleans())
        price = st.integers(1, 30_000).map(lambda c: c / 100) if cents else st.floats(0.01, 500.0)
        opens = np.array(draw(st.lists(price, min_size=n, max_size=n)))
        closes = np.array(draw(st.lists(price, min_size=n, max_size=n)))
        step = draw(st.sampled_from([60, 120, 300]))
        ts = START + np.timedelta64(draw(st.integers(0, 3)) * 60, "s") + np.arange(n) * np.timedelta64(step, "s")
        high, low = np.maximum(opens, closes), np.minimum(opens, closes)
        symbol = f"S{k}"
        bars[symbol] = bars_from_arrays(symbol, ts, opens, high, low, closes, np.full(n, 1000.0))
    orders = [
        Order(symbol, draw(st.integers(0, len(bars[symbol]) - 1)), side, draw(st.sampled_from(["a", "b"])))
        for symbol, side in draw(
            st.lists(st.tuples(st.sampled_from(sorted(bars)), st.sampled_from(["buy", "sell"])), max_size=40)
        )
    ]
    orders.sort(key=lambda o: (o.symbol, o.signal_bar))  # a strategy's signals: in time order per symbol
    cash = draw(st.sampled_from([Decimal("50"), Decimal("1000"), Decimal("100000"), Decimal("12345.67")]))
    if draw(st.booleans()):  # the plain model (no costs, all the cash) has a walk of its own
        return Market(bars, orders, FillModel(cash))
    model = FillModel(
        cash,
        draw(st.sampled_from([Decimal(1), Decimal("0.5"), Decimal("0.3")])),
        draw(st.sampled_from([Decimal(0), Decimal("0.005"), Decimal("1")])),
        draw(st.sampled_from([Decimal(0), Decimal("0.0005"), Decimal("0.01")])),
        draw(st.sampled_from([Decimal(0), Decimal(3), Decimal("1.5"), Decimal(40)])),
    )
    return Market(bars, orders, model)


def one_at_a_time(market: Market) -> tuple[list[tuple[object, ...]], Decimal, Decimal, int, int, int]:
    """The model by its methods, order by order: (trades, cash, final equity, ignored, unfilled, no cash)."""
    model, bars = market.model, market.bars
    fillable = [o for o in market.orders if o.signal_bar + 1 < len(bars[o.symbol])]
    unfilled = len(market.orders) - len(fillable)
    by_time = sorted(range(len(fillable)), key=lambda i: (bars[fillable[i].symbol].ts[fillable[i].signal_bar + 1], i))
    cash = model.starting_cash
    trades: list[list[object]] = []
    open_at: dict[str, list[object]] = {}
    ignored = no_cash = 0
    for i in by_time:
        order = fillable[i]
        at = order.signal_bar + 1
        open_price = float(bars[order.symbol].open[at])
        held = open_at.get(order.symbol)
        if order.side == "buy" and held is None:
            price = model.fill_price(open_price, "buy")
            qty = model.entry_qty(cash, price)
            if qty <= 0:
                no_cash += 1
                continue
            fee = model.commission(qty, price)
            cash -= qty * price + fee
            held = [order.strategy, order.symbol, qty, at - 1, at, price, fee, None, None, None, Decimal(0), None]
            trades.append(held)
            open_at[order.symbol] = held
        elif order.side == "sell" and held is not None:
            price = model.fill_price(open_price, "sell")
            qty = held[2]
            fee = model.commission(qty, price)  # type: ignore[arg-type]
            cash += qty * price - fee  # type: ignore[operator]
            held[7:12] = [at - 1, at, price, fee, (price - held[5]) * qty - held[6] - fee]  # type: ignore[operator]
            del open_at[order.symbol]
        else:
            ignored += 1
    equity = cash
    for symbol, held in open_at.items():
        last = Decimal(repr(float(bars[symbol].close[-1])))
        held[11] = (last - held[5]) * held[2] - held[6]  # type: ignore[operator]
        equity += held[2] * last  # type: ignore[operator]
    return [tuple(t) for t in trades], cash, equity, ignored, unfilled, no_cash


def booked(result: SimulationResult) -> list[tuple[object, ...]]:
    return [
        (
            t.strategy,
            t.symbol,
            t.qty,
            t.entry_signal_bar,
            t.entry_bar,
            t.entry_price,
            t.entry_commission,
            t.exit_signal_bar,
            t.exit_bar,
            t.exit_price,
            t.exit_commission,
            t.pnl if t.status == "closed" else None,
        )
        for t in result.trades
    ]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markets())
def test_fill_loop_books_every_decimal_the_fill_model_methods_book_order_by_order(market: Market) -> None:
    result = simulate(market.bars, market.orders, market.model)
    trades, cash, equity, ignored, unfilled, no_cash = one_at_a_time(market)
    # The reference marks an open trade's PnL in place at the end; compare it from the trades themselves.
    expected = [t[:11] + ((t[11] if t[8] is not None else None),) for t in trades]
    assert booked(result) == expected
    assert [t.pnl for t in result.trades] == [t[11] for t in trades]
    assert (result.final_cash, result.final_equity) == (cash, equity)
    assert (result.ignored_signals, result.unfilled_signals, result.skipped_no_cash) == (ignored, unfilled, no_cash)
    assert all(isinstance(t.pnl, Decimal) and isinstance(t.entry_price, Decimal) for t in result.trades)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markets())
def test_metrics_from_trade_columns_equal_metrics_from_trade_objects(market: Market) -> None:
    result = simulate(market.bars, market.orders, market.model)
    assert isinstance(result.trades, TradeTable)
    as_objects = SimulationResult(
        list(result.trades), result.timeline, result.equity, result.final_cash, result.final_equity
    )
    columns = compute(result, market.bars, market.model.starting_cash, {})
    objects = compute(as_objects, market.bars, market.model.starting_cash, {})
    for key in ("ignored_signals", "unfilled_signals", "skipped_insufficient_cash"):
        columns.pop(key), objects.pop(key)
    assert columns == objects


def test_trade_table_indexes_like_a_list() -> None:
    market = Market(
        {
            "S0": bars_from_arrays(
                "S0", START + np.arange(4) * np.timedelta64(60, "s"), *[np.array([10.0, 11, 12, 13])] * 4, np.ones(4)
            )
        },
        [Order("S0", 0, "buy", "a"), Order("S0", 1, "sell", "a"), Order("S0", 2, "buy", "a")],
        FillModel(Decimal(100)),
    )
    trades = simulate(market.bars, market.orders, market.model).trades
    assert len(trades) == 2 and [t.trade_id for t in trades] == [1, 2]
    assert trades[-1].status == "open" and trades[0].status == "closed"
    assert trades[0].pnl == (Decimal("12.0") - Decimal("11.0")) * 9
    assert [t.trade_id for t in trades[1:]] == [2]
