"""The Interactive Brokers market-data feed: minute bars, VIX, and auction imbalance ticks.

It runs on its own :class:`IbkrSession` (client id ``IBKR_CLIENT_ID + 1``: IB
allows one connection per client id, and the broker adapter holds the first).

* ``bars()``: 1-minute TRADES bars from ``reqHistoricalDataAsync`` (UTC
  dates), replayed between ``start`` and ``end``, or polled live every
  ``LIVE_BAR_POLL_SECONDS`` when there is no ``end`` (completed minutes only).
* ``vix(ts)``: the close of the last 1-minute bar of the CBOE VIX index at or
  before ``ts``, for the VIX gatekeeper.
* ``imbalance(symbol)``: the auction values of generic tick 225 (paired
  volume, price, imbalance) and the regulatory imbalance, streamed from one
  ``reqMktData`` subscription per symbol (qualified first: a ticker needs the
  conId).  IB streams them during the closing auction; without them the answer
  is ``None``.  The side is the sign of IB's imbalance (> 0 buyers waiting, < 0
  sellers), else of the regulatory imbalance.  ``IbkrImbalanceSource`` is the
  market-data seam over it: it subscribes the close strategy's symbols when
  ``imbalance_scanner_ibkr``'s window opens and cancels them when it closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ib_async import IB, BarData, Contract, Index, Stock, Ticker

from tbot_core.bars import Bar
from tbot_core.brokers.ibkr_session import IbkrEndpoint, IbkrSession
from tbot_core.data.base import Feed
from tbot_core.errors import BrokerError, ConfigError, TbotError
from tbot_core.market_calendar import session_for
from tbot_core.signals import Imbalance, Side
from tbot_core.timeutil import utc_now

if TYPE_CHECKING:
    from tbot_core.config import Settings
    from tbot_core.home import BotHome

VIX = Index("VIX", "CBOE", "USD")
AUCTION_TICKS = "225"
AUCTION_TICK_TYPES = frozenset({34, 35, 36, 61})  # auction volume, price, imbalance; regulatory imbalance
_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class AuctionImbalance:
    symbol: str
    ts: datetime  # UTC time the last auction tick arrived
    paired_volume: float  # shares matched at the auction price
    imbalance: float  # unmatched shares, signed as IB sends them: > 0 buy side, < 0 sell side
    auction_price: float
    regulatory_imbalance: float | None  # signed like ``imbalance``; None if not sent

    @property
    def side(self) -> Side:
        """The side the unmatched shares are on: the auction imbalance's sign, else the regulatory one's."""
        signed = self.imbalance or self.regulatory_imbalance or 0.0
        return "sell" if signed < 0 else "buy"

    def to_signal(self) -> Imbalance:
        """The gate's view (``signals.Imbalance``): side, unmatched shares and paired volume."""
        return Imbalance(ts=self.ts, side=self.side, shares=abs(self.imbalance), paired=self.paired_volume)


def _known(value: float | None) -> bool:
    return value is not None and not math.isnan(value) and abs(value) < 1e300


def imbalance_from_ticker(ticker: Ticker, received: datetime | None = None) -> AuctionImbalance | None:
    """The auction values a ``Ticker`` holds, or None while IB has sent none."""
    if ticker.contract is None or not (_known(ticker.auctionImbalance) and _known(ticker.auctionVolume)):
        return None
    when = received or ticker.time or datetime.now(UTC)
    return AuctionImbalance(
        symbol=ticker.contract.symbol,
        ts=when.astimezone(UTC),
        paired_volume=float(ticker.auctionVolume),
        imbalance=float(ticker.auctionImbalance),
        auction_price=float(ticker.auctionPrice) if _known(ticker.auctionPrice) else math.nan,
        regulatory_imbalance=float(ticker.regulatoryImbalance) if _known(ticker.regulatoryImbalance) else None,
    )


def bar_from_ib(symbol: str, raw: BarData) -> Bar:
    if not isinstance(raw.date, datetime) or raw.date.tzinfo is None:
        raise BrokerError(f"ibkr bars {symbol}: expected UTC intraday bar times (formatDate=2)")
    return Bar(
        ts=raw.date.astimezone(UTC),
        symbol=symbol,
        open=float(raw.open),
        high=float(raw.high),
        low=float(raw.low),
        close=float(raw.close),
        volume=float(raw.volume),
    )


