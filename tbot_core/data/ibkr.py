"""The Interactive Brokers market-data feed: minute bars, VIX, and auction imbalance ticks.

It runs on its own :class:`IbkrSession` (client id ``IBKR_CLIENT_ID + 1``: IB
allows one connection per client id, and the broker adapter holds the first).

* ``bars()``: 1-minute TRADES bars from ``reqHistoricalDataAsync`` (UTC
  dates), replayed between ``start`` and ``end``, or polled live every
  ``LIVE_BAR_POLL_SECONDS`` when there is no ``end`` (completed minutes only).
* ``vix(ts)``: the close of the last 1-minute bar of the CBOE VIX index at or
  before ``ts``, for the VIX gatekeeper.
* ``imbalance(symbol)``: the auction values of generic tick 225 (paired
  volume, price, imbalance) and the regulatory imbalance, for
  ``imbalance_scanner_ibkr``.  IB streams them during the closing auction
  window; outside it the fields are unset and the answer is ``None``.
"""

from __future__ import annotations

import asyncio
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
from tbot_core.errors import BrokerError, ConfigError
from tbot_core.timeutil import utc_now

if TYPE_CHECKING:
    from tbot_core.config import Settings
    from tbot_core.home import BotHome

VIX = Index("VIX", "CBOE", "USD")
AUCTION_TICKS = "225"
_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class AuctionImbalance:
    symbol: str
    ts: datetime  # UTC time of the tick
    paired_volume: float  # shares matched at the auction price
    imbalance: float  # unmatched shares (IB reports the size; see regulatory_imbalance for the side)
    auction_price: float
    regulatory_imbalance: float | None  # signed: > 0 buy-side, < 0 sell-side; None if not sent


def _known(value: float | None) -> bool:
    return value is not None and not math.isnan(value) and abs(value) < 1e300


def imbalance_from_ticker(ticker: Ticker) -> AuctionImbalance | None:
    """The auction values a ``Ticker`` holds, or None while IB has sent none."""
    if ticker.contract is None or not (_known(ticker.auctionImbalance) and _known(ticker.auctionVolume)):
        return None
    when = ticker.time or datetime.now(UTC)
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
        self._auction_tickers: dict[str, Ticker] = {}

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
            fresh = [bar for bar in self.history(after, now) if bar.ts + _MINUTE <= now]
            yield from fresh
            if fresh:
                after = fresh[-1].ts + _MINUTE
            self._closed.wait(self._poll)

    def vix(self, ts: datetime) -> float | None:
        rows = [bar_from_ib("VIX", raw) for raw in self._minute_bars(VIX, ts - timedelta(hours=1), ts)]
        before = [bar for bar in rows if bar.ts <= ts]
        return before[-1].close if before else None

    def imbalance(self, symbol: str) -> AuctionImbalance | None:
        """Latest auction imbalance for ``symbol``; the first call subscribes and waits for one update."""

        async def read(ib: IB) -> Ticker:
            ticker = self._auction_tickers.get(symbol)
            if ticker is None:
                ticker = ib.reqMktData(Stock(symbol, "SMART", "USD"), AUCTION_TICKS)
                self._auction_tickers[symbol] = ticker
                try:
                    await asyncio.wait_for(ticker.updateEvent, self._session.endpoint.request_timeout / 2)
                except TimeoutError:
                    pass  # no auction values yet (outside the window): the answer is None, not an outage
            return ticker

        return imbalance_from_ticker(self._session.call(f"auction imbalance {symbol}", read))

    def heartbeat(self) -> None:
        self._session.heartbeat()

    def close(self) -> None:
        self._closed.set()
        self._session.close()


def make_ibkr_feed(home: BotHome, settings: Settings) -> IbkrFeed:
    """Entry point for ``tbot_core.data.factory`` (BROKER=ibkr): a live feed."""
    return IbkrFeed.from_home(home, settings)
