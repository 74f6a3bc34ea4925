"""``bollinger_confluence``: an entry must touch the +-N sigma band on its own side.

A buy needs the close at or below the lower band, a sell at or above the
upper band; in quiet regimes this drops stretches that are only noise.
"""

from __future__ import annotations

import math

from tbot_core import settings_keys
from tbot_core.enhancements.base import Enhancement, Outcome, allow, block, snapshot_for
from tbot_core.indicators import bollinger
from tbot_core.selfcheck import CheckResult
from tbot_core.signals import MarketContext, Signal


class BollingerConfluence(Enhancement):
    name = "bollinger_confluence"
    keys = settings_keys.bollinger_confluence.KEYS
    toggle = "bollinger_confluence_enabled"
    fatal_key = "bollinger_confluence_fatal"

    def evaluate(self, signal: Signal, market: MarketContext) -> Outcome:
        snap, why = snapshot_for(signal, market, self.settings.bollinger_period)
        if snap is None:
            return block(f"cannot check bands: {why}")
        if math.isnan(snap.bb_upper) or math.isnan(snap.bb_lower):
            return block(f"cannot check bands: Bollinger bands unavailable for {signal.symbol}")
        close, sigma = snap.close, self.settings.bollinger_num_std
        ctx = {"close": close, "upper": round(snap.bb_upper, 6), "lower": round(snap.bb_lower, 6)}
        if signal.side == "buy":
            if close <= snap.bb_lower:
                return allow(f"close {close:.4f} at/below the -{sigma} sigma band {snap.bb_lower:.4f}", **ctx)
            return block(f"no confluence: close {close:.4f} above the -{sigma} sigma band {snap.bb_lower:.4f}", **ctx)
        if close >= snap.bb_upper:
            return allow(f"close {close:.4f} at/above the +{sigma} sigma band {snap.bb_upper:.4f}", **ctx)
        return block(f"no confluence: close {close:.4f} below the +{sigma} sigma band {snap.bb_upper:.4f}", **ctx)

    def check_ready(self) -> CheckResult:
        upper, middle, lower = bollinger([1.0, 2.0, 3.0, 4.0, 5.0], 5, 2.0)
        expected = 2.0 * math.sqrt(2.0)
        if not (math.isclose(middle[-1], 3.0) and math.isclose(upper[-1] - middle[-1], expected)):
            return CheckResult.failed(self.name, "Bollinger bands of 1..5 are wrong", "indicator code is broken")
        return CheckResult.passed(
            self.name, f"bands {self.settings.bollinger_period} bars, {self.settings.bollinger_num_std} sigma"
        )
