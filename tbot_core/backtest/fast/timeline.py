"""The bars as the engine sees them, precomputed: sessions, feed order, marks and VIX.

The bar engine asks the NYSE calendar for the session of every bar
(``session_for``), replays the bars in one stream (time order, symbols
sorted within a time: ``scratch.write_market_data``), marks each bar's
close in cents (``money.quote_cents``) and reads the VIX in force from the
replay's VIX file.  Here each of those is one array per symbol, with the
same arithmetic: minutes to and from the session edges are whole
microseconds divided as ``timedelta.total_seconds() / 60`` divides them,
and a mark is the half-even rounding of ``close * 100``, as ``round`` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from tbot_core.backtest.data import SymbolBars
from tbot_core.backtest.scratch import vix_table
from tbot_core.errors import ConfigError, LogicError
from tbot_core.market_calendar import NEW_YORK, Session, _calendar  # the calendar session_on reads
from tbot_core.timeutil import iso_z

SECONDS_PER_MINUTE = 60.0
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class SymbolTimeline:
    """One symbol's bars with what every strategy reads about each of them."""

    symbol: str
    bars: SymbolBars
    gpos: np.ndarray  # the bar's position in the engine's bar stream (all symbols)
    sess: np.ndarray  # index into Timeline.sessions, -1 when the bar's New York day has no session
    in_session: np.ndarray  # session.open <= ts < session.close
    msince: np.ndarray  # minutes since the session's open (NaN without a session)
    mtc: np.ndarray  # minutes to the session's close (NaN without a session)
    group: np.ndarray  # the session the indicators were last reset for (VWAP), -1 before any
    _cents: np.ndarray | None = field(default=None, repr=False)
    _stamps: dict[int, datetime] = field(default_factory=dict, repr=False)
    _micros: np.ndarray | None = field(default=None, repr=False)

    @property
    def cents(self) -> np.ndarray:
        """The engine's mark of every bar: ``quote_cents(close)`` = ``round(close * 100)`` (half even)."""
        if self._cents is None:
            self._cents = np.rint(self.bars.close * 100.0).astype(np.int64)
        return self._cents

    def stamp(self, k: int) -> datetime:
        """Bar ``k``'s time as the replay feed hands it to the engine (an aware UTC datetime, microseconds)."""
        found = self._stamps.get(k)
        if found is None:
            if self._micros is None:  # one conversion of the whole column: cheaper than one per bar
                self._micros = self.bars.ts.astype("datetime64[us]").astype(np.int64)
            found = self._stamps[k] = EPOCH + timedelta(microseconds=int(self._micros[k]))
        return found

    sessions: list[Session] = field(default_factory=list, repr=False)

    vix_ts: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64), repr=False)
    vix_level: list[float] = field(default_factory=list, repr=False)
    _ns: np.ndarray | None = field(default=None, repr=False)

    def vix_at(self, k: int) -> float | None:
        """What ``ReplayFeed.vix`` answers at bar ``k``: the latest level at or before it, None before the first."""
        if not self.vix_level:
            return None
        if self._ns is None:  # a view when the bars are in nanoseconds already
            self._ns = self.bars.ts.astype("datetime64[ns]", copy=False).view(np.int64)
        # One search per signal: a few thousand signals, not a search for each of a million bars.
        i = int(self.vix_ts.searchsorted(self._ns[k], "right"))
        return self.vix_level[i - 1] if i else None

    def session_of(self, k: int) -> Session:
        return self.sessions[int(self.sess[k])]

    def first_per_session(self, mask: np.ndarray) -> np.ndarray:
        """The first bar of each session where ``mask`` holds (sorted bar indices)."""
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return idx
        sess = self.sess[idx]
        return idx[np.r_[True, sess[1:] != sess[:-1]]]


@dataclass
class Timeline:
    symbols: list[str]
    per: dict[str, SymbolTimeline]
    sessions: list[Session]
    day: np.ndarray  # UTC day number of every bar of the stream
    order_symbol: np.ndarray  # symbol rank of every bar of the stream
    order_local: np.ndarray  # the bar's index in its symbol
    total: int
    times: np.ndarray  # every bar time of any symbol, sorted and unique (``data.bar_times``)


def _micros(ts: np.ndarray) -> np.ndarray:
    return ts.astype("datetime64[ns]").astype(np.int64) // 1000


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """Unique values of a sorted array (a diff: far cheaper than hashing a million timestamps)."""
    if values.size == 0:
        return values
    return values[np.r_[True, values[1:] != values[:-1]]]


def _same_times(a: np.ndarray, b: np.ndarray) -> bool:
    return a is b or (a.shape == b.shape and bool(np.array_equal(a, b)))


def _sessions(days: np.ndarray) -> tuple[list[Session | None], np.ndarray, np.ndarray]:
    """``session_on`` for each New York day, read in one go from the calendar's schedule (the same values)."""
    cal = _calendar()
    schedule = cal.schedule
    first, last = cal.first_session.date(), cal.last_session.date()
    where = schedule.index.get_indexer(pd.DatetimeIndex(days.astype("datetime64[ns]")))
    listed = np.array([row >= 0 and first <= day <= last for day, row in zip(days.tolist(), where.tolist())], bool)
    rows = where[listed]
    # The schedule's rows read as whole columns: the same aware datetimes ``Timestamp.to_pydatetime`` gives.
    opened, closed = pd.DatetimeIndex(schedule["open"].iloc[rows]), pd.DatetimeIndex(schedule["close"].iloc[rows])
    open_us = np.zeros(days.size, dtype=np.int64)
    close_us = np.zeros(days.size, dtype=np.int64)
    open_us[listed], close_us[listed] = opened.asi8 // 1000, closed.asi8 // 1000
    found: list[Session | None] = [None] * days.size
    at = np.flatnonzero(listed).tolist()
    for i, day, o, c in zip(at, days[at].tolist(), opened.to_pydatetime().tolist(), closed.to_pydatetime().tolist()):
        found[i] = Session(day, o, c)
    return found, open_us, close_us


