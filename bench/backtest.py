"""Backtest speed: the fast path (sma_cross, 1,000,000 bars; 200,000 next to backtesting.py) and the live engine.

Fast path: same strategy rules on both sides (long-only SMA 10/20 cross, signal
on bar t's close, fill at t+1's open, all cash in whole shares, no commission).
Timings are best of --repeat runs; peak memory is measured in a separate traced
run (tracemalloc) so tracing does not slow the timed ones.
Targets: >= 500,000 bars/s on 1M bars; >= 5x backtesting.py on 200k bars.

Live engine (``tbot backtest --strategy=all``, the default engine): ``run_live``
over --live-bars synthetic session minute bars of four symbols, every filter on
(the fundamental guard reading a point-in-time file), against the fast path
running one strategy (mid, every filter on) over the same bars in the same run.
Reported: engine bars/s (the engine loop), the whole run's bars/s (scratch home,
data, reading the fills back), and live/fast as a ratio.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
import warnings
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tbot_core.backtest.backtest_engine import run_fast
from tbot_core.backtest.data import SymbolBars, bars_from_arrays
from tbot_core.backtest.filtering import build_filter, filter_settings
from tbot_core.backtest.fundamentals import PointInTimeFundamentals
from tbot_core.backtest.live import run_live
from tbot_core.backtest.portfolio import FillModel
from tbot_core.backtest.scratch import live_settings
from tbot_core.config import Settings
from tbot_core.enhancements.registry import MODULES
from tbot_core.identity import Identity
from tbot_core.paths import HomePaths

MODEL = FillModel(Decimal(100_000), Decimal(1), Decimal(0), Decimal(0), Decimal(0))


def synthetic(n: int, seed: int = 42) -> dict:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.0008, n)))
    open_ = np.r_[100.0, close[:-1]] * (1 + rng.normal(0, 0.0002, n))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.0003, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.0003, n)))
    ts = np.datetime64("2020-01-01T14:30", "ns") + np.arange(n) * np.timedelta64(60, "s")
    return {"SYN": bars_from_arrays("SYN", ts, open_, high, low, close, rng.integers(1_000, 50_000, n).astype(float))}


LIVE_SYMBOLS = ("AAPL", "MSFT", "NVDA", "SPY")
SESSION_MINUTES = 390


def session_bars(total: int, seed: int = 11) -> dict[str, SymbolBars]:
    """``total`` bars: four symbols' random-walk minute bars over weekday sessions (14:30-21:00 UTC), with VIX."""
    per_symbol = total // len(LIVE_SYMBOLS)
    days = -(-per_symbol // SESSION_MINUTES)
    weekdays = [
        d for d in np.arange(np.datetime64("2026-01-05"), np.datetime64("2027-12-31")) if d.astype(object).weekday() < 5
    ]
    opens = np.array(weekdays[:days], dtype="datetime64[ns]") + np.timedelta64(14 * 60 + 30, "m")
    ts = (opens[:, None] + np.arange(SESSION_MINUTES) * np.timedelta64(60, "s")).ravel()[:per_symbol]
    rng = np.random.default_rng(seed)
    vix = 18 + np.cumsum(rng.normal(0, 0.05, per_symbol)).clip(-8, 20)
    out = {}
    for k, symbol in enumerate(LIVE_SYMBOLS):
        close = (100 + 50 * k) * np.exp(np.cumsum(rng.normal(0, 0.0009, per_symbol)))
        open_ = np.r_[close[0], close[:-1]]
        high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.0004, per_symbol)))
        low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.0004, per_symbol)))
        base = bars_from_arrays(
            symbol, ts, open_, high, low, close, rng.integers(1_000, 50_000, per_symbol).astype(float)
        )
        out[symbol] = SymbolBars(symbol, base.ts, base.open, base.high, base.low, base.close, base.volume, vix)
    return out


