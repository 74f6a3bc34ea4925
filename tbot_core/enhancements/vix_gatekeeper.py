"""``vix_gatekeeper``: end-of-day entries need VIX >= ``STRAT_CLOSE_VIX_THRESHOLD``.

VIX comes from the market context the data layer assembles (``VIX_SOURCE``:
the feed, ``data/market/vix.csv`` or Finnhub).  A source that failed, or no
VIX at all, is a data-source failure: ``VIX_GATEKEEPER_FATAL`` decides.  The
self-check refuses a start where the close strategy runs on a broker with no
VIX source (Alpaca with ``VIX_SOURCE=auto``): every close entry would be blocked.
"""

from __future__ import annotations

import math

from tbot_core import settings_keys
from tbot_core.data.market import VIX_HINT, vix_source_name
from tbot_core.enhancements.base import Enhancement, Outcome, allow, block, unavailable
from tbot_core.errors import TbotError
from tbot_core.selfcheck import CheckResult
from tbot_core.signals import MarketContext, Signal


class VixGatekeeper(Enhancement):
    name = "vix_gatekeeper"
    keys = settings_keys.vix_gatekeeper.KEYS
    toggle = "vix_gatekeeper_enabled"
    fatal_key = "vix_gatekeeper_fatal"

    def evaluate(self, signal: Signal, market: MarketContext) -> Outcome:
        limit = float(self.settings.strat_close_vix_threshold)
        failed = market.failed.get("vix")
        if failed:
            return unavailable("vix_source_failed", failed, threshold=limit)
        vix = market.vix if market.vix is not None else signal.context.get("vix")
        if vix is None:
            return unavailable("vix_missing", "VIX unknown: cannot confirm the volatility floor", threshold=limit)
        if not isinstance(vix, (int, float)) or not math.isfinite(vix) or vix <= 0:
            return unavailable("vix_invalid", f"VIX value {vix!r} is not a positive number", threshold=limit)
        if vix < limit:
            return block(f"VIX {vix:.2f} < {limit:g}: too quiet for end-of-day entries", vix=vix, threshold=limit)
        return allow(f"VIX {vix:.2f} >= {limit:g}", vix=vix, threshold=limit)

    def check_ready(self) -> CheckResult:
        s = self.settings
        source = vix_source_name(s.vix_source, self.env.broker_code)
        if source is None and s.strat_close_enabled:
            return CheckResult.failed(
                self.name,
                f"no VIX source for BROKER={self.env.broker_code} (VIX_SOURCE={s.vix_source}): "
                "every close-strategy entry would be blocked",
                VIX_HINT,
            )
        if source == "file" and not self.env.paths.vix_file.is_file():
            return CheckResult.failed(
                self.name,
                "VIX_SOURCE=file but data/market/vix.csv is missing",
                "write data/market/vix.csv (timestamp_utc,vix) or choose another VIX_SOURCE",
            )
        if source == "finnhub":
            from tbot_core.data.finnhub import FinnhubVix

            try:
                FinnhubVix(s, self.env.paths).require_credentials()
            except TbotError as exc:
                return CheckResult.failed(self.name, f"VIX_SOURCE=finnhub: {exc}", "store the screener_api secret")
        return CheckResult.passed(
            self.name, f"close entries need VIX >= {s.strat_close_vix_threshold}; VIX from {source or 'nowhere'}"
        )
