"""``open``: opening-range breakout, flat before the close.

Entry: the first ``STRAT_OPEN_RANGE_MINUTES`` of the session set a high and a
low; the first close outside that range afterwards (and before the close
window) is the one signal of the session for the symbol: above the high it
buys; below the low it sells, which closes a position the strategy holds and
is dropped by the engine otherwise (long only).

Exit: an intraday trade must not carry the closing auction or the overnight
gap, so whatever the strategy holds is sold at the first bar
``STRAT_OPEN_FLAT_MINUTES_BEFORE_CLOSE`` minutes before the session's real
close (half days included: the calendar gives the close).
"""

from __future__ import annotations

from tbot_core.bars import Bar
from tbot_core.market_calendar import SessionTime
from tbot_core.signals import Side, Signal
from tbot_core.strategies.base import Strategy, SymbolState


class OpeningRangeBreakout(Strategy):
    name = "open"
    enhancements = ("finnhub_fundamental_guard", "black_scholes_filter")

    def decide(self, bar: Bar, vix: float | None, state: SymbolState, when: SessionTime | None) -> list[Signal]:
        assert when is not None
        memo = state.memo
        exit_ = self.flat_before_close(bar, state, when, self.settings.strat_open_flat_minutes_before_close, vix)
        if exit_:
            return exit_
        if when.since_open < self.settings.strat_open_range_minutes:
            memo["high"] = max(memo.get("high", bar.high), bar.high)
            memo["low"] = min(memo.get("low", bar.low), bar.low)
            return []
        if memo.get("done") or "high" not in memo:
            return []
        if when.to_close <= self.settings.strat_close_window_minutes:
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
