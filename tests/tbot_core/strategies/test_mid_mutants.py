"""``mid`` (mid-session mean reversion): fade a close 1.5 ATR or more from its 20-bar mean, inside the window.

The indicators are real (``SymbolIndicators`` folding real bars); ``decide`` is then asked about a bar that
is not folded in, so the mean and the ATR stay exactly what the warm-up made them: mean 100, ATR 2 (or 0.5).
"""

from __future__ import annotations

from tbot_core.config import Settings
from tbot_core.market_calendar import SessionTime
from tbot_core.strategies.base import SymbolState
from tbot_core.strategies.market_state import SymbolIndicators
from tbot_core.strategies.mid import MidSessionReversion

from .session_bars import SESSION_MINUTES, bar, session

SETTINGS = Settings()


def _warm(half_range: float = 1.0, bars: int = 20) -> SymbolState:
    """Indicators after ``bars`` closes of 100 with high/low 100 +- ``half_range``: mean 100, ATR 2 * half_range."""
    indicators = SymbolIndicators(SETTINGS)
    for i in range(bars):
        assert indicators.update(bar(i, 100.0, high=100.0 + half_range, low=100.0 - half_range))
    return SymbolState(indicators)


def _decide(state: SymbolState, minute: float, close: float, vix: float | None = None):
    moment = bar(minute, close)
    return MidSessionReversion(SETTINGS).decide(moment, vix, state, SessionTime.at(session(), moment.ts))


def test_a_close_stretched_exactly_one_and_a_half_atr_above_the_mean_is_sold():
    state = _warm()
    assert state.indicators.bollinger.value[1] == 100.0 and state.indicators.atr.value == 2.0
    [signal] = _decide(state, 60, 103.0, vix=21.0)
    assert (signal.side, signal.strategy) == ("sell", "mid")
    assert signal.reason == "close stretched +1.50 ATR from its 20-bar mean"
    assert signal.context["stretch_atr"] == 1.5 and signal.context["vix"] == 21.0


def test_a_close_stretched_exactly_one_and_a_half_atr_below_the_mean_is_bought():
    [signal] = _decide(_warm(), 60, 97.0)
    assert signal.side == "buy"
    assert signal.reason == "close stretched -1.50 ATR from its 20-bar mean"
    assert signal.context["stretch_atr"] == -1.5


def test_the_stretch_is_measured_from_the_middle_band_not_an_outer_one():
    indicators = SymbolIndicators(SETTINGS)
    for i in range(20):  # closes 99 / 101 alternating: mean 100, a band of real width; true range 3 every bar
        close = 99.0 if i % 2 else 101.0
        assert indicators.update(bar(i, close, high=close + 1, low=close - 1))
    state = SymbolState(indicators)
    upper, middle, lower = indicators.bollinger.value
    assert middle == 100.0 and lower < 99 < 101 < upper and indicators.atr.value == 3.0
    [signal] = _decide(state, 60, 104.5)
    assert signal.side == "sell" and signal.context["stretch_atr"] == 1.5


def test_a_stretch_just_short_of_one_and_a_half_atr_is_not_faded():
    state = _warm()
    assert _decide(state, 60, 102.98) == [] and _decide(state, 61, 97.02) == []


def test_the_stretch_in_the_signal_is_rounded_to_four_places():
    [signal] = _decide(_warm(), 60, 103.123456)
    assert signal.context["stretch_atr"] == 1.5617
    assert signal.reason == "close stretched +1.56 ATR from its 20-bar mean"


def test_a_small_atr_still_measures_the_stretch():
    [signal] = _decide(_warm(half_range=0.25), 60, 100.75)  # ATR 0.5: 0.75 above the mean is 1.5 ATR
    assert signal.side == "sell" and signal.context["stretch_atr"] == 1.5


def test_one_signal_per_excursion_a_new_one_after_returning_or_crossing_to_the_other_side():
    state = _warm()
    sides = []
    for minute, close in [(60, 103), (61, 104), (62, 103.5), (63, 100), (64, 103), (65, 96), (66, 95), (67, 104)]:
        sides.append([s.side for s in _decide(state, minute, close)])
    assert sides == [["sell"], [], [], [], ["sell"], ["buy"], [], ["sell"]]


def test_no_signal_before_the_opening_range_ends_or_in_the_close_window():
    late = SESSION_MINUTES - 30
    assert _decide(_warm(), 29.5, 103) == []
    assert _decide(_warm(), late, 103) == []
    assert _decide(_warm(), 30, 103)[0].side == "sell", "minute 30 is already mid-session"
    assert _decide(_warm(), late - 0.5, 97)[0].side == "buy"


def test_a_stretch_that_began_before_the_window_is_not_faded_when_the_window_opens():
    state = _warm()
    assert _decide(state, 20, 103) == []
    assert _decide(state, 31, 103.5) == [], "the same excursion, already seen"
    assert _decide(state, 32, 100) == [] and _decide(state, 33, 103)[0].side == "sell"


def test_no_signal_while_the_indicators_warm_up_or_when_the_atr_is_zero():
    assert _decide(_warm(bars=0), 60, 150) == []
    assert _decide(_warm(bars=10), 60, 150) == [], "bollinger still warming up"
    assert _decide(_warm(half_range=0.0), 60, 150) == [], "a flat market has no ATR to measure against"


def test_on_bar_fades_a_live_stretch_once():
    strategy = MidSessionReversion(SETTINGS)
    for i in range(40):
        assert strategy.on_bar(bar(i, 100.0, high=101.0, low=99.0), None) == []
    [signal] = strategy.on_bar(bar(45, 110.0, high=110.0, low=100.0), None)
    assert signal.side == "sell" and signal.context["stretch_atr"] > 1.5
    assert strategy.on_bar(bar(46, 111.0, high=111.0, low=109.0), None) == []


def test_a_held_position_is_sold_when_the_close_is_exactly_back_at_its_mean():
    strategy = MidSessionReversion(SETTINGS)
    strategy.holdings_told(["SPY"])
    moment = bar(60, 100.0)
    [signal] = strategy.decide(moment, None, _warm(), SessionTime.at(session(), moment.ts))
    assert signal.side == "sell" and signal.reason == "close back at its 20-bar mean (+0.00 ATR)"
