"""The reference path: one strategy's ``simulate()``, the gate, and ``portfolio.simulate``'s next-open fills.

No risk bot, kill switch or shared account: the fill model backtesting.py and
vectorbt implement too (signal on bar t's close, fill at t+1's open, all the
cash in whole shares), so the reference tests and benches compare like with
like.  ``sma_cross`` runs only here: the core does not trade it (the risk
bot has no allocation for it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from tbot_core.backtest.data import SymbolBars
from tbot_core.backtest.metrics import compute
from tbot_core.backtest.portfolio import FillModel, Order, OrderColumns, simulate, simulate_columns
from tbot_core.backtest.run_info import BacktestResult
from tbot_core.config import Settings
from tbot_core.strategies.registry import STRATEGIES

if TYPE_CHECKING:
    from tbot_core.backtest.filtering import SignalFilter

REFERENCE_ONLY = ("sma_cross",)  # strategies the core does not trade: the reference path only
PROGRESS_BARS = 200_000


def run_reference(
    bars: dict[str, SymbolBars],
    strategy_name: str,
    settings: Settings,
    *,
    signal_filter: SignalFilter | None = None,
    model: FillModel | None = None,
    progress: Callable[[str], None] | None = None,
) -> BacktestResult:
    """The reference path: one strategy's ``simulate()`` -> the gate -> ``portfolio.simulate`` -> metrics.

    No risk bot, kill switch or shared account: the model backtesting.py and vectorbt
    implement too (signal on bar t's close, fill at t+1's open), for the reference tests.
    """
    model = model or FillModel.from_settings(settings)
    started = time.perf_counter()
    strategy = STRATEGIES[strategy_name](settings)
    orders: list[Order] = []
    columns: list[tuple[int, np.ndarray, np.ndarray]] = []
    blocks: dict[str, int] = {}
    n_signals = 0
    total = sum(len(b) for b in bars.values())
    array_form = getattr(strategy, "signal_bars", None) if signal_filter is None else None
    for number, (symbol, series) in enumerate(sorted(bars.items()), start=1):
        if progress and total >= PROGRESS_BARS:
            progress(f"[{number}/{len(bars)}] {symbol}: {len(series):,} bars")
        if array_form is not None:  # no gate to consult: orders straight from the strategy's arrays
            where, up = array_form(series.close, series.low, series.high)
            n_signals += len(where)
            columns.append((number - 1, where, up))
            continue
        signals = strategy.fresh().simulate(series.frame(), symbol=symbol)
        n_signals += len(signals)
        passed = []
        for signal in signals:
            if signal_filter is not None:
                verdict = signal_filter.decide(signal)
                if not verdict.allow:
                    blocks[verdict.module] = blocks.get(verdict.module, 0) + 1
                    continue
            passed.append(signal)
        for signal, bar in zip(passed, series.indices_of([s.ts for s in passed])):
            orders.append(Order(symbol, bar, signal.side, signal.strategy))
    if array_form is not None:
        size = sum(len(w) for _, w, _ in columns)
        result = simulate_columns(
            bars,
            OrderColumns(
                np.concatenate([np.full(len(w), k) for k, w, _ in columns]) if columns else np.zeros(0, np.int64),
                np.concatenate([w for _, w, _ in columns]) if columns else np.zeros(0, np.int64),
                np.concatenate([u for _, _, u in columns]) if columns else np.zeros(0, bool),
                [strategy.name] * size,
            ),
            model,
        )
    else:
        result = simulate(bars, orders, model)
    metrics = compute(result, bars, model.starting_cash, blocks)
    return BacktestResult(result, metrics, blocks, n_signals, total, time.perf_counter() - started)
