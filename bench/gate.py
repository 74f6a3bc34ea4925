"""One gate decision through every enabled module (warm caches): median and p99 next to a bare function call.

Run: .venv/bin/python bench/gate.py      Targets: median <= 20 us, p99 <= 100 us.
Every enabled filter runs: a mid signal (blocklist, ADX, Bollinger, BSM with an option
quote, fundamentals from a warm in-memory source) and the tuning tracker.  The
quote is mispriced so the LAST module blocks: every decision travels the whole
chain and none marks the ticker (that one durable write per ticker per session
is timed separately below).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal

from tbot_core.config import Settings
from tbot_core.data.finnhub import Fundamentals
from tbot_core.gate import Gate
from tbot_core.home_init import init_home
from tbot_core.identity import Identity
from tbot_core.signals import IndicatorSnapshot, MarketContext, OptionQuote, Signal

RUNS = 20_000


class WarmFundamentals:
    def lookup(self, symbol: str) -> Fundamentals:
        return Fundamentals(symbol, 25.0, 1.0, 3e12, "2026-01-06T15:00:00.000000Z")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        paths, _ = init_home(f"{tmp}/home")
        settings = Settings().with_values({"FUNDAMENTAL_GUARD_ENABLED": "true"})
        gate = Gate(
            settings,
            Identity("TBOT_PAPER_01", "US", "PAPER"),
            paths,
            audit=None,
            broker_code="paper",
            fundamentals=WarmFundamentals(),
        )
        ts = datetime(2026, 1, 6, 16, 0, tzinfo=UTC)
        snap = IndicatorSnapshot(
            ts, 97.0, 500, adx=18.0, bb_upper=103.0, bb_middle=100.0, bb_lower=98.0, atr=1.0, vwap=100.0
        )
        market = MarketContext(
            {"AAPL": snap}, vix=20.0, option_quotes={"AAPL": OptionQuote("call", 13.0, 100, 100, 1, 0.2)}
        )
        sig = Signal(ts, "mid", "AAPL", "buy", Decimal("97.00"), "bench", {})
        gate_times, bare_times = [], []
        for i in range(RUNS + 1000):
            start = time.perf_counter_ns()
            decision = gate.decide(sig, market)
            elapsed = time.perf_counter_ns() - start
            start = time.perf_counter_ns()
            percentile([1.0], 0.5)
            bare = time.perf_counter_ns() - start
            if i >= 1000:  # warm-up done
                gate_times.append(elapsed / 1000)
                bare_times.append(bare / 1000)
        assert decision.verdicts[-1].module == "black_scholes_filter", decision.reason
        modules = [v.module for v in decision.verdicts]
        start = time.perf_counter_ns()
        gate.blocklist.mark(sig)
        mark_us = (time.perf_counter_ns() - start) / 1000
    print(f"{RUNS:,} decisions through {len(modules)} modules: {', '.join(modules)} (+ tuning_tracker)")
    print(f"gate decide   median {statistics.median(gate_times):7.2f} us   p99 {percentile(gate_times, 0.99):7.2f} us")
    print(f"bare function median {statistics.median(bare_times):7.2f} us   p99 {percentile(bare_times, 0.99):7.2f} us")
    print(f"first allow of a ticker in a session also persists the blocklist: {mark_us:.0f} us (durable write)")
    print(f"ratio (median) {statistics.median(gate_times) / statistics.median(bare_times):.1f}x the floor")


if __name__ == "__main__":
    main()
