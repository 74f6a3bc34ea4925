"""Backtest speed, one core, every ratio against a peer measured in the same run.

1. The fast engine (``tbot backtest``'s default) over ``--engine-bars`` (1,000,000) synthetic session
   minute bars of four symbols with VIX, every filter on (the fundamental guard reading a
   point-in-time file): open, mid, close and ``--strategy=all``, bars/s each.
   Goal: >= 1,000,000 bars/s each.
2. The bar engine (``--engine bar``: the core's ``Engine`` bar by bar) over ``--bar-bars`` of the same
   kind of bars, next to the fast engine on the same bars: the fills must be the same (checked and
   printed), and the speed ratio.
3. ``sma_cross`` on the reference path (long-only SMA 10/20 cross, signal on bar t's close, fill at
   t+1's open, all cash in whole shares, no costs) against backtesting.py on ``--small`` bars
   (goal >= 10x) and against vectorbt on ``--big`` bars (goal: within 2x of vectorbt's time), the
   same trades and final equity checked.

Timings are best of ``--repeat`` runs after a warm-up run (the exchange calendar, imports,
vectorbt's numba compilation are not timed); peak memory is measured in a separate traced run.
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
from tbot_core.backtest.filtering import filter_settings
from tbot_core.backtest.fundamentals import PointInTimeFundamentals
from tbot_core.backtest.live import run_live
from tbot_core.backtest.portfolio import FillModel
from tbot_core.backtest.scratch import live_settings
from tbot_core.config import Settings
from tbot_core.enhancements.registry import MODULES
from tbot_core.identity import Identity

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
        d for d in np.arange(np.datetime64("2026-01-05"), np.datetime64("2046-12-31")) if d.astype(object).weekday() < 5
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


def _fundamentals(folder: Path) -> PointInTimeFundamentals:
    table = folder / "fundamentals.csv"
    table.write_text(
        "date,symbol,pe,debt_equity,market_cap\n"
        + "".join(f"2026-01-01,{s},20,0.5,2000000000000\n" for s in LIVE_SYMBOLS)
    )
    return PointInTimeFundamentals(table)


def _every_filter() -> Settings:
    every = [cls.name for cls in MODULES if cls.is_filter]
    base = Settings().with_values({"SYMBOLS": ",".join(LIVE_SYMBOLS)})
    return filter_settings(base, only=every, no_filters=False, fundamentals=True)


def calibration() -> None:
    """How fast this machine is right now (shared runners vary several-fold): a fixed Python loop and a numpy pass."""
    start = time.perf_counter()
    total = 0
    for i in range(3_000_000):
        total += i
    loop = time.perf_counter() - start
    values = np.arange(10_000_000, dtype=np.float64)
    start = time.perf_counter()
    np.cumsum(values)
    array = time.perf_counter() - start
    print(
        f"machine: 3,000,000 Python loop steps {loop:.3f} s (an idle desktop: ~0.15 s); 10M-float cumsum {array:.3f} s"
    )


def fast_engine(total: int, repeat: int) -> None:
    """The fast engine, every filter on, per strategy and for all of them together."""
    bars = session_bars(total)
    n = sum(len(b) for b in bars.values())
    settings = _every_filter()
    with tempfile.TemporaryDirectory() as tmp:
        source = _fundamentals(Path(tmp))
        run_fast(session_bars(4_000), "all", settings, fundamentals=source)  # warm-up: calendar, imports
        for strategy in ("open", "mid", "close", "all"):
            best, result = float("inf"), None
            for _ in range(repeat):
                start = time.perf_counter()
                result = run_fast(bars, strategy, settings, fundamentals=source)
                best = min(best, time.perf_counter() - start)
            assert result is not None and result.run is not None
            rate = n / best
            print(
                f"fast   {strategy:<5} {n:>9,} bars, every filter on: {best:6.2f} s = {rate:>11,.0f} bars/s "
                f"({result.signals:,} signals, {len(result.run.fills):,} fills; goal >= 1,000,000: "
                f"{'met' if rate >= 1_000_000 else 'missed'})"
            )


def bar_vs_fast(total: int) -> None:
    """The bar engine and the fast engine, every filter on, --strategy=all, on the same bars: same fills, speed."""
    bars = session_bars(total)
    n = sum(len(b) for b in bars.values())
    settings = _every_filter()
    identity = Identity("TBOT_BENCH_01", "US", "PAPER")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        bar = run_live(bars, live_settings(settings, "all"), identity, fundamentals=_fundamentals(Path(tmp)))
        whole = time.perf_counter() - start
        start = time.perf_counter()
        fast = run_fast(bars, "all", settings, identity=identity, fundamentals=_fundamentals(Path(tmp)))
        fast_seconds = time.perf_counter() - start
    assert fast.run is not None

    def keys(fills: list) -> list[tuple]:
        return [(f.timestamp_utc, f.symbol, f.side, f.qty, f.price, f.fee, f.strategy) for f in fills]

    same = keys(bar.fills) == keys(fast.run.fills) and bar.simulation.final_equity == fast.simulation.final_equity
    print(
        f"bar    all   {n:>9,} bars, every filter on: engine {bar.bars / bar.seconds:>9,.0f} bars/s, whole run "
        f"{n / whole:>9,.0f} bars/s ({len(bar.fills)} fills, filters {bar.filters['mid']})"
    )
    print(
        f"fast   all   {n:>9,} bars, same bars: {n / fast_seconds:>11,.0f} bars/s ({len(fast.run.fills)} fills); "
        f"same fills and final equity as the bar engine: {same}"
    )
    print(f"ratio  fast engine / bar engine (whole run) speed on the same bars: {whole / fast_seconds:,.0f}x")


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


def vectorbt_peer(bars: dict) -> tuple[float, object]:
    """The same rule in vectorbt: MA 10/20 crossings, entries and exits filled at the next bar's open."""
    import vectorbt as vbt

    series = bars["SYN"]
    start = time.perf_counter()
    close, open_ = pd.Series(series.close), pd.Series(series.open)
    fast, slow = vbt.MA.run(close, 10).ma, vbt.MA.run(close, 20).ma
    entries = fast.vbt.crossed_above(slow).shift(1, fill_value=False)
    exits = fast.vbt.crossed_below(slow).shift(1, fill_value=False)
    portfolio = vbt.Portfolio.from_signals(
        close, entries, exits, price=open_, size=np.inf, size_granularity=1, init_cash=100_000, fees=0
    )
    return time.perf_counter() - start, portfolio