def duration_for(start: datetime, end: datetime) -> str:
    """IB's ``durationStr`` covering ``[start, end]``: seconds up to a day, whole days beyond."""
    seconds = max(60, math.ceil((end - start).total_seconds()) + 60)
    return f"{seconds} S" if seconds <= 86400 else f"{math.ceil(seconds / 86400)} D"


class IbkrFeed(Feed):
    def __init__(
        self,
        endpoint: IbkrEndpoint,
        *,
        symbols: tuple[str, ...],
        poll_seconds: float = 5.0,
        start: datetime | None = None,
        end: datetime | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if not symbols:
            raise ConfigError("SYMBOLS: the IBKR feed needs at least one symbol")
        self._session = IbkrSession(endpoint, service="ibkr data")
        self._symbols = symbols
        self._poll = poll_seconds
        self._start, self._end, self._clock = start, end, clock
        self._closed = threading.Event()
        self._auction_tickers: dict[str, Ticker] = {}  # loop thread only
        self._auction_times: dict[str, datetime] = {}
        self._auction_epoch = -1  # the session's connection count when the subscriptions were made

    @classmethod
    def from_home(
        cls, home: BotHome, settings: Settings, *, start: datetime | None = None, end: datetime | None = None
    ) -> IbkrFeed:
        return cls(
            IbkrEndpoint.from_home(home, settings, client_id_offset=1),
            symbols=settings.symbols,
            poll_seconds=float(settings.live_bar_poll_seconds),
            start=start,
            end=end,
        )

    def _minute_bars(self, contract: Contract, start: datetime, end: datetime) -> list[BarData]:
        async def fetch(ib: IB) -> list[BarData]:
            return list(
                await ib.reqHistoricalDataAsync(
                    contract, end, duration_for(start, end), "1 min", "TRADES", useRTH=True, formatDate=2
                )
            )

        return self._session.call(f"bars {contract.symbol}", fetch)

    def history(self, start: datetime, end: datetime) -> list[Bar]:
        bars = [
            bar_from_ib(symbol, raw)
            for symbol in self._symbols
            for raw in self._minute_bars(Stock(symbol, "SMART", "USD"), start, end)
        ]
        return sorted((b for b in bars if start <= b.ts <= end), key=lambda b: (b.ts, b.symbol))

    def bars(self) -> Iterator[Bar]:
        if self._end is not None:
            yield from self.history(self._start or self._end - timedelta(days=1), self._end)
            return
        after = self._start or self._clock() - _MINUTE
        while not self._closed.is_set():
            now = self._clock()
            try:
                fresh = [bar for bar in self.history(after, now) if bar.ts + _MINUTE <= now]
            except TbotError:
                if self._closed.is_set():  # closed while polling: the end of the stream, not a failure
                    return
                raise
            yield from fresh
            if fresh:
                after = fresh[-1].ts + _MINUTE
            self._closed.wait(self._poll)

    def vix(self, ts: datetime) -> float | None:
        rows = [bar_from_ib("VIX", raw) for raw in self._minute_bars(VIX, ts - timedelta(hours=1), ts)]
        before = [bar for bar in rows if bar.ts <= ts]
        return before[-1].close if before else None

    def watch_imbalance(self, symbols: tuple[str, ...]) -> None:
        """Subscribe generic tick 225 for ``symbols`` (again after a reconnect); already watched ones are kept."""
        self._session.call("auction imbalance subscribe", lambda ib: self._subscribe(ib, symbols))

    async def _subscribe(self, ib: IB, symbols: tuple[str, ...]) -> None:
        if self._auction_epoch != self._session.connections:  # a new connection: the old subscriptions died with it
            self._auction_tickers.clear()
            self._auction_times.clear()
            self._auction_epoch = self._session.connections
        wanted = [Stock(s, "SMART", "USD") for s in symbols if s not in self._auction_tickers]
        if not wanted:
            return
        for contract in await ib.qualifyContractsAsync(*wanted):  # a ticker needs the conId
            if not isinstance(contract, Contract):
                continue
            ticker = ib.reqMktData(contract, AUCTION_TICKS)
            ticker.updateEvent += self._on_ticker
            self._auction_tickers[contract.symbol] = ticker

    def _on_ticker(self, ticker: Ticker) -> None:
        """Remember when auction values (not just a price) last arrived, so a quiet imbalance goes stale."""
        if ticker.contract is not None and any(t.tickType in AUCTION_TICK_TYPES for t in ticker.ticks):
            self._auction_times[ticker.contract.symbol] = ticker.time or datetime.now(UTC)

    def unwatch_imbalance(self) -> None:
        """Cancel every auction subscription (the window closed); a dead connection has none to cancel."""
        if not self._auction_tickers:
            return

        async def cancel(ib: IB) -> None:
            if ib.isConnected() and self._auction_epoch == self._session.connections:
                for ticker in self._auction_tickers.values():
                    if ticker.contract is not None:
                        ib.cancelMktData(ticker.contract)
            self._auction_tickers.clear()
            self._auction_times.clear()

        self._session.call("auction imbalance cancel", cancel)

    def imbalance(self, symbol: str) -> AuctionImbalance | None:
        """Latest auction imbalance for ``symbol``; subscribes if needed and waits for the first update."""

        async def read(ib: IB) -> AuctionImbalance | None:
            fresh = symbol not in self._auction_tickers or self._auction_epoch != self._session.connections
            if fresh:
                await self._subscribe(ib, (symbol,))
            ticker = self._auction_tickers.get(symbol)
            if ticker is None:
                raise BrokerError(f"ibkr auction imbalance {symbol}: contract not found")
            if fresh or ticker.time is None:  # nothing yet from this subscription: wait for IB's first word
                with contextlib.suppress(TimeoutError):  # no auction values yet (outside the window): None
                    await asyncio.wait_for(ticker.updateEvent, self._session.endpoint.request_timeout / 2)
            return imbalance_from_ticker(ticker, self._auction_times.get(symbol))

        return self._session.call(f"auction imbalance {symbol}", read)

    def heartbeat(self) -> None:
        self._session.heartbeat()

    def close(self) -> None:
        self._closed.set()
        self._session.close()


class IbkrImbalanceSource:
    """``ImbalanceSource`` for BROKER=ibkr: the close strategy's auction imbalance, read inside its window only.

    The window is ``imbalance_scanner_ibkr``'s (the seed's 20:30-21:00 UTC moved with
    the real NYSE close).  The first question inside it subscribes generic tick 225
    for every symbol the close strategy trades, so the others' values are already
    streaming when they are asked; the first question after it cancels them.
    Outside the window, or for a symbol the close strategy does not trade, the
    answer is None without touching IB.
    """

    def __init__(
        self,
        feed: IbkrFeed,
        symbols: tuple[str, ...],
        window: Callable[[datetime], tuple[datetime, datetime] | None],
    ) -> None:
        self.feed, self.symbols, self.window = feed, symbols, window

    @classmethod
    def for_settings(cls, feed: IbkrFeed, settings: Settings) -> IbkrImbalanceSource:
        start, end = settings.imbalance_window_start_utc, settings.imbalance_window_end_utc

        def window(ts: datetime) -> tuple[datetime, datetime] | None:
            session = session_for(ts)
            return session.shifted_window(start, end) if session is not None else None

        return cls(feed, tuple(settings.symbols), window)

    def imbalance(self, symbol: str, ts: datetime) -> Imbalance | None:
        bounds = self.window(ts)
        if bounds is None or not bounds[0] <= ts < bounds[1]:
            self.feed.unwatch_imbalance()
            return None
        if symbol not in self.symbols:
            return None
        self.feed.watch_imbalance(self.symbols)
        report = self.feed.imbalance(symbol)
        return report.to_signal() if report is not None else None


def make_ibkr_feed(home: BotHome, settings: Settings) -> IbkrFeed:
    """Entry point for ``tbot_core.data.factory`` (BROKER=ibkr): a live feed."""
    return IbkrFeed.from_home(home, settings)
