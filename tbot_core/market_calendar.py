"""NYSE sessions in UTC: open, close, early closes and holidays, daylight saving included.

The seed writes its windows in UTC as winter values (the IBKR imbalance
window 20:30-21:00 UTC is the last 30 minutes of a 21:00 UTC close).  The
actual session comes from ``exchange_calendars`` (XNYS), so in July, or on an
early-close day, the same window moves with the real close.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:  # imported on first use: loading the calendar is slow
    from exchange_calendars import ExchangeCalendar

NEW_YORK = ZoneInfo("America/New_York")
# The close the seed's UTC windows were written against (16:00 New York in winter).
WINTER_CLOSE_UTC = time(21, 0)


@dataclass(frozen=True, slots=True)
class Session:
    day: date
    open: datetime
    close: datetime

    def minutes_since_open(self, ts: datetime) -> float:
        return (ts - self.open).total_seconds() / 60.0

    def minutes_to_close(self, ts: datetime) -> float:
        return (self.close - ts).total_seconds() / 60.0

    def contains(self, ts: datetime) -> bool:
        return self.open <= ts < self.close

    def shifted_window(self, start_utc: time, end_utc: time) -> tuple[datetime, datetime]:
        """A seed window written in winter UTC, moved with this session's real close."""
        base = datetime.combine(self.day, WINTER_CLOSE_UTC, tzinfo=UTC)
        start = datetime.combine(self.day, start_utc, tzinfo=UTC) - base
        end = datetime.combine(self.day, end_utc, tzinfo=UTC) - base
        return self.close + start, self.close + end


@dataclass(frozen=True, slots=True)
class SessionTime:
    """Where one bar time falls in its session, worked out once per minute.

    Every strategy asks of every bar how long since the open and how long to
    the close.  The bars of one minute (one per symbol) share one of these, so
    that datetime arithmetic is done once per minute, not a few times per bar
    and strategy; the rules compare plain floats.
    """

    session: Session
    ts: datetime
    since_open: float  # minutes since the session's open
    to_close: float  # minutes to the session's real close
    open_now: bool  # inside [open, close)

    @classmethod
    def at(cls, session: Session, ts: datetime) -> SessionTime:
        return cls(session, ts, session.minutes_since_open(ts), session.minutes_to_close(ts), session.contains(ts))


@lru_cache(maxsize=1)
def _calendar() -> ExchangeCalendar:
    import exchange_calendars

    return exchange_calendars.get_calendar("XNYS")


def market_day(ts: datetime) -> date:
    """The New York calendar date of a UTC instant (the session it can belong to)."""
    if ts.tzinfo is None:
        raise ValueError("naive datetime: every time in TradeBot is UTC")
    return ts.astimezone(NEW_YORK).date()


# Time moves forward (live and in replays), so a few recent days are all that is ever reused;
# a small bound keeps a long run's memory flat.
@lru_cache(maxsize=32)
def session_on(day: date) -> Session | None:
    """The NYSE session on ``day``; None on weekends, holidays or outside the calendar's range."""
    cal = _calendar()
    label = day.isoformat()
    if not (cal.first_session.date() <= day <= cal.last_session.date()) or not cal.is_session(label):
        return None
    return Session(day, cal.session_open(label).to_pydatetime(), cal.session_close(label).to_pydatetime())


def session_for(ts: datetime) -> Session | None:
    return session_on(market_day(ts))
