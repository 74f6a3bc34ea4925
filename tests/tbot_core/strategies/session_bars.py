"""Hand-made bars inside one real NYSE session (Tuesday 2026-01-06: 14:30-21:00 UTC, 390 minutes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tbot_core.bars import Bar
from tbot_core.market_calendar import Session, session_for

OPEN = datetime(2026, 1, 6, 14, 30, tzinfo=UTC)
SESSION_MINUTES = 390


def at(minute: float, day: int = 0) -> datetime:
    """``minute`` minutes after the open of the session ``day`` trading days later (no holiday in between)."""
    return OPEN + timedelta(days=day, minutes=minute)


def bar(
    minute: float,
    close: float,
    *,
    high: float | None = None,
    low: float | None = None,
    open_: float | None = None,
    volume: float = 1000.0,
    symbol: str = "SPY",
    day: int = 0,
) -> Bar:
    high = close if high is None else high
    low = close if low is None else low
    return Bar(at(minute, day), symbol, float(close if open_ is None else open_), high, low, close, volume)


def session(day: int = 0) -> Session:
    found = session_for(at(0, day))
    assert found is not None and found.open == at(0, day), "the test day must be a regular NYSE session"
    assert (found.close - found.open) == timedelta(minutes=SESSION_MINUTES)
    return found
