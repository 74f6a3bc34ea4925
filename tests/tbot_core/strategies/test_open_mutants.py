"""``open`` (opening-range breakout), bar by bar through the real ``on_bar``: range, side, timing, once a session.

Default settings: a 30-minute opening range, no entry in the last 30 minutes of the session.
"""

from __future__ import annotations

from tbot_core.config import Settings
from tbot_core.strategies.open import OpeningRangeBreakout

from .session_bars import SESSION_MINUTES, bar


def _ranged(symbol: str = "SPY") -> OpeningRangeBreakout:
    """A strategy whose opening range for ``symbol`` is high 105 / low 95, set by the first bar of three."""
    strategy = OpeningRangeBreakout(Settings())
    for b in (
        bar(0, 100, high=105, low=95, symbol=symbol),
        bar(10, 100, high=101, low=99, symbol=symbol),
        bar(20, 100, high=102, low=98, symbol=symbol),
    ):
        assert strategy.on_bar(b, 18.5) == [], "no signal inside the opening range"
    return strategy


def test_a_close_above_the_whole_ranges_high_buys_with_the_range_in_its_context():
    strategy = _ranged()
    assert strategy.on_bar(bar(40, 104, high=104.5, low=100), 18.5) == [], "104 is inside the range (high 105)"
    [signal] = strategy.on_bar(bar(45, 106, high=106, low=103), 18.5)
    assert (signal.side, signal.strategy, signal.symbol) == ("buy", "open", "SPY")
    assert signal.reason == "close 106.0000 broke above the opening-range high 105.0000"
    assert (signal.context["range_high"], signal.context["range_low"], signal.context["vix"]) == (105, 95, 18.5)


def test_a_close_below_the_whole_ranges_low_sells_never_buys():
    strategy = _ranged()
    assert strategy.on_bar(bar(40, 96, high=99, low=95.5), None) == [], "96 is inside the range (low 95)"
    [signal] = strategy.on_bar(bar(45, 94, high=97, low=94), None)
    assert signal.side == "sell"
    assert signal.reason == "close 94.0000 broke below the opening-range low 95.0000"
    assert (signal.context["range_high"], signal.context["range_low"], signal.context["vix"]) == (105, 95, None)


def test_a_close_exactly_at_the_range_high_or_low_is_no_breakout():
    up, down = _ranged(), _ranged()
    assert up.on_bar(bar(45, 105, high=105, low=104), None) == []
    assert down.on_bar(bar(45, 95, high=96, low=95), None) == []
    assert up.on_bar(bar(46, 105.01, high=105.01, low=105), None)[0].side == "buy"
    assert down.on_bar(bar(46, 94.99, high=95, low=94.99), None)[0].side == "sell"


def test_the_range_ends_at_thirty_minutes_so_the_bar_at_minute_thirty_can_break_out():
    strategy = OpeningRangeBreakout(Settings())
    assert strategy.on_bar(bar(0, 100, high=101, low=99), None) == []
    assert strategy.on_bar(bar(29, 100, high=101, low=99), None) == []
    [signal] = strategy.on_bar(bar(30, 102, high=102, low=100), None)
    assert signal.side == "buy" and signal.context["range_high"] == 101


def test_only_the_first_breakout_of_a_session_signals_and_the_next_session_starts_afresh():
    strategy = _ranged()
    assert [s.side for s in strategy.on_bar(bar(45, 106, high=106, low=103), None)] == ["buy"]
    assert strategy.on_bar(bar(50, 107, high=107, low=106), None) == []
    assert strategy.on_bar(bar(60, 90, high=100, low=90), None) == [], "the session's one signal is spent"
    assert strategy.on_bar(bar(0, 50, high=51, low=49, day=1), None) == []
    assert strategy.on_bar(bar(45, 48, high=50, low=48, day=1), None)[0].side == "sell"


def test_no_breakout_without_an_opening_range():
    strategy = OpeningRangeBreakout(Settings())  # the feed starts after the range: nothing to break out of
    assert strategy.on_bar(bar(45, 106, high=106, low=103), None) == []
    assert strategy.on_bar(bar(46, 90, high=106, low=90), None) == []


def test_no_entry_in_the_last_thirty_minutes_of_the_session():
    late = SESSION_MINUTES - 30
    inside, edge = _ranged("IN"), _ranged("EDGE")
    assert inside.on_bar(bar(late - 0.5, 106, high=106, low=103, symbol="IN"), None)[0].side == "buy"
    assert edge.on_bar(bar(late, 106, high=106, low=103, symbol="EDGE"), None) == []
    assert edge.on_bar(bar(late + 10, 90, high=106, low=90, symbol="EDGE"), None) == []


def test_each_symbol_has_its_own_range_and_its_own_signal():
    strategy = OpeningRangeBreakout(Settings())
    for b in (bar(0, 100, high=101, low=99, symbol="A"), bar(0, 50, high=51, low=49, symbol="B")):
        strategy.on_bar(b, None)
    assert strategy.on_bar(bar(45, 52, high=52, low=50, symbol="B"), None)[0].side == "buy"
    assert strategy.on_bar(bar(45, 98, high=100, low=98, symbol="A"), None)[0].side == "sell"
