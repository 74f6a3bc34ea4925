"""``mid``: mid-session mean reversion, flat before the close.

Entry: between the opening range and the close window, a close stretched more
than ``STRETCH_ATR`` average true ranges from its 20-bar mean is faded: below
it buys; above it sells, which closes a position the strategy holds and is
dropped by the engine otherwise (long only).  Whether the trend is too strong
(ADX filter) or the stretch reaches the Bollinger band (confluence) is for the
gate's filters to judge, not this rule.

Exit, whichever comes first: the close is back at (or above) its mean — the
reversion the trade was for has happened; or the first bar
``STRAT_MID_FLAT_MINUTES_BEFORE_CLOSE`` minutes before the session's real
close (an intraday trade does not carry the closing auction or the night).
"""

from __future__ import annotations

import math

from tbot_core.bars import Bar
from tbot_core.market_calendar import SessionTime
from tbot_core.signals import Side, Signal
from tbot_core.strategies.base import Strategy, SymbolState

STRETCH_ATR = 1.5


class MidSessionReversion(Strategy):
    name = "mid"
    enhancements = ("adx_filter", "bollinger_confluence", "finnhub_fundamental_guard", "black_scholes_filter")

    def decide(self, bar: Bar, vix: float | None, state: SymbolState, when: SessionTime | None) -> list[Signal]:
        assert when is not None
        exit_ = self.flat_before_close(bar, state, when, self.settings.strat_mid_flat_minutes_before_close, vix)
        if exit_:
            return exit_
        # Read the two values directly: building a full snapshot on every bar is waste (signals carry one).
        middle, atr = state.indicators.bollinger.value[1], state.indicators.atr.value
        if math.isnan(middle) or math.isnan(atr) or atr <= 0:
            return []
        stretch = (bar.close - middle) / atr
        zone = 1 if stretch >= STRETCH_ATR else -1 if stretch <= -STRETCH_ATR else 0
        previous, state.memo["zone"] = state.memo.get("zone", 0), zone
        period = self.settings.bollinger_period
        if stretch >= 0:  # the reason's closure is only built when the exit may be due
            exit_ = self.exit_due(
                bar, state, True, lambda: f"close back at its {period}-bar mean ({stretch:+.2f} ATR)", vix
            )
            if exit_:
                return exit_
        if zone == 0 or zone == previous:  # no new stretch (most bars): the window is not even looked at
            return []
        in_window = (
            when.since_open >= self.settings.strat_open_range_minutes
            and when.to_close > self.settings.strat_close_window_minutes
        )
        if not in_window:
            return []
        side: Side = "sell" if zone > 0 else "buy"
        if side == "sell" and state.memo.get("exit_sent"):
            return []  # this session's exit is already on its way: a second sell could sell short
        reason = f"close stretched {stretch:+.2f} ATR from its {period}-bar mean"
        return [self.signal(bar, side, reason, state, vix, stretch_atr=round(stretch, 4))]
