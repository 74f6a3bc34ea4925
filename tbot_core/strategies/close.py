"""``close``: end-of-day momentum, held overnight.

Entry: at the first bar of the last ``STRAT_CLOSE_WINDOW_MINUTES`` of the
session, a symbol trading above both its session open and its VWAP is bought;
below both it sells, which closes a position the strategy holds and is
dropped by the engine otherwise (long only).  VIX and auction-imbalance
conditions belong to the gate's filters.

Exit: the trade is the overnight drift into the next open, so it is held over
the night on purpose and sold at the first bar ``STRAT_CLOSE_EXIT_MINUTES_AFTER_OPEN``
minutes into a later session (after the opening auction's widest spreads),
before that session's close window.  A hold that missed its exit (no bar, an
order refused) is closed by a below-both decision at the window or by the
next session's exit.
"""

from __future__ import annotations

import math

from tbot_core.bars import Bar
from tbot_core.market_calendar import SessionTime
from tbot_core.signals import Side, Signal
from tbot_core.strategies.base import Strategy, SymbolState


class EndOfDayMomentum(Strategy):
    name = "close"
    enhancements = ("vix_gatekeeper", "imbalance_scanner_ibkr", "finnhub_fundamental_guard", "black_scholes_filter")

    def decide(self, bar: Bar, vix: float | None, state: SymbolState, when: SessionTime | None) -> list[Signal]:
        assert when is not None
        memo = state.memo
        memo.setdefault("session_open", bar.open)
        window = self.settings.strat_close_window_minutes
        after = self.settings.strat_close_exit_minutes_after_open
        # Before the window only: a position held then was bought in an earlier session (entries are in the window).
        to_close = when.to_close
        if when.since_open >= after and to_close > window:  # the reason's closure only when the exit may be due
            opened = when.session.open
            exit_ = self.exit_due(
                bar, state, True, lambda: f"overnight hold sold {after} min after the {opened:%H:%M} UTC open", vix
            )
            if exit_:
                return exit_
        if memo.get("done") or to_close > window:
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
