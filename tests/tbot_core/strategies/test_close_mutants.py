"""``close`` (end-of-day momentum): at the first bar of the last 30 minutes, buy above both the session open
and VWAP, sell below both, and do nothing on a mixed picture; once per session, through the real ``on_bar``.

Bars with high = low = close make VWAP exact: (h + l + c) / 3 is the close itself.
"""

from __future__ import annotations

from tbot_core.config import Settings
from tbot_core.strategies.close import EndOfDayMomentum

from .session_bars import SESSION_MINUTES, bar

WINDOW = SESSION_MINUTES - 30  # minute 360: 30 minutes to the close


def _session(*closes: tuple[float, float, float], open_: float = 100.0, day: int = 0) -> EndOfDayMomentum:
    """Feed (minute, close, volume) bars; the first one's open is the session open."""
    strategy = EndOfDayMomentum(Settings())
    for i, (minute, close, volume) in enumerate(closes):
        b = bar(minute, close, open_=open_ if i == 0 else close, volume=volume, day=day)
        assert strategy.on_bar(b, None) == [], f"no signal before the close window (minute {minute})"
    return strategy


def test_above_the_session_open_and_vwap_at_the_window_buys():
    strategy = _session((0, 100, 1000), (200, 104, 1000), (WINDOW - 0.5, 106, 1000))
    [signal] = strategy.on_bar(bar(WINDOW, 110, volume=1000), 16.0)
    assert (signal.side, signal.strategy) == ("buy", "close")
    vwap = (100 + 104 + 106 + 110) / 4
    assert signal.reason == f"close 110.0000 vs session open 100.0000 and VWAP {vwap:.4f} into the close"
    assert signal.context["session_open"] == 100.0 and signal.context["vix"] == 16.0


def test_below_the_session_open_and_vwap_at_the_window_sells():
    strategy = _session((0, 100, 1000), (200, 96, 1000))
    [signal] = strategy.on_bar(bar(WINDOW, 90, volume=1000), None)
    assert signal.side == "sell" and signal.context["session_open"] == 100.0
    assert "close 90.0000 vs session open 100.0000" in signal.reason


def test_the_session_open_is_the_first_bars_open_not_a_later_bars():
    strategy = _session((0, 101, 1000), (200, 90, 1_000_000), open_=99.0)  # vwap about 90
    [signal] = strategy.on_bar(bar(WINDOW, 100, open_=100.5, volume=1000), None)
    assert signal.side == "buy" and signal.context["session_open"] == 99.0


def test_above_the_open_but_below_vwap_does_nothing_and_spends_the_sessions_turn():
    strategy = _session((0, 100, 1000), (200, 130, 1_000_000))  # vwap about 130
    assert strategy.on_bar(bar(WINDOW, 110, volume=1000), None) == []
    assert strategy.on_bar(bar(WINDOW + 1, 150, volume=1000), None) == [], "only the window's first bar decides"


def test_below_the_open_but_above_vwap_does_nothing():
    strategy = _session((0, 100, 1000), (200, 70, 1_000_000))  # vwap about 70
    assert strategy.on_bar(bar(WINDOW, 90, volume=1000), None) == []


def test_a_close_equal_to_the_session_open_or_to_vwap_is_no_momentum():
    at_open_over_vwap = _session((0, 100, 1000), (200, 80, 1000))  # vwap (100 + 80 + 2 * 100) / 4 = 95
    assert at_open_over_vwap.on_bar(bar(WINDOW, 100, volume=2000), None) == []
    at_open_under_vwap = _session((0, 100, 1000), (200, 120, 1000))  # vwap (100 + 120 + 2 * 100) / 4 = 105
    assert at_open_under_vwap.on_bar(bar(WINDOW, 100, volume=2000), None) == []
    at_vwap_over_open = _session((0, 100, 1000), (200, 130, 1000))  # vwap (100 + 130 + 115) / 3 = 115
    assert at_vwap_over_open.on_bar(bar(WINDOW, 115, volume=1000), None) == []
    at_vwap_under_open = _session((0, 100, 1000), (200, 80, 1000))  # vwap (100 + 80 + 90) / 3 = 90
    assert at_vwap_under_open.on_bar(bar(WINDOW, 90, volume=1000), None) == []


def test_the_window_opens_exactly_thirty_minutes_before_the_close():
    strategy = _session((0, 100, 1000))
    assert strategy.on_bar(bar(WINDOW - 0.5, 110, volume=1000), None) == []
    assert strategy.on_bar(bar(WINDOW, 110, volume=1000), None)[0].side == "buy"


def test_one_decision_per_session_and_a_new_one_the_next_session():
    strategy = _session((0, 100, 1000))
    assert strategy.on_bar(bar(WINDOW, 110, volume=1000), None)[0].side == "buy"
    assert strategy.on_bar(bar(WINDOW + 5, 120, volume=1000), None) == []
    assert strategy.on_bar(bar(0, 100, volume=1000, day=1), None) == []
    assert strategy.on_bar(bar(WINDOW, 90, volume=1000, day=1), None)[0].side == "sell"


def test_no_decision_without_volume_to_weigh_a_vwap():
    strategy = _session((0, 100, 0.0))
    assert strategy.on_bar(bar(WINDOW, 110, volume=0.0), None) == []
    assert strategy.on_bar(bar(WINDOW + 1, 110, volume=1000), None) == [], "the window's first bar decided"
