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

Cash, fills, commissions and PnL are ``Decimal``, computed in one loop over
the fills only (``fill_loop``); the trades come back as columns (``TradeTable``);
the per-bar equity curve (a view for metrics and plots) is a float array built
with vectorized steps, so a million bars cost a few array passes, not a Python loop.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import overload

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
    trades: Sequence[Trade]  # a list, or a TradeTable (columns, Trade objects built on access)
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
    picked = np.flatnonzero(fills_at)
    when = np.zeros(len(picked), dtype=np.int64)
    open_at = np.zeros(len(picked))
    for k, s in enumerate(symbols):
        mine = np.flatnonzero(sym[picked] == k)
        at = bar[picked[mine]]
        when[mine] = bars[s].ts[at].astype(np.int64)
        open_at[mine] = bars[s].open[at]
    order = np.lexsort((picked, when))  # by fill time, then order of the signals
    picked, when, open_at = picked[order], when[order], open_at[order]
    from tbot_core.backtest.fill_loop import fill_loop  # imports this module: here, not at the top

    book = fill_loop(sym[picked], bar[picked], orders.buy[picked], open_at, len(symbols), model)
    table = book.table
    table.strategy = [orders.strategy[i] for i in picked[np.array(table.row, dtype=np.int64)].tolist()]
    table.symbols = symbols
    steps = np.array(book.cash_rows, dtype=np.int64)
    where = np.searchsorted(timeline.view(np.int64), when[steps]) if len(steps) else steps
    equity = steps_to_array(
        len(timeline),
        where,
        np.fromiter(map(float, book.cash_after), np.float64, len(book.cash_after)),
        float(model.starting_cash),
    )
    final_equity = book.cash
    for k, symbol in enumerate(symbols):
        series = bars[symbol]
        if not book.qty_bars[k]:
            continue
        held = steps_to_array(
            len(series), np.array(book.qty_bars[k], dtype=np.int64), np.array(book.qty_held[k], dtype=np.float64), 0.0
        )
        if len(symbols) == 1:
            equity = equity + held * series.close
        else:
            pos = latest_bar(series.ts, timeline)
            valid = pos >= 0
            contrib = np.zeros(len(timeline))
            contrib[valid] = held[pos[valid]] * series.close[pos[valid]]
            equity = equity + contrib
    for j in sorted(j for j in book.holding if j is not None):  # still held: marked at the last close
        last = Decimal(repr(float(bars[symbols[table.symbol[j]]].close[-1])))
        table.pnl[j] = (last - table.entry_price[j]) * table.qty[j] - table.entry_fee[j]
        final_equity += table.qty[j] * last
    return SimulationResult(table, timeline, equity, book.cash, final_equity, book.ignored, unfilled, book.no_cash)


@dataclass
class TradeTable(Sequence[Trade]):
    """The reference path's trades as columns; a ``Trade`` is built only when one is asked for.

    A million bars make some 28,000 trades: an object (and its ``__dict__``) per trade made the cyclic
    garbage collector sweep the whole heap again and again, a third of the run.  Columns of ints and
    ``Decimal`` (neither tracked by the collector) hold the same exact values; ``metrics`` reads them
    directly, the output writer iterates ``Trade`` objects as from any list.
    """

    row: list[int] = field(default_factory=list)  # the fill's position in fill order (-> its strategy)
    symbol: list[int] = field(default_factory=list)  # rank in ``symbols``
    qty: list[int] = field(default_factory=list)
    entry_bar: list[int] = field(default_factory=list)
    entry_price: list[Decimal] = field(default_factory=list)
    entry_fee: list[Decimal] = field(default_factory=list)
    exit_bar: list[int | None] = field(default_factory=list)
    exit_price: list[Decimal | None] = field(default_factory=list)
    exit_fee: list[Decimal] = field(default_factory=list)
    pnl: list[Decimal] = field(default_factory=list)
    symbols: list[str] = field(default_factory=list)
    strategy: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.qty)

    @overload
    def __getitem__(self, i: int) -> Trade: ...

    @overload
    def __getitem__(self, i: slice) -> list[Trade]: ...

    def __getitem__(self, i: int | slice) -> Trade | list[Trade]:
        if isinstance(i, slice):
            return [self._trade(j) for j in range(*i.indices(len(self)))]
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        return self._trade(i % len(self))

    def __iter__(self) -> Iterator[Trade]:
        return (self._trade(j) for j in range(len(self)))

    def _trade(self, j: int) -> Trade:
        exit_bar = self.exit_bar[j]
        return Trade(
            j + 1,
            self.strategy[j],
            self.symbols[self.symbol[j]],
            self.qty[j],
            self.entry_bar[j] - 1,
            self.entry_bar[j],
            self.entry_price[j],
            self.entry_fee[j],
            None if exit_bar is None else exit_bar - 1,
            exit_bar,
            self.exit_price[j],
            self.exit_fee[j],
            self.pnl[j],
            "open" if exit_bar is None else "closed",
        )


def step_array(length: int, steps: list[tuple[int, float]], initial: float) -> np.ndarray:
    """A piecewise-constant array: value ``v`` from index ``i`` on, for each ``(i, v)`` in order."""
    idx = np.fromiter((i for i, _ in steps), dtype=np.int64, count=len(steps))
    vals = np.fromiter((v for _, v in steps), dtype=np.float64, count=len(steps))
    return steps_to_array(length, idx, vals, initial)


def steps_to_array(length: int, idx: np.ndarray, vals: np.ndarray, initial: float) -> np.ndarray:
    """``step_array`` over columns (``idx`` ascending): the last step at or before each index, by a running max.

    Each index is marked with its last step's number, and ``maximum.accumulate`` carries it forward: two
    array passes, where a ``searchsorted`` per index cost a binary search each.
    """
    if not len(idx):
        return np.full(length, initial)
    last = np.r_[idx[1:] != idx[:-1], True]
    marker = np.zeros(length, dtype=np.int64)
    marker[idx[last]] = np.flatnonzero(last) + 1
    np.maximum.accumulate(marker, out=marker)
    return np.r_[initial, vals][marker]
