"""Helpers for the parity tests: synthetic OHLCV shaped by a few drawn parameters, and both engines' answers."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np

from tbot_core.backtest.data import SymbolBars
from tbot_core.backtest.fast.run import run_events
from tbot_core.backtest.fundamentals import PointInTimeFundamentals
from tbot_core.backtest.live import run_live
from tbot_core.backtest.run_info import EngineRun
from tbot_core.backtest.scratch import live_settings
from tbot_core.config import Settings
from tbot_core.identity import Identity

IDENTITY = Identity("TBOT_PAPER_01", "US", "PAPER")


@dataclass(frozen=True)
class Shape:
    """What a generated market looks like: drawn by hypothesis, turned into arrays by ``make_bars``."""

    seed: int
    first_day: str
    days: int
    step_minutes: int
    symbols: int
    grid: bool  # prices on a half-dollar grid: ties, flat windows, stretches of exactly 1.5 ATR
    zero_volume: bool  # some bars trade nothing (VWAP undefined at a session's start)
    vix: str  # none | low | around (the close strategy's VIX floor)
    gaps: bool = False  # each symbol misses some bars (its own times: marks carried between its bars)


def make_bars(shape: Shape, symbols: tuple[str, ...]) -> dict[str, SymbolBars]:
    """Bars from 13:00 to 21:30 UTC on consecutive calendar days (pre- and after-market, weekends, holidays)."""
    rng = np.random.default_rng(shape.seed)
    days = np.datetime64(shape.first_day) + np.arange(shape.days)
    minutes = np.arange(13 * 60, 21 * 60 + 30, shape.step_minutes)
    ts = (days.astype("datetime64[m]")[:, None] + minutes[None, :].astype("timedelta64[m]")).ravel()
    ts = ts.astype("datetime64[ns]")
    n = ts.size
    vix = None
    if shape.vix != "none":
        centre = 10.0 if shape.vix == "low" else 15.0
        vix = np.round(centre + np.cumsum(rng.normal(0, 0.3, n)), 2).clip(5, 80)
    out = {}
    for symbol in symbols[: shape.symbols]:
        if shape.grid:
            close = 100 + 0.5 * np.cumsum(rng.choice([-1, 0, 0, 1], n))
            close = np.maximum(close, 1.0)
            open_ = np.r_[close[0], close[:-1]]
            high = np.maximum(open_, close) + 0.5 * rng.integers(0, 2, n)
            low = np.maximum(np.minimum(open_, close) - 0.5 * rng.integers(0, 2, n), 0.5)
        else:
            close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
            open_ = np.r_[close[0], close[:-1]] * (1 + rng.normal(0, 0.0005, n))
            high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.001, n)))
            low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.001, n)))
        volume = rng.integers(0 if shape.zero_volume else 100, 5_000, n).astype(float)
        keep = rng.random(n) > 0.15 if shape.gaps else np.ones(n, dtype=bool)
        level = None if vix is None else vix[keep]
        out[symbol] = SymbolBars(symbol, ts[keep], open_[keep], high[keep], low[keep], close[keep], volume[keep], level)
    return out


def fundamentals_file(folder: Path, symbols: tuple[str, ...]) -> PointInTimeFundamentals:
    """Point-in-time figures: one symbol too expensive from the second day on, one never published."""
    path = folder / "fundamentals.csv"
    rows = ["date,symbol,pe,debt_equity,market_cap"]
    for i, symbol in enumerate(symbols):
        if i == 2:
            continue
        rows.append(f"2020-01-01,{symbol},20,0.5,2000000000000")
        if i == 1:
            rows.append(f"2026-01-02,{symbol},400,0.5,2000000000000")
    path.write_text("\n".join(rows) + "\n")
    return PointInTimeFundamentals(path)


def fill_keys(run: EngineRun) -> list[tuple]:
    return [(f.timestamp_utc, f.symbol, f.side, f.qty, f.price, f.fee, f.strategy) for f in run.fills]


def both(
    bars: dict[str, SymbolBars], strategy: str, settings: Settings, fundamentals_dir: Path | None = None
) -> tuple[EngineRun, EngineRun]:
    """The bar engine's and the fast engine's runs over the same bars and settings."""
    symbols = tuple(sorted(bars))
    bar_source = fundamentals_file(fundamentals_dir, symbols) if fundamentals_dir else None
    fast_source = fundamentals_file(fundamentals_dir, symbols) if fundamentals_dir else None
    bar = run_live(bars, live_settings(settings, strategy), IDENTITY, fundamentals=bar_source)
    fast = run_events(bars, strategy, settings, identity=IDENTITY, fundamentals=fast_source)
    return bar, fast


def assert_same(bar: EngineRun, fast: EngineRun) -> None:
    assert fill_keys(fast) == fill_keys(bar)
    assert fast.simulation.final_cash == bar.simulation.final_cash
    assert fast.simulation.final_equity == bar.simulation.final_equity
    assert isinstance(fast.simulation.final_cash, Decimal)
    assert [t.pnl for t in fast.simulation.trades] == [t.pnl for t in bar.simulation.trades]
    assert (fast.strategies, fast.filters) == (bar.strategies, bar.filters)
    assert (fast.signals, fast.blocks, fast.orders) == (bar.signals, bar.blocks, bar.orders)
    assert fast.flat_sells == bar.flat_sells
    assert fast.kill_switch["triggered"] == bar.kill_switch["triggered"]