def build_timeline(bars: dict[str, SymbolBars]) -> Timeline:
    """Every symbol's session arrays and the engine's bar stream over ``bars``."""
    symbols = sorted(bars)
    if not symbols:
        raise ConfigError("backtest: no bars to replay")
    # Symbols usually share their bar times: each distinct time array is worked out once.
    same_as: dict[str, str] = {}
    for i, s in enumerate(symbols):
        same_as[s] = next((o for o in symbols[:i] if same_as[o] == o and _same_times(bars[o].ts, bars[s].ts)), s)
    local_days = {}
    for s in set(same_as.values()):
        stamps = pd.DatetimeIndex(bars[s].ts).tz_localize("UTC").tz_convert(NEW_YORK).tz_localize(None)
        local_days[s] = stamps.to_numpy().astype("datetime64[D]")
    days = np.unique(np.concatenate([_sorted_unique(d) for d in local_days.values()]))
    found, opens, closes = _sessions(days)
    sessions = [x for x in found if x is not None]
    index_of_day = np.cumsum([x is not None for x in found], dtype=np.int64) - 1
    index_of_day[[x is None for x in found]] = -1
    per: dict[str, SymbolTimeline] = {}
    for s in symbols:
        series = bars[s]
        twin = per.get(same_as[s])
        if twin is not None:
            per[s] = SymbolTimeline(
                s, series, twin.gpos, twin.sess, twin.in_session, twin.msince, twin.mtc, twin.group, sessions=sessions
            )
            continue
        where = np.searchsorted(days, local_days[s])
        sess = index_of_day[where]
        has = sess >= 0
        us = _micros(series.ts)
        msince = np.where(has, (us - opens[where]) / 1e6 / SECONDS_PER_MINUTE, np.nan)
        mtc = np.where(has, (closes[where] - us) / 1e6 / SECONDS_PER_MINUTE, np.nan)
        in_session = has & (us >= opens[where]) & (us < closes[where])
        last = np.maximum.accumulate(np.where(has, np.arange(len(series)), -1)) if len(series) else sess
        group = np.where(last >= 0, sess[np.maximum(last, 0)], -1)
        per[s] = SymbolTimeline(
            s, series, np.empty(0, np.int64), sess, in_session, msince, mtc, group, sessions=sessions
        )
    positions, day, rank, local, times = _stream(bars, symbols, same_as)
    for s, gpos in zip(symbols, positions):
        per[s].gpos = gpos
    vts, vlevel = vix_table(bars)
    vix_ts, vix_level = vts.astype("datetime64[ns]").astype(np.int64), vlevel.tolist()
    for s in symbols:
        per[s].vix_ts, per[s].vix_level = vix_ts, vix_level
    return Timeline(symbols, per, sessions, day, rank, local, int(day.size), times)


def _stream(
    bars: dict[str, SymbolBars], symbols: list[str], same_as: dict[str, str]
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The engine's bar stream: by time, then symbol rank.  Per symbol its bars' stream positions; per stream
    bar its UTC day number, symbol rank and index in its symbol; and ``bar_times`` (sorted unique times)."""
    first = bars[symbols[0]].ts
    if len(symbols) > 1 and all(same_as[s] == symbols[0] for s in symbols) and bool(np.all(first[1:] > first[:-1])):
        # The same strictly increasing times for every symbol: the stream takes them in turn at each time.
        m, n = first.size, len(symbols)
        day = np.repeat(first.astype("datetime64[D]").astype(np.int64), n)
        positions = [np.arange(m, dtype=np.int64) * n + k for k in range(n)]
        return positions, day, np.tile(np.arange(n), m), np.repeat(np.arange(m), n), first
    ts = np.concatenate([bars[s].ts for s in symbols])
    rank = np.concatenate([np.full(len(bars[s]), k) for k, s in enumerate(symbols)])
    local = np.concatenate([np.arange(len(bars[s])) for s in symbols])
    # By time, then symbol rank: the symbols are concatenated in rank order, so a stable sort by time alone
    # (a merge of already sorted runs) is ``np.lexsort((rank, ts))``.
    order = np.argsort(ts, kind="stable") if len(symbols) > 1 else np.arange(ts.size)
    position = np.empty(order.size, dtype=np.int64)
    position[order] = np.arange(order.size)
    bounds = np.cumsum([0, *(len(bars[s]) for s in symbols)]).tolist()
    positions = [position[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    stream = ts[order]
    times = first if len(symbols) == 1 else _sorted_unique(stream)  # as ``bar_times`` answers
    return positions, stream.astype("datetime64[D]").astype(np.int64), rank[order], local[order], times


class ReplayVix:
    """The replay feed's VIX (``ReplayFeed.vix``) as ``MarketData`` asks for it: the loop primes the answer."""

    def __init__(self) -> None:
        self._ts: datetime | None = None
        self._level: float | None = None

    def prime(self, ts: datetime, level: float | None) -> None:
        self._ts, self._level = ts, level

    def vix(self, ts: datetime) -> float | None:
        if ts != self._ts:
            raise LogicError(f"fast engine: VIX asked at {iso_z(ts)}, primed for another bar")
        return self._level
