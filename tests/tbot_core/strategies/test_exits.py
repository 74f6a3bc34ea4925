"""Each strategy's entry direction and written exit, through the real ``on_bar``.

Long only: open and mid are flat ``STRAT_*_FLAT_MINUTES_BEFORE_CLOSE`` minutes before the session's
real close (a half day's too); close holds overnight and sells ``STRAT_CLOSE_EXIT_MINUTES_AFTER_OPEN``
minutes into the next session.  A strategy sells only what it holds: told by the engine, or (alone)
booked from its own signals.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tbot_core.bars import Bar
from tbot_core.config import Settings
from tbot_core.market_calendar import session_for
from tbot_core.strategies.close import EndOfDayMomentum
from tbot_core.strategies.mid import MidSessionReversion
from tbot_core.strategies.open import OpeningRangeBreakout

from .session_bars import SESSION_MINUTES, bar

FLAT = SESSION_MINUTES - 10  # default: flat 10 minutes before the 21:00 UTC close


def _open_long() -> OpeningRangeBreakout:
    strategy = OpeningRangeBreakout(Settings())
    strategy.on_bar(bar(0, 100, high=101, low=99), None)
    [entry] = strategy.on_bar(bar(45, 102, high=102, low=100), None)
    assert entry.side == "buy", "an upside breakout is the open strategy's entry"
    return strategy


def test_open_buys_the_breakout_and_sells_it_at_the_first_bar_ten_minutes_before_the_close():
    strategy = _open_long()
    assert strategy.on_bar(bar(FLAT - 1, 103), None) == [], "still inside the day"
    [exit_] = strategy.on_bar(bar(FLAT, 103), None)
    assert (exit_.side, exit_.context["exit"]) == ("sell", True)
    assert exit_.reason == "flat 10 min before the 21:00 UTC close"
    assert strategy.on_bar(bar(FLAT + 1, 103), None) == [], "one exit per session: a second sell could sell short"


def test_open_sends_no_exit_for_what_it_does_not_hold():
    strategy = OpeningRangeBreakout(Settings())
    strategy.on_bar(bar(0, 100, high=101, low=99), None)
    assert strategy.on_bar(bar(FLAT, 100), None) == []


def test_the_flat_time_is_a_setting_and_follows_a_half_day_close():
    settings = Settings().with_values({"STRAT_OPEN_FLAT_MINUTES_BEFORE_CLOSE": "25"})
    strategy = OpeningRangeBreakout(settings)
    day = datetime(2026, 11, 27, 14, 30, tzinfo=UTC)  # the day after Thanksgiving: the close is 18:00 UTC
    session = session_for(day)
    assert session is not None and session.close == datetime(2026, 11, 27, 18, 0, tzinfo=UTC)

    def at(minute: float, close: float, high: float, low: float) -> Bar:
        return Bar(day + timedelta(minutes=minute), "SPY", close, high, low, close, 1000.0)

    strategy.on_bar(at(0, 100, 101, 99), None)
    assert strategy.on_bar(at(45, 102, 102, 100), None)[0].side == "buy"
    assert strategy.on_bar(at(210 - 26, 103, 103, 103), None) == []
    [exit_] = strategy.on_bar(at(210 - 25, 103, 103, 103), None)
    assert exit_.side == "sell" and exit_.reason == "flat 25 min before the 18:00 UTC close"


def test_told_by_the_engine_a_strategy_exits_only_what_the_engine_says_it_holds():
    strategy = _open_long()
    strategy.holdings_told([])  # the buy was refused (risk, a halt): nothing to sell
    assert strategy.on_bar(bar(FLAT, 103), None) == []
    restarted = OpeningRangeBreakout(Settings())
    restarted.holdings_told(["SPY"])  # a restarted core: the broker still holds what an earlier run bought
    assert [s.side for s in restarted.on_bar(bar(FLAT, 103), None)] == ["sell"]


def _mid_long() -> MidSessionReversion:
    strategy = MidSessionReversion(Settings())
    for i in range(40):
        strategy.on_bar(bar(i, 100.0, high=101.0, low=99.0), None)
    [entry] = strategy.on_bar(bar(45, 94.0, high=100.0, low=94.0), None)
    assert entry.side == "buy", "a close stretched below its mean is the mid strategy's entry"
    return strategy


def test_mid_sells_when_the_close_is_back_at_its_mean():
    strategy = _mid_long()
    assert strategy.on_bar(bar(46, 96.0, high=96.5, low=95.5), None) == [], "still below the mean"
    [exit_] = strategy.on_bar(bar(47, 101.0, high=101.0, low=96.0), None)
    assert exit_.side == "sell" and exit_.reason.startswith("close back at its 20-bar mean")
    assert strategy.on_bar(bar(48, 110.0, high=110.0, low=100.0), None) == [], "the session's exit is sent"


def test_mid_is_flat_ten_minutes_before_the_close_if_the_mean_never_came_back():
    strategy = _mid_long()
    for minute in range(46, FLAT):  # a slow slide: the close stays under its mean all afternoon
        close = 94.0 - 0.05 * (minute - 46)
        assert "sell" not in [s.side for s in strategy.on_bar(bar(minute, close, high=close, low=close), None)]
    close = 94.0 - 0.05 * (FLAT - 46)
    [exit_] = strategy.on_bar(bar(FLAT, close, high=close, low=close), None)
    assert exit_.side == "sell" and exit_.reason == "flat 10 min before the 21:00 UTC close"


def _close_long() -> EndOfDayMomentum:
    strategy = EndOfDayMomentum(Settings())
    strategy.on_bar(bar(0, 100, volume=1000), None)
    [entry] = strategy.on_bar(bar(SESSION_MINUTES - 30, 110, volume=1000), None)
    assert entry.side == "buy", "above its open and VWAP into the close is the close strategy's entry"
    return strategy


def test_close_holds_overnight_and_sells_five_minutes_into_the_next_session():
    strategy = _close_long()
    assert strategy.on_bar(bar(SESSION_MINUTES - 1, 111, volume=1000), None) == [], "held into the close"
    assert strategy.on_bar(bar(4, 112, volume=1000, day=1), None) == [], "not inside the opening auction's minutes"
    [exit_] = strategy.on_bar(bar(5, 112, volume=1000, day=1), None)
    assert exit_.side == "sell" and exit_.reason == "overnight hold sold 5 min after the 14:30 UTC open"
    assert strategy.on_bar(bar(6, 112, volume=1000, day=1), None) == []


def test_close_does_not_sell_what_it_bought_in_the_same_session():
    strategy = _close_long()
    assert all(strategy.on_bar(bar(m, 111, volume=1000), None) == [] for m in range(SESSION_MINUTES - 29, 390))


def test_every_exit_carries_the_vix_of_its_bar():
    opened = _open_long()
    [flat] = opened.on_bar(bar(FLAT, 103), 21.5)
    mid = _mid_long()
    [back] = mid.on_bar(bar(47, 101.0, high=101.0, low=96.0), 22.0)
    restarted = MidSessionReversion(Settings())
    restarted.holdings_told(["SPY"])
    [mid_flat] = restarted.on_bar(bar(FLAT, 100.0), 19.0)
    overnight = _close_long()
    [sold] = overnight.on_bar(bar(5, 112, volume=1000, day=1), 17.0)
    assert [(s.reason[:4], s.context["vix"]) for s in (flat, back, mid_flat, sold)] == [
        ("flat", 21.5),
        ("clos", 22.0),
        ("flat", 19.0),
        ("over", 17.0),
    ]


def test_at_the_close_windows_first_bar_a_missed_overnight_exit_is_left_to_the_windows_decision():
    late = EndOfDayMomentum(Settings())
    late.holdings_told(["SPY"])  # a restarted core that missed the morning's exit
    assert [s.reason[:9] for s in late.on_bar(bar(SESSION_MINUTES - 31, 100), None)] == ["overnight"]
    at_window = EndOfDayMomentum(Settings())
    at_window.holdings_told(["SPY"])
    # Flat against its open and VWAP: the window's decision is neither buy nor sell, and the exit rule is over.
    assert at_window.on_bar(bar(SESSION_MINUTES - 30, 100), None) == []
