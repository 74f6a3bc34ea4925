"""The backtest fill model and account: exact money for fills, arrays for the equity curve.

Fill model (documented in the README):
- a signal is decided on bar t's close and filled at bar t+1's open; a signal
  on the last bar never fills (there is no next open);
- long only: ``buy`` opens a position when flat, ``sell`` closes it; other
  signals are counted as ignored;
- entries use ``BACKTEST_POSITION_FRACTION`` of the cash, in whole shares,
  after slippage and commission (the same rule backtesting.py applies to a
  relative order size);
- slippage moves the fill price against the trader by ``BACKTEST_SLIPPAGE_BPS``;
  commission is ``qty * BACKTEST_COMMISSION_PER_SHARE + notional * BACKTEST_COMMISSION_PCT``.

Cash, fills, commissions and PnL are ``Decimal``; the per-bar equity curve
(a view for metrics and plots) is a float array built with vectorized steps,
so a million bars cost a few array passes, not a Python loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

import numpy as np

from tbot_core.backtest.data import SymbolBars, bar_times, latest_bar
from tbot_core.config import Settings

CENT = Decimal("0.01")
PRICE_STEP = Decimal("0.0001")
BPS = Decimal("0.0001")


@dataclass(frozen=True)
class FillModel:
    starting_cash: Decimal
    position_fraction: Decimal = Decimal(1)
    commission_per_share: Decimal = Decimal(0)
    commission_pct: Decimal = Decimal(0)
    slippage_bps: Decimal = Decimal(0)

    @classmethod
    def from_settings(cls, settings: Settings) -> FillModel:
        return cls(
            settings.backtest_starting_cash,
            settings.backtest_position_fraction,
            settings.backtest_commission_per_share,
            settings.backtest_commission_pct,
            settings.backtest_slippage_bps,
        )

    def fill_price(self, open_price: float, side: str) -> Decimal:
        price = Decimal(repr(open_price))
        if not self.slippage_bps:
            return price
        factor = 1 + self.slippage_bps * BPS if side == "buy" else 1 - self.slippage_bps * BPS
        return (price * factor).quantize(PRICE_STEP)

    def commission(self, qty: int, price: Decimal) -> Decimal:
        if not (self.commission_per_share or self.commission_pct):
            return Decimal(0)
        return (qty * self.commission_per_share + qty * price * self.commission_pct).quantize(CENT)

    def entry_qty(self, cash: Decimal, price: Decimal) -> int:
        # Multiplying by 1 and adding 0 change no Decimal (the operands already fit the context): skipped.
        costs = self.commission_pct or self.commission_per_share
        per_share = price * (1 + self.commission_pct) + self.commission_per_share if costs else price
        budget = cash * self.position_fraction if self.position_fraction != 1 else cash
        return int((budget / per_share).to_integral_value(rounding=ROUND_FLOOR)) if budget > 0 else 0

    def describe(self) -> dict[str, str]:
        return {
            "rule": "signal on bar t close, fill at bar t+1 open; long only; whole shares",
            "starting_cash": str(self.starting_cash),
            "position_fraction": str(self.position_fraction),
            "commission_per_share": str(self.commission_per_share),
            "commission_pct": str(self.commission_pct),
            "slippage_bps": str(self.slippage_bps),
        }


@dataclass(frozen=True)
class Order:
    """A filtered signal waiting for the next open."""

    symbol: str
    signal_bar: int
    side: str
    strategy: str


@dataclass
class Trade:
    trade_id: int
    strategy: str
    symbol: str
    qty: int
    entry_signal_bar: int
    entry_bar: int
    entry_price: Decimal
    entry_commission: Decimal
    exit_signal_bar: int | None = None
    exit_bar: int | None = None
    exit_price: Decimal | None = None
    exit_commission: Decimal = Decimal(0)
    pnl: Decimal = Decimal(0)
    status: str = "open"


@dataclass
class SimulationResult:
    trades: list[Trade]
    timeline: np.ndarray  # datetime64[ns] of every bar of any symbol, sorted
    equity: np.ndarray  # float64 equity at each timeline bar's close
    final_cash: Decimal
    final_equity: Decimal
    ignored_signals: int = 0
    unfilled_signals: int = 0
    skipped_no_cash: int = 0
    notes: list[str] = field(default_factory=list)


def simulate(bars: dict[str, SymbolBars], orders: list[Order], model: FillModel) -> SimulationResult:
    symbols = sorted(bars)
    rank_of = {s: k for k, s in enumerate(symbols)}
    n = len(orders)
    return simulate_columns(
        bars,
        OrderColumns(
            np.fromiter((rank_of[o.symbol] for o in orders), np.int64, n),
            np.fromiter((o.signal_bar for o in orders), np.int64, n),
            np.fromiter((o.side == "buy" for o in orders), bool, n),
            [o.strategy for o in orders],
        ),
        model,
    )


@dataclass(frozen=True)
class OrderColumns:
    """Orders as columns (symbol rank in sorted symbols, signal bar, buy?, strategy): a strategy's array form
    hands these over without building an ``Order`` per signal."""

    symbol: np.ndarray
    signal_bar: np.ndarray
    buy: np.ndarray
    strategy: list[str]


def simulate_columns(bars: dict[str, SymbolBars], orders: OrderColumns, model: FillModel) -> SimulationResult:
    symbols = sorted(bars)
    timeline = bar_times(bars)
    # Fills happen at the next bar's open of the order's own symbol; process them in fill-time order.
    sym, n = orders.symbol, len(orders.strategy)
    bar = orders.signal_bar + 1
    length = np.array([len(bars[s]) for s in symbols], dtype=np.int64)
    fills_at = bar < length[sym] if n else np.zeros(0, dtype=bool)
    unfilled = int(n - np.count_nonzero(fills_at))
    when = np.zeros(n, dtype=np.int64)
    open_at = np.zeros(n)
    for k, s in enumerate(symbols):
        mine = np.flatnonzero((sym == k) & fills_at)
        when[mine] = bars[s].ts[bar[mine]].astype(np.int64)
        open_at[mine] = bars[s].open[bar[mine]]
    picked = np.flatnonzero(fills_at)
    picked = picked[np.lexsort((picked, when[picked]))]  # by fill time, then order of the signals
    rows = zip(
        picked.tolist(),
        [symbols[k] for k in sym[picked].tolist()],
        bar[picked].tolist(),
        orders.buy[picked].tolist(),
        open_at[picked].tolist(),
    )

    cash = model.starting_cash
    open_trades: dict[str, Trade] = {}
    trades: list[Trade] = []
    ignored = no_cash = 0
    cash_at: list[int] = []
    cash_after: list[float] = []
    qty_steps: dict[str, list[tuple[int, int]]] = {s: [] for s in symbols}
    for i, symbol, fill_bar, buy, open_price in rows:
        current = open_trades.get(symbol)
        if buy and current is None:
            price = model.fill_price(open_price, "buy")
            qty = model.entry_qty(cash, price)
            if qty <= 0:
                no_cash += 1
                continue
            commission = model.commission(qty, price)
            cash -= qty * price + commission
            trade = Trade(len(trades) + 1, orders.strategy[i], symbol, qty, fill_bar - 1, fill_bar, price, commission)
            trades.append(trade)
            open_trades[symbol] = trade
            qty_steps[symbol].append((fill_bar, qty))
        elif not buy and current is not None:
            price = model.fill_price(open_price, "sell")
            commission = model.commission(current.qty, price)
            cash += current.qty * price - commission
            current.exit_signal_bar, current.exit_bar, current.exit_price = fill_bar - 1, fill_bar, price
            current.exit_commission = commission
            current.pnl = (price - current.entry_price) * current.qty - current.entry_commission - commission
            current.status = "closed"
            del open_trades[symbol]
            qty_steps[symbol].append((fill_bar, 0))
        else:
            ignored += 1
            continue
        cash_at.append(i)
        cash_after.append(float(cash))
    where = np.searchsorted(timeline.astype(np.int64), when[np.array(cash_at, dtype=np.int64)])
    cash_steps = list(zip(where.tolist(), cash_after))

    equity = step_array(len(timeline), cash_steps, float(model.starting_cash))
    final_equity = cash
    for symbol in symbols:
        series = bars[symbol]
        if not qty_steps[symbol]:
            continue
        held = step_array(len(series), [(b, float(q)) for b, q in qty_steps[symbol]], 0.0)
        if len(symbols) == 1:
            equity = equity + held * series.close
        else:
            pos = latest_bar(series.ts, timeline)
            valid = pos >= 0
            contrib = np.zeros(len(timeline))
            contrib[valid] = held[pos[valid]] * series.close[pos[valid]]
            equity = equity + contrib
    for symbol, trade in open_trades.items():
        last = Decimal(repr(float(bars[symbol].close[-1])))
        trade.pnl = (last - trade.entry_price) * trade.qty - trade.entry_commission
        final_equity += trade.qty * last
    return SimulationResult(trades, timeline, equity, cash, final_equity, ignored, unfilled, no_cash)


def step_array(length: int, steps: list[tuple[int, float]], initial: float) -> np.ndarray:
    """A piecewise-constant array: value ``v`` from index ``i`` on, for each ``(i, v)`` in order."""
    if not steps:
        return np.full(length, initial)
    idx = np.fromiter((i for i, _ in steps), dtype=np.int64, count=len(steps))
    vals = np.fromiter((v for _, v in steps), dtype=np.float64, count=len(steps))
    which = np.searchsorted(idx, np.arange(length), side="right") - 1
    out = np.where(which >= 0, vals[np.maximum(which, 0)], initial)
    return out
