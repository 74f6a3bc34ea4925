"""Per-symbol indicator state, advanced one bar at a time.

Strategies and the engine both keep one of these per symbol; a snapshot of it
travels with each signal so filters judge the bar the signal came from.
Bars with missing or impossible prices are counted and skipped, never folded
into an indicator.
"""

from __future__ import annotations

import math

from tbot_core.config import Settings
from tbot_core.data.base import Bar
from tbot_core.indicators import IncrementalADX, IncrementalATR, IncrementalBollinger, SessionVWAP
from tbot_core.signals import IndicatorSnapshot


def bar_problem(bar: Bar) -> str | None:
    """Why a bar cannot be used, or None when it is sound."""
    prices = (bar.open, bar.high, bar.low, bar.close)
    if not all(isinstance(p, (int, float)) and math.isfinite(p) for p in (*prices, bar.volume)):
        return "missing or non-finite price/volume"
    if min(prices) <= 0:
        return "zero or negative price"
    if bar.high < bar.low or not (bar.low <= bar.close <= bar.high):
        return "high/low do not bracket the close"
    if bar.volume < 0:
        return "negative volume"
    return None


class SymbolIndicators:
    __slots__ = ("adx", "bollinger", "atr", "vwap", "bars", "bad_bars", "last")

    def __init__(self, settings: Settings) -> None:
        self.adx = IncrementalADX(settings.adx_period)
        self.bollinger = IncrementalBollinger(settings.bollinger_period, float(settings.bollinger_num_std))
        self.atr = IncrementalATR(settings.adx_period)
        self.vwap = SessionVWAP()
        self.bars = 0
        self.bad_bars = 0
        self.last: Bar | None = None

    def new_session(self) -> None:
        self.vwap.reset()

    def update(self, bar: Bar) -> bool:
        """Fold a bar in; False (and counted) when the bar is unusable."""
        if bar_problem(bar) is not None:
            self.bad_bars += 1
            return False
        self.adx.update(bar.high, bar.low, bar.close)
        self.bollinger.update(bar.close)
        self.atr.update(bar.high, bar.low, bar.close)
        self.vwap.update(bar.high, bar.low, bar.close, bar.volume)
        self.bars += 1
        self.last = bar
        return True

    def snapshot(self) -> IndicatorSnapshot | None:
        if self.last is None:
            return None
        upper, middle, lower = self.bollinger.value
        return IndicatorSnapshot(ts=self.last.ts, close=self.last.close, bars=self.bars, adx=self.adx.value,
                                 bb_upper=upper, bb_middle=middle, bb_lower=lower, atr=self.atr.value,
                                 vwap=self.vwap.value, bad_bars=self.bad_bars)
