"""Per-symbol indicator state, advanced one bar at a time and shared by every strategy.

``MarketState`` holds one ``SymbolIndicators`` per symbol and the NYSE
session of the current bar.  Every strategy of a set reads the same
``MarketState``: the first strategy that sees a bar folds it in, the others
(and a retry of the same bar) get the cached result, so each bar is folded
exactly once whatever the number of strategies.  A strategy built alone (and
``simulate()``'s fresh copy) owns a private ``MarketState``, so live and
backtest still run the same ``on_bar`` code.
A snapshot of a symbol's indicators travels with each signal so filters judge
the bar the signal came from.  Bars with missing or impossible prices are
counted and skipped, never folded into an indicator.
"""

from __future__ import annotations

import math
from datetime import date, datetime

from tbot_core.bars import Bar
from tbot_core.config import Settings
from tbot_core.indicators import IncrementalADX, IncrementalATR, IncrementalBollinger, SessionVWAP
from tbot_core.market_calendar import SessionTime, session_for
from tbot_core.signals import IndicatorSnapshot

_isfinite = math.isfinite


def bar_problem(bar: Bar) -> str | None:
    """Why a bar cannot be used, or None when it is sound."""
    # The common, sound bar in a few float operations (NaN fails every comparison; a float sum
    # is finite only if every term is); anything else takes the careful path below.
    try:
        total = bar.open + bar.high + bar.low + bar.close + bar.volume
        if (
            type(total) is float
            and _isfinite(total)
            and 0.0 < bar.low <= bar.close <= bar.high
            and bar.open > 0.0
            and bar.volume >= 0.0
        ):
            return None
    except TypeError:
        pass
    return _bar_problem_reason(bar)


def _bar_problem_reason(bar: Bar) -> str | None:
    prices = (bar.open, bar.high, bar.low, bar.close)
    if not all(isinstance(p, (int, float)) and math.isfinite(p) for p in (*prices, bar.volume)):
        return "missing or non-finite price/volume"
    if min(prices) <= 0:
        return "zero or negative price"
    if bar.high < bar.low or not (bar.low <= bar.close <= bar.high):
        return "high/low do not bracket the close"
    if bar.volume < 0:
        return "negative volume"
    return None


class SymbolIndicators:
    __slots__ = ("adx", "bollinger", "atr", "vwap", "bars", "bad_bars", "last", "session_day")

    def __init__(self, settings: Settings) -> None:
        self.adx = IncrementalADX(settings.adx_period)
        self.bollinger = IncrementalBollinger(settings.bollinger_period, float(settings.bollinger_num_std))
        self.atr = IncrementalATR(settings.adx_period)
        self.vwap = SessionVWAP()
        self.bars = 0
        self.bad_bars = 0
        self.last: Bar | None = None
        self.session_day: date | None = None  # the session VWAP was last reset for

    def new_session(self) -> None:
        self.vwap.reset()

    def update(self, bar: Bar) -> bool:
        """Fold a bar in; False (and counted) when the bar is unusable."""
        if bar_problem(bar) is not None:
            self.bad_bars += 1
            return False
        self.adx.update(bar.high, bar.low, bar.close)
        self.bollinger.update(bar.close)
        self.atr.update(bar.high, bar.low, bar.close)
        self.vwap.update(bar.high, bar.low, bar.close, bar.volume)
        self.bars += 1
        self.last = bar
        return True

    def snapshot(self) -> IndicatorSnapshot | None:
        if self.last is None:
            return None
        upper, middle, lower = self.bollinger.value
        return IndicatorSnapshot(
            ts=self.last.ts,
            close=self.last.close,
            bars=self.bars,
            adx=self.adx.value,
            bb_upper=upper,
            bb_middle=middle,
            bb_lower=lower,
            atr=self.atr.value,
            vwap=self.vwap.value,
            bad_bars=self.bad_bars,
        )


class MarketView:
    """What one bar left behind for the strategies: its symbol's indicators, its place in its session (None
    outside any session day), whether it was sound."""

    __slots__ = ("indicators", "when", "sound")

    def __init__(self, indicators: SymbolIndicators, when: SessionTime | None, sound: bool) -> None:
        self.indicators, self.when, self.sound = indicators, when, sound


class MarketState:
    """Every symbol's indicators, advanced once per bar however many strategies read them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._symbols: dict[str, SymbolIndicators] = {}
        self._last_bar: Bar | None = None
        self._last_view: MarketView | None = None
        self._ts: datetime | None = None
        self._when: SessionTime | None = None

    def indicators(self, symbol: str) -> SymbolIndicators:
        found = self._symbols.get(symbol)
        if found is None:
            found = self._symbols[symbol] = SymbolIndicators(self.settings)
        return found

    def advance(self, bar: Bar) -> MarketView:
        """Fold ``bar`` in (once: asking again for the same bar object returns the same view)."""
        if bar is self._last_bar and self._last_view is not None:
            return self._last_view
        ts = bar.ts
        if ts is not self._ts:  # the bars of one minute share one datetime: one calendar lookup per minute
            session = session_for(ts)
            self._ts, self._when = ts, None if session is None else SessionTime.at(session, ts)
        when = self._when
        indicators = self.indicators(bar.symbol)
        if when is not None and when.session.day != indicators.session_day:
            indicators.session_day = when.session.day
            indicators.new_session()
        view = MarketView(indicators, when, indicators.update(bar))
        self._last_bar, self._last_view = bar, view
        return view
