"""NYSE sessions come from the exchange calendar, in UTC, moving with daylight saving."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from tbot_core.market_calendar import market_day, session_for, session_on


def test_a_january_session_runs_14_30_to_21_00_utc():
    session = session_on(date(2026, 1, 6))
    assert (session.open, session.close) == (
        datetime(2026, 1, 6, 14, 30, tzinfo=UTC),
        datetime(2026, 1, 6, 21, 0, tzinfo=UTC),
    )
    assert session.shifted_window(time(20, 30), time(21, 0)) == (
        datetime(2026, 1, 6, 20, 30, tzinfo=UTC),
        session.close,
    )


def test_a_july_session_is_an_hour_earlier_in_utc_and_so_is_the_imbalance_window():
    session = session_on(date(2026, 7, 7))
    assert (session.open.hour, session.close.hour) == (13, 20)
    assert session.shifted_window(time(20, 30), time(21, 0)) == (
        datetime(2026, 7, 7, 19, 30, tzinfo=UTC),
        session.close,
    )


def test_holidays_weekends_and_early_closes():
    assert session_on(date(2026, 7, 3)) is None  # Independence Day observed
    assert session_on(date(2026, 1, 10)) is None  # Saturday
    early = session_on(date(2025, 11, 28))  # day after Thanksgiving closes 13:00 New York
    assert early.close == datetime(2025, 11, 28, 18, 0, tzinfo=UTC)


def test_a_utc_instant_after_midnight_belongs_to_the_new_york_day():
    assert market_day(datetime(2026, 1, 7, 2, 0, tzinfo=UTC)) == date(2026, 1, 6)
    assert session_for(datetime(2026, 1, 7, 2, 0, tzinfo=UTC)).day == date(2026, 1, 6)
