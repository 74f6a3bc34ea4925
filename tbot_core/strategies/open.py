"""``open``: opening-range breakout.

The first ``STRAT_OPEN_RANGE_MINUTES`` of the session set a high and a low; the
first close outside that range afterwards (and before the close window) is
the one signal of the session for the symbol.
"""

from __future__ import annotations

from tbot_core.bars import Bar
from tbot_core.market_calendar import Session
from tbot_core.signals import Side, Signal
from tbot_core.strategies.base import Strategy, SymbolState


class OpeningRangeBreakout(Strategy):
    name = "open"
    enhancements = ("finnhub_fundamental_guard", "black_scholes_filter")

    def decide(self, bar: Bar, vix: float | None, state: SymbolState, session: Session | None) -> list[Signal]:
        assert session is not None
        memo = state.memo
        if session.minutes_since_open(bar.ts) < self.settings.strat_open_range_minutes:
            memo["high"] = max(memo.get("high", bar.high), bar.high)
            memo["low"] = min(memo.get("low", bar.low), bar.low)
            return []
        if memo.get("done") or "high" not in memo:
            return []
        if session.minutes_to_close(bar.ts) <= self.settings.strat_close_window_minutes:
            return []
        high, low = memo["high"], memo["low"]
        side: Side
        if bar.close > high:
            side, reason = "buy", f"close {bar.close:.4f} broke above the opening-range high {high:.4f}"
        elif bar.close < low:
            side, reason = "sell", f"close {bar.close:.4f} broke below the opening-range low {low:.4f}"
        else:
            return []
        memo["done"] = True
        return [self.signal(bar, side, reason, state, vix, range_high=high, range_low=low)]
