"""The paper broker's fills (from the scratch ``core.db``) turned into the backtest's trades and equity curve.

The live engine's result is what its paper broker booked, nothing recomputed
beside it: a trade is one symbol's round trip from flat back to flat (one or
more buys, then sells until nothing is held); its entry/exit prices are the
quantity-weighted fill prices, its PnL the exact Decimal proceeds minus cost
minus every fee.  The cash replayed from the fills must equal the paper
account's cash to the cent, or the run is refused (a misread fill would make
every figure lie).  The per-bar equity curve is the same float view the fast
path builds (cash steps at each fill, holdings marked at each close).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from tbot_core.backtest.data import SymbolBars, bar_times, latest_bar
from tbot_core.backtest.portfolio import SimulationResult, Trade, step_array
from tbot_core.brokers.base import Fill
from tbot_core.errors import LogicError

PRICE_STEP = Decimal("0.0001")


@dataclass
class _RoundTrip:
    """One symbol's position from its first buy until it is flat again."""

    strategy: str
    first_bar: int
    bought: int = 0
    cost: Decimal = Decimal(0)
    buy_fees: Decimal = Decimal(0)
    sold: int = 0
    proceeds: Decimal = Decimal(0)
    sell_fees: Decimal = Decimal(0)
    last_bar: int | None = None

    @property
    def held(self) -> int:
        return self.bought - self.sold


def _bars_of(fills: list[Fill], bars: dict[str, SymbolBars]) -> tuple[np.ndarray, np.ndarray]:
    """Per fill: the index of the bar whose close it happened at (its ``timestamp_utc`` is that bar's time), or
    -1 where its symbol has no such bar; and the fill's time as datetime64[ns].  One search per symbol, not per
    fill: a backtest books thousands of fills."""
    moments = np.array([f.timestamp_utc.replace(tzinfo=None) for f in fills], dtype="datetime64[ns]")
    found = np.full(len(fills), -1, dtype=np.int64)
    by_symbol: dict[str, list[int]] = {}
    for k, fill in enumerate(fills):
        by_symbol.setdefault(fill.symbol, []).append(k)
    for symbol, ks in by_symbol.items():
        series = bars.get(symbol)
        if series is None or not len(series):
            continue
        at = np.asarray(ks, dtype=np.int64)
        wanted = moments[at]
        i = np.searchsorted(series.ts, wanted, side="left")
        hit = (i < len(series)) & (series.ts[np.minimum(i, len(series) - 1)] == wanted)
        found[at[hit]] = i[hit]
    return found, moments


def _trade(number: int, symbol: str, trip: _RoundTrip, mark: Decimal | None) -> Trade:
    entry_price = (trip.cost / trip.bought).quantize(PRICE_STEP)
    trade = Trade(
        number, trip.strategy, symbol, trip.bought, trip.first_bar, trip.first_bar, entry_price, trip.buy_fees
    )
    if trip.held == 0:
        trade.exit_signal_bar = trade.exit_bar = trip.last_bar
        trade.exit_price = (trip.proceeds / trip.sold).quantize(PRICE_STEP)
        trade.exit_commission = trip.sell_fees
        trade.pnl = trip.proceeds - trip.cost - trip.buy_fees - trip.sell_fees
        trade.status = "closed"
    else:  # still held at the end: marked at the paper broker's last mark, as its account is
        value = trip.held * mark if mark is not None else Decimal(0)
        trade.pnl = trip.proceeds + value - trip.cost - trip.buy_fees - trip.sell_fees
    return trade


def simulation_from_fills(
    fills: list[Fill],
    bars: dict[str, SymbolBars],
    *,
    starting_cash: Decimal,
    final_cash: Decimal,
    final_equity: Decimal,
    marks: dict[str, Decimal],
    times: np.ndarray | None = None,
) -> SimulationResult:
    """Trades and the equity curve from the broker's fills, in the order it booked them (``times``: the bars'
    ``bar_times`` when the caller has them already)."""
    symbols = sorted(bars)
    timeline = bar_times(bars) if times is None else times
    cash = starting_cash
    open_trips: dict[str, _RoundTrip] = {}
    done: list[tuple[str, _RoundTrip]] = []
    cash_steps: list[tuple[int, float]] = []
    qty_steps: dict[str, list[tuple[int, int]]] = {s: [] for s in symbols}
    bar_of, moments = _bars_of(fills, bars)
    on_timeline = np.searchsorted(timeline, moments).tolist()  # a fill's bar time is on the timeline
    for k, fill in enumerate(fills):
        if fill.symbol not in bars:
            raise LogicError(f"fill {fill.fitid}: {fill.symbol} is not in the backtest's bars")
        bar, qty = int(bar_of[k]), int(fill.qty)
        if bar < 0:
            raise LogicError(f"fill {fill.fitid}: {fill.symbol} has no bar at {fill.timestamp_utc.isoformat()}")
        trip = open_trips.get(fill.symbol)
        if fill.side == "buy":
            if trip is None:
                trip = open_trips[fill.symbol] = _RoundTrip(fill.strategy, bar)
            trip.bought += qty
            trip.cost += qty * fill.price
            trip.buy_fees += fill.fee
            cash -= qty * fill.price + fill.fee
        else:
            if trip is None or qty > trip.held:
                raise LogicError(f"fill {fill.fitid}: sells {qty} {fill.symbol} with less held (long only)")
            trip.sold += qty
            trip.proceeds += qty * fill.price
            trip.sell_fees += fill.fee
            trip.last_bar = bar
            cash += qty * fill.price - fill.fee
            if trip.held == 0:
                done.append((fill.symbol, open_trips.pop(fill.symbol)))
        qty_steps[fill.symbol].append((bar, trip.held))
        cash_steps.append((on_timeline[k], float(cash)))
    if cash != final_cash:
        raise LogicError(f"paper fills replay to cash {cash}, but the paper account holds {final_cash}")
    done.extend(open_trips.items())
    # By entry time as int nanoseconds (comparing numpy datetime64 scalars costs microseconds each), then symbol.
    nanos = {symbol: bars[symbol].ts.astype("datetime64[ns]", copy=False).view(np.int64) for symbol in symbols}
    done.sort(key=lambda item: (int(nanos[item[0]][item[1].first_bar]), item[0]))
    trades = [_trade(n, symbol, trip, marks.get(symbol)) for n, (symbol, trip) in enumerate(done, start=1)]
    equity = step_array(len(timeline), cash_steps, float(starting_cash))
    for symbol in symbols:
        if not qty_steps[symbol]:
            continue
        series = bars[symbol]
        held = step_array(len(series), [(b, float(q)) for b, q in qty_steps[symbol]], 0.0)
        # Usually every symbol has a bar at every time of the timeline: its own bars are then the timeline's.
        same = len(series.ts) == len(timeline) and np.array_equal(series.ts, timeline)
        pos = np.arange(len(timeline)) if same else latest_bar(series.ts, timeline)
        valid = pos >= 0
        contrib = np.zeros(len(timeline))
        contrib[valid] = held[pos[valid]] * series.close[pos[valid]]
        equity = equity + contrib
    return SimulationResult(trades, timeline, equity, final_cash, final_equity)