def versus_vectorbt(big: dict, repeat: int) -> None:
    vectorbt_peer(synthetic(5_000, seed=3))  # numba compiles on the first call: not timed
    theirs = min(vectorbt_peer(big)[0] for _ in range(repeat))
    portfolio = vectorbt_peer(big)[1]
    mine = min(ours(big)[0] for _ in range(repeat))
    result = ours(big)[1]
    n = len(big["SYN"])
    trades = int(portfolio.trades.count())  # type: ignore[attr-defined]
    final = float(portfolio.final_value())  # type: ignore[attr-defined]
    same = (
        trades == len(result.simulation.trades) and abs(final - float(result.simulation.final_equity)) <= 1e-6 * final
    )
    print(
        f"peer   vectorbt sma_cross {n:>9,} bars: {theirs:.3f} s = {n / theirs:>11,.0f} bars/s "
        f"({trades:,} trades; same trades and final equity as ours: {same})"
    )
    print(
        f"ratio  ours/vectorbt time on the same bars: {mine / theirs:.2f} "
        f"(goal <= 2: {'met' if mine / theirs <= 2 else 'missed'})"
    )


def peak_mib(func, bars) -> float:
    tracemalloc.start()
    func(bars)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine-bars", type=int, default=1_000_000, help="bars for the fast engine (0: skip)")
    parser.add_argument("--bar-bars", type=int, default=40_000, help="bars for bar vs fast (0: skip)")
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-peer", action="store_true")
    args = parser.parse_args()
    calibration()
    if args.engine_bars:
        fast_engine(args.engine_bars, max(1, args.repeat - 1))
    if args.bar_bars:
        bar_vs_fast(args.bar_bars)

    big = synthetic(args.big)
    ours(synthetic(5_000, seed=3))  # warm-up
    best = min(ours(big)[0] for _ in range(args.repeat))
    result = ours(big)[1]
    print(
        f"ours   sma_cross {args.big:>9,} bars: {best:.3f} s = {args.big / best:>11,.0f} bars/s "
        f"({len(result.simulation.trades):,} trades)"
    )
    print(f"ours   peak traced memory on {args.big:,} bars: {peak_mib(lambda b: ours(b), big):.1f} MiB")
    if args.skip_peer:
        return
    versus_vectorbt(big, args.repeat)

    small = synthetic(args.small, seed=7)
    mine = min(ours(small)[0] for _ in range(args.repeat))
    print(f"ours   sma_cross {args.small:>9,} bars: {mine:.3f} s = {args.small / mine:>11,.0f} bars/s")
    theirs, stats = peer(small)
    mine_result = ours(small)[1]
    same = (
        abs(float(mine_result.simulation.final_equity) - stats["Equity Final [$]"]) <= 1e-6 * stats["Equity Final [$]"]
    )
    print(
        f"peer   backtesting.py {args.small:>9,} bars: {theirs:.3f} s = {args.small / theirs:>11,.0f} bars/s "
        f"(same final equity: {same})"
    )
    ratio = theirs / mine
    print(f"ratio  ours/backtesting.py speed: {ratio:.1f}x (goal >= 10x: {'met' if ratio >= 10 else 'missed'})")
    print(
        f"peer   peak traced memory on {args.small:,} bars: {peak_mib(lambda b: peer(b), small):.1f} MiB; "
        f"ours: {peak_mib(lambda b: ours(b), small):.1f} MiB"
    )


if __name__ == "__main__":
    main()
