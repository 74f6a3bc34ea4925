"""Technical indicators in two forms that agree: arrays (backtests, benchmarks) and incremental (live)."""

from tbot_core.indicators.arrays import adx, atr, bollinger, ema, session_vwap, sma, true_range
from tbot_core.indicators.incremental import (
    IncrementalADX,
    IncrementalATR,
    IncrementalBollinger,
    IncrementalEMA,
    IncrementalSMA,
    RollingStats,
    SessionVWAP,
)

__all__ = [
    "adx",
    "atr",
    "bollinger",
    "ema",
    "session_vwap",
    "sma",
    "true_range",
    "IncrementalADX",
    "IncrementalATR",
    "IncrementalBollinger",
    "IncrementalEMA",
    "IncrementalSMA",
    "RollingStats",
    "SessionVWAP",
]
