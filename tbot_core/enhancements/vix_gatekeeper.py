"""``vix_gatekeeper``: end-of-day entries need VIX >= ``STRAT_CLOSE_VIX_THRESHOLD``."""

from __future__ import annotations

import math

from tbot_core import settings_keys
from tbot_core.enhancements.base import Enhancement, Outcome, allow, block, unavailable
from tbot_core.selfcheck import CheckResult
from tbot_core.signals import MarketContext, Signal


class VixGatekeeper(Enhancement):
    name = "vix_gatekeeper"
    keys = settings_keys.vix_gatekeeper.KEYS
    toggle = "vix_gatekeeper_enabled"
    fatal_key = "vix_gatekeeper_fatal"

    def evaluate(self, signal: Signal, market: MarketContext) -> Outcome:
        vix = market.vix if market.vix is not None else signal.context.get("vix")
        limit = float(self.settings.strat_close_vix_threshold)
        if vix is None:
            return unavailable("vix_missing", "VIX unknown: cannot confirm the volatility floor", threshold=limit)
        if not isinstance(vix, (int, float)) or not math.isfinite(vix) or vix <= 0:
            return unavailable("vix_invalid", f"VIX value {vix!r} is not a positive number", threshold=limit)
        if vix < limit:
            return block(f"VIX {vix:.2f} < {limit:g}: too quiet for end-of-day entries", vix=vix, threshold=limit)
        return allow(f"VIX {vix:.2f} >= {limit:g}", vix=vix, threshold=limit)

    def check_ready(self) -> CheckResult:
        return CheckResult.passed(self.name, f"close entries need VIX >= {self.settings.strat_close_vix_threshold}")
