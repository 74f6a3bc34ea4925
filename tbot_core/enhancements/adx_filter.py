"""``adx_filter``: keep mean-reversion entries out of strong trends (block when ADX > threshold)."""

from __future__ import annotations

import math

import numpy as np

from tbot_core import settings_keys
from tbot_core.enhancements.base import Enhancement, Outcome, allow, block, snapshot_for
from tbot_core.indicators import adx
from tbot_core.selfcheck import CheckResult
from tbot_core.signals import MarketContext, Signal


class AdxFilter(Enhancement):
    name = "adx_filter"
    keys = settings_keys.adx_filter.KEYS
    toggle = "adx_filter_enabled"
    fatal_key = "adx_filter_fatal"

    def evaluate(self, signal: Signal, market: MarketContext) -> Outcome:
        period = self.settings.adx_period
        snap, why = snapshot_for(signal, market, 2 * period)
        if snap is None:
            return block(f"cannot judge trend: {why}")
        value, limit = snap.adx, float(self.settings.adx_threshold)
        if math.isnan(value):
            return block(f"cannot judge trend: ADX({period}) unavailable for {signal.symbol}")
        if value > limit:
            return block(f"ADX {value:.1f} > {limit:g}: strong trend", adx=round(value, 4), threshold=limit)
        return allow(f"ADX {value:.1f} <= {limit:g}", adx=round(value, 4), threshold=limit)

    def check_ready(self) -> CheckResult:
        period = self.settings.adx_period
        trend = np.arange(1.0, 4.0 * period + 2)
        value = adx(trend + 0.5, trend - 0.5, trend, period)[-1]
        if not 99.0 <= value <= 100.0:
            return CheckResult.failed(
                self.name, f"ADX of a straight uptrend is {value}, expected 100", "indicator code is broken"
            )
        if not self.env.paths.market_data_dir.is_dir():
            return CheckResult.failed(self.name, "data/market/ missing: no bar source", "run `tbot init --force`")
        return CheckResult.passed(self.name, f"ADX({period}) computes; blocks above {self.settings.adx_threshold}")