def live_vs_fast(total: int) -> None:
    """The live engine with every filter on (--strategy=all) and the fast path (mid alone) on the same bars."""
    bars = session_bars(total)
    n = sum(len(b) for b in bars.values())
    every = [cls.name for cls in MODULES if cls.is_filter]
    with tempfile.TemporaryDirectory() as tmp:
        paths = HomePaths(Path(tmp) / "fast")
        paths.ensure_layout("TBOT_BENCH_01")
        table = Path(tmp) / "fundamentals.csv"
        table.write_text(
            "date,symbol,pe,debt_equity,market_cap\n"
            + "".join(f"2026-01-01,{s},20,0.5,2000000000000\n" for s in LIVE_SYMBOLS)
        )
        settings = filter_settings(Settings(), only=every, no_filters=False, fundamentals=True)
        identity = Identity("TBOT_BENCH_01", "US", "PAPER")
        start = time.perf_counter()
        run = run_live(bars, live_settings(settings, "all"), identity, fundamentals=PointInTimeFundamentals(table))
        whole = time.perf_counter() - start
        fast_filter = build_filter(
            settings, paths=paths, identity=identity, fundamentals=PointInTimeFundamentals(table)
        )
        fast = run_fast(bars, "mid", settings, signal_filter=fast_filter)
    live_rate, fast_rate = run.bars / run.seconds, n / fast.seconds
    orders = sum(run.orders.values())
    print(
        f"live   --strategy=all {n:>9,} bars, every filter on: engine {live_rate:>9,.0f} bars/s, whole run "
        f"{n / whole:>9,.0f} bars/s ({orders} orders, {sum(run.signals.values())} signals, "
        f"filters {run.filters['mid']})"
    )
    print(
        f"fast   mid alone      {n:>9,} bars, every filter on: {fast_rate:>11,.0f} bars/s ({len(fast.simulation.trades)} trades)"
    )
    print(
        f"ratio  live engine / fast path speed on the same bars: {live_rate / fast_rate:.4f} (1/{fast_rate / live_rate:,.0f})"
    )


def ours(bars: dict) -> tuple[float, object]:
    start = time.perf_counter()
    result = run_fast(bars, "sma_cross", Settings(), model=MODEL)
    return time.perf_counter() - start, result


def peer(bars: dict) -> tuple[float, object]:
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover
    from backtesting.test import SMA

    class LongOnlySmaCross(Strategy):
        def init(self):
            self.fast = self.I(SMA, self.data.Close, 10)
            self.slow = self.I(SMA, self.data.Close, 20)

        def next(self):
            if crossover(self.fast, self.slow) and not self.position:
                self.buy()
            elif crossover(self.slow, self.fast) and self.position:
                self.position.close()

    series = bars["SYN"]
    frame = pd.DataFrame(
        {"Open": series.open, "High": series.high, "Low": series.low, "Close": series.close, "Volume": series.volume},
        index=pd.DatetimeIndex(series.ts),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        stats = Backtest(frame, LongOnlySmaCross, cash=100_000, commission=0, trade_on_close=False).run()
        return time.perf_counter() - start, stats


def peak_mib(func, bars) -> float:
    tracemalloc.start()
    func(bars)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--live-bars", type=int, default=40_000, help="bars for the live engine run (0: skip it)")
    args = parser.parse_args()
    if args.live_bars:
        live_vs_fast(args.live_bars)

    big = synthetic(args.big)
    best = min(ours(big)[0] for _ in range(args.repeat))
    result = ours(big)[1]
    print(
        f"ours   sma_cross {args.big:>9,} bars: {best:.3f} s = {args.big / best:>11,.0f} bars/s "
        f"({len(result.simulation.trades):,} trades; target >= 500,000 bars/s)"
    )
    print(f"ours   peak traced memory on {args.big:,} bars: {peak_mib(lambda b: ours(b), big):.1f} MiB")

    small = synthetic(args.small, seed=7)
    mine = min(ours(small)[0] for _ in range(args.repeat))
    print(f"ours   sma_cross {args.small:>9,} bars: {mine:.3f} s = {args.small / mine:>11,.0f} bars/s")
    if args.skip_peer:
        return
    theirs, stats = peer(small)
    mine_result = ours(small)[1]
    same = (
        abs(float(mine_result.simulation.final_equity) - stats["Equity Final [$]"]) <= 1e-6 * stats["Equity Final [$]"]
    )
    print(
        f"peer   backtesting.py {args.small:>9,} bars: {theirs:.3f} s = {args.small / theirs:>11,.0f} bars/s "
        f"(same final equity: {same})"
    )
    print(f"ratio  ours/backtesting.py speed: {theirs / mine:.1f}x (target >= 5x)")
    print(
        f"peer   peak traced memory on {args.small:,} bars: {peak_mib(lambda b: peer(b), small):.1f} MiB; "
        f"ours: {peak_mib(lambda b: ours(b), small):.1f} MiB"
    )


if __name__ == "__main__":
    main()
