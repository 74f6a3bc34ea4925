"""``close``: end-of-day momentum.

At the first bar of the last ``STRAT_CLOSE_WINDOW_MINUTES`` of the session, a
symbol trading above both its session open and its VWAP is bought, below both
is sold.  VIX and auction-imbalance conditions belong to the gate's filters.
"""

from __future__ import annotations

import math

from tbot_core.bars import Bar
from tbot_core.market_calendar import Session
from tbot_core.signals import Side, Signal
from tbot_core.strategies.base import Strategy, SymbolState


class EndOfDayMomentum(Strategy):
    name = "close"
    enhancements = ("vix_gatekeeper", "imbalance_scanner_ibkr", "finnhub_fundamental_guard", "black_scholes_filter")

    def decide(self, bar: Bar, vix: float | None, state: SymbolState, session: Session | None) -> list[Signal]:
        assert session is not None
        memo = state.memo
        memo.setdefault("session_open", bar.open)
        if memo.get("done") or session.minutes_to_close(bar.ts) > self.settings.strat_close_window_minutes:
            return []
        memo["done"] = True
        vwap, day_open = state.indicators.vwap.value, memo["session_open"]
        if math.isnan(vwap):
            return []
        side: Side
        if bar.close > day_open and bar.close > vwap:
            side = "buy"
        elif bar.close < day_open and bar.close < vwap:
            side = "sell"
        else:
            return []
        reason = f"close {bar.close:.4f} vs session open {day_open:.4f} and VWAP {vwap:.4f} into the close"
        return [self.signal(bar, side, reason, state, vix, session_open=day_open)]
