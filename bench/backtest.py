"""sma_cross backtest speed: 1,000,000 synthetic minute bars, and 200,000 bars next to backtesting.py.

Same strategy rules on both sides (long-only SMA 10/20 cross, signal on bar t's
close, fill at t+1's open, all cash in whole shares, no commission).  Timings
are best of --repeat runs; peak memory is measured in a separate traced run
(tracemalloc) so tracing does not slow the timed ones.
Targets: >= 500,000 bars/s on 1M bars; >= 5x backtesting.py on 200k bars.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
import warnings
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tbot_core.backtest.backtest_engine import run_backtest
from tbot_core.backtest.data import bars_from_arrays
from tbot_core.backtest.portfolio import FillModel
from tbot_core.config import Settings

MODEL = FillModel(Decimal(100_000), Decimal(1), Decimal(0), Decimal(0), Decimal(0))


def synthetic(n: int, seed: int = 42) -> dict:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.0008, n)))
    open_ = np.r_[100.0, close[:-1]] * (1 + rng.normal(0, 0.0002, n))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.0003, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.0003, n)))
    ts = np.datetime64("2020-01-01T14:30", "ns") + np.arange(n) * np.timedelta64(60, "s")
    return {"SYN": bars_from_arrays("SYN", ts, open_, high, low, close, rng.integers(1_000, 50_000, n).astype(float))}


def ours(bars: dict) -> tuple[float, object]:
    start = time.perf_counter()
    result = run_backtest(bars, "sma_cross", Settings(), model=MODEL)
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
    args = parser.parse_args()

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
