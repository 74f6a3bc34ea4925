"""Backtest metrics, with formulas an operator can check by hand.

- daily returns: the equity at each UTC day's last bar, ``r_d = E_d / E_{d-1} - 1``
  (the first day against the starting cash);
- Sharpe (annualized): ``mean(r_d) / std(r_d, ddof=1) * sqrt(252)``, risk-free
  rate 0 — the definition empyrical uses, which the tests check against.  It
  needs ``MIN_DAYS_ANNUALIZED`` (20) daily returns: scaling three days' noise
  by sqrt(252) gives a confident-looking number that means nothing, so below
  that it is null and the summary says "n/a (N days < 20)";
- max drawdown: the most negative ``E_t / max_{s<=t} E_s - 1`` over every bar
  (intraday lows included), starting from the starting cash;
- total return: ``final equity / starting cash - 1``;
- win rate, average PnL and average duration over closed trades.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from tbot_core.backtest.data import SymbolBars
from tbot_core.backtest.portfolio import SimulationResult, Trade, TradeTable

TRADING_DAYS = 252
# About a trading month: the fewest daily returns an annualized figure is reported for.
MIN_DAYS_ANNUALIZED = 20


@dataclass(frozen=True)
class DailySeries:
    dates: list[str]
    equity: np.ndarray
    returns: np.ndarray
    drawdown: np.ndarray


def daily_series(result: SimulationResult, starting_cash: float) -> DailySeries:
    days = result.timeline.astype("datetime64[D]")
    last_of_day = np.r_[days[1:] != days[:-1], True]
    equity = result.equity[last_of_day]
    previous = np.r_[starting_cash, equity[:-1]]
    returns = equity / previous - 1.0
    peak = np.maximum.accumulate(np.r_[starting_cash, equity])[1:]
    return DailySeries([str(d) for d in days[last_of_day]], equity, returns, equity / peak - 1.0)


def sharpe_annualized(returns: np.ndarray) -> float | None:
    if len(returns) < 2:
        return None
    std = float(np.std(returns, ddof=1))
    if std == 0 or not math.isfinite(std):
        return None
    return float(np.mean(returns)) / std * math.sqrt(TRADING_DAYS)


def max_drawdown(equity: np.ndarray, starting_cash: float) -> float:
    curve = np.r_[starting_cash, equity]
    return float(np.min(curve / np.maximum.accumulate(curve) - 1.0))


def trade_seconds(bars: dict[str, SymbolBars], trade: Trade) -> float | None:
    if trade.exit_bar is None:
        return None
    ts = bars[trade.symbol].ts
    return float((ts[trade.exit_bar] - ts[trade.entry_bar]) / np.timedelta64(1, "s"))


def trade_durations(bars: dict[str, SymbolBars], closed: list[Trade]) -> np.ndarray:
    """Seconds from entry to exit of each closed trade, in order (``trade_seconds`` over arrays, per symbol)."""
    out = np.empty(len(closed))
    rows: dict[str, list[int]] = {}
    for i, t in enumerate(closed):
        rows.setdefault(t.symbol, []).append(i)
    for symbol, picked in rows.items():
        ts = bars[symbol].ts
        entry = np.fromiter((closed[i].entry_bar for i in picked), np.int64, len(picked))
        exit_ = np.fromiter((closed[i].exit_bar or 0 for i in picked), np.int64, len(picked))
        out[picked] = (ts[exit_] - ts[entry]) / np.timedelta64(1, "s")
    return out


@dataclass(frozen=True)
class ClosedTrades:
    """What the metrics need of the closed trades, in trade order: PnL, bars held, seconds held."""

    pnl: list[Decimal]
    bars_held: np.ndarray
    seconds: np.ndarray


def closed_trades(result: SimulationResult, bars: dict[str, SymbolBars]) -> ClosedTrades:
    """From a ``TradeTable``'s columns (no ``Trade`` built), else from the trade objects."""
    trades = result.trades
    if not isinstance(trades, TradeTable):
        closed = [t for t in trades if t.status == "closed"]
        held = np.array([t.exit_bar - t.entry_bar for t in closed if t.exit_bar is not None], dtype=np.int64)
        return ClosedTrades([t.pnl for t in closed], held, trade_durations(bars, closed))
    picked = [j for j, e in enumerate(trades.exit_bar) if e is not None]
    exit_ = np.array([trades.exit_bar[j] for j in picked], dtype=np.int64)
    entry = np.array(trades.entry_bar, dtype=np.int64)[picked]
    rank = np.array(trades.symbol, dtype=np.int64)[picked]
    seconds = np.empty(len(picked))
    for k, symbol in enumerate(trades.symbols):
        mine = np.flatnonzero(rank == k)
        ts = bars[symbol].ts
        seconds[mine] = (ts[exit_[mine]] - ts[entry[mine]]) / np.timedelta64(1, "s")
    return ClosedTrades([trades.pnl[j] for j in picked], exit_ - entry, seconds)


def compute(
    result: SimulationResult, bars: dict[str, SymbolBars], starting_cash: Decimal, blocks: dict[str, int]
) -> dict[str, object]:
    closed = closed_trades(result, bars)
    n_closed = len(closed.pnl)
    wins = sum(1 for p in closed.pnl if p > 0)
    daily = daily_series(result, float(starting_cash))
    sharpe = sharpe_annualized(daily.returns) if len(daily.returns) >= MIN_DAYS_ANNUALIZED else None
    avg_pnl = (sum(closed.pnl, Decimal(0)) / n_closed).quantize(Decimal("0.01")) if n_closed else None
    return {
        "final_equity": str(result.final_equity.quantize(Decimal("0.01"))),
        "final_cash": str(result.final_cash.quantize(Decimal("0.01"))),
        "total_return": _fmt((result.final_equity / starting_cash) - 1),
        "trades": len(result.trades),
        "closed_trades": n_closed,
        "win_rate": _fmt(Decimal(wins) / n_closed) if n_closed else None,
        "avg_trade_pnl": str(avg_pnl) if avg_pnl is not None else None,
        "avg_trade_duration_bars": float(np.mean(closed.bars_held)) if n_closed else None,
        "avg_trade_duration_seconds": float(np.mean(closed.seconds)) if closed.seconds.size else None,
        "max_drawdown": f"{max_drawdown(result.equity, float(starting_cash)):.6f}",
        "sharpe_annualized": f"{sharpe:.6f}" if sharpe is not None else None,
        "blocks_per_filter": dict(sorted(blocks.items())),
        "ignored_signals": result.ignored_signals,
        "unfilled_signals": result.unfilled_signals,
        "skipped_insufficient_cash": result.skipped_no_cash,
        "days": len(daily.dates),
        "annualized_min_days": MIN_DAYS_ANNUALIZED,
    }


def _fmt(value: Decimal) -> str:
    return f"{value:.6f}"
