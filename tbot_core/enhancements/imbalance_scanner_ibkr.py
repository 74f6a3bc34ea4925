"""``imbalance_scanner_ibkr``: no close entry against a strong opposing auction imbalance.

Active only when BROKER=ibkr and only inside the imbalance window: the seed's
20:30-21:00 UTC, moved with the real NYSE close (daylight saving, early closes).
Inside the window, missing, stale or malformed imbalance data is a data-source
failure: the gate audits it and applies ``IMBALANCE_SCANNER_FATAL`` (default: block).
"""

from __future__ import annotations

from datetime import timedelta

from tbot_core import settings_keys
from tbot_core.enhancements.base import Enhancement, Outcome, allow, block, unavailable
from tbot_core.market_calendar import session_for
from tbot_core.selfcheck import CheckResult
from tbot_core.signals import Imbalance, MarketContext, Signal
from tbot_core.timeutil import iso_z

MAX_IMBALANCE_AGE = timedelta(minutes=2)


class ImbalanceScannerIbkr(Enhancement):
    name = "imbalance_scanner_ibkr"
    keys = settings_keys.imbalance_scanner_ibkr.KEYS
    toggle = "imbalance_scanner_enabled"
    fatal_key = "imbalance_scanner_fatal"

    @property
    def enabled(self) -> bool:
        return self.env.broker_code.lower() == "ibkr" and bool(self.settings.imbalance_scanner_enabled)

    def evaluate(self, signal: Signal, market: MarketContext) -> Outcome:
        session = session_for(signal.ts)
        if session is None:
            return block(f"{iso_z(signal.ts)} is outside any NYSE session")
        start, end = session.shifted_window(
            self.settings.imbalance_window_start_utc, self.settings.imbalance_window_end_utc
        )
        if not start <= signal.ts < end:
            return allow(f"outside the imbalance window {start:%H:%M}-{end:%H:%M} UTC")
        failed = market.failed.get("imbalance")
        if failed:
            return unavailable("imbalance_source_failed", f"imbalance source failed: {failed}")
        report = market.imbalance.get(signal.symbol)
        if not isinstance(report, Imbalance):
            return unavailable("imbalance_missing", f"no imbalance data for {signal.symbol} inside the window")
        if signal.ts - report.ts > MAX_IMBALANCE_AGE:
            return unavailable("imbalance_stale", f"imbalance data for {signal.symbol} is stale ({iso_z(report.ts)})")
        if report.shares < 0 or report.paired < 0:
            return unavailable("imbalance_invalid", "imbalance report has negative shares")
        ratio = report.shares / report.paired if report.paired > 0 else (float("inf") if report.shares else 0.0)
        limit = float(self.settings.imbalance_block_ratio)
        ctx = {
            "imbalance_side": report.side,
            "shares": report.shares,
            "paired": report.paired,
            "ratio": ratio,
            "max": limit,
        }
        if report.side != signal.side and ratio > limit:
            return block(
                f"{report.side} imbalance {ratio:.2f}x paired volume opposes a {signal.side} (max {limit:g})", **ctx
            )
        return allow(f"imbalance {report.side} {ratio:.2f}x paired: no strong opposition", **ctx)

    def self_check(self) -> CheckResult:
        if self.env.broker_code.lower() != "ibkr":
            return CheckResult.passed(self.name, f"inactive: BROKER={self.env.broker_code} (IBKR only)")
        return super().self_check()

    def check_ready(self) -> CheckResult:
        return CheckResult.passed(
            self.name,
            f"window {self.settings.imbalance_window_start_utc:%H:%M}-"
            f"{self.settings.imbalance_window_end_utc:%H:%M} UTC (winter), DST-aware",
        )
