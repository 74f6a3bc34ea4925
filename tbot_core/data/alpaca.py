"""The Alpaca market-data feed, on alpaca-py's ``StockHistoricalDataClient``.

Two modes.  With an ``end`` the feed replays history between ``start`` and
``end`` (the SDK follows ``next_page_token`` across pages) and then ends.
Without one it is live.  Live bars are streamed by default
(``ALPACA_FEED_MODE=stream``: ``alpaca_stream.py``, a subclass of this feed
that keeps its history and REST heartbeat); polling is the documented
fallback (``ALPACA_FEED_MODE=poll``): this feed asks for completed 1-minute
bars every ``LIVE_BAR_POLL_SECONDS`` and yields each bar once, at the cost of
up to one poll period of delay and one request per period.

Alpaca's stock API carries no index data, so :meth:`vix` answers ``None``
(unknown) and the VIX gatekeeper fails closed; run ``BROKER=ibkr`` for VIX.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from alpaca.data.enums import DataFeed
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest, StockLatestBarRequest
from alpaca.data.timeframe import TimeFrame

from tbot_core.bars import Bar
from tbot_core.brokers.alpaca_common import AlpacaCredentials, tune_client, url_or_none
from tbot_core.brokers.errors import alpaca_errors
from tbot_core.data.base import Feed
from tbot_core.errors import ConfigError
from tbot_core.timeutil import utc_now

if TYPE_CHECKING:
    from tbot_core.config import Settings
    from tbot_core.home import BotHome

SERVICE = "alpaca data"
_MINUTE = timedelta(minutes=1)


class AlpacaFeed(Feed):
    def __init__(
        self,
        credentials: AlpacaCredentials,
        *,
        symbols: tuple[str, ...],
        url_override: str = "",
        data_feed: str = "iex",
        timeout_seconds: float = 10.0,
        poll_seconds: float = 5.0,
        start: datetime | None = None,
        end: datetime | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if not symbols:
            raise ConfigError("SYMBOLS: the Alpaca feed needs at least one symbol")
        self._symbols = symbols
        self._feed = DataFeed(data_feed)
        self._timeout = timeout_seconds
        self._poll = poll_seconds
        self._start = start
        self._end = end
        self._clock = clock
        self._closed = threading.Event()
        client = StockHistoricalDataClient(
            credentials.api_key, credentials.secret_key, url_override=url_or_none(url_override)
        )
        self._client = tune_client(client, timeout_seconds)

    @classmethod
    def from_home(
        cls, home: BotHome, settings: Settings, *, start: datetime | None = None, end: datetime | None = None
    ) -> AlpacaFeed:
        return cls(
            AlpacaCredentials.from_home(home),
            symbols=settings.symbols,
            url_override=settings.alpaca_data_url_override,
            data_feed=settings.alpaca_data_feed,
            timeout_seconds=float(settings.alpaca_request_timeout_seconds),
            poll_seconds=float(settings.live_bar_poll_seconds),
            start=start,
            end=end,
        )

    def _call(self, what: str, func: Any, *args: Any) -> Any:
        with alpaca_errors(SERVICE, what, timeout=self._timeout):
            return func(*args)

    def history(self, start: datetime, end: datetime | None) -> list[Bar]:
        """Every 1-minute bar of every symbol in ``[start, end]``, in time order."""
        request = StockBarsRequest(
            symbol_or_symbols=list(self._symbols), timeframe=TimeFrame.Minute, start=start, end=end, feed=self._feed
        )
        barset = self._call("bars", self._client.get_stock_bars, request)
        bars = [bar_of(item) for series in barset.data.values() for item in series]
        return sorted(bars, key=lambda bar: (bar.ts, bar.symbol))

    def bars(self) -> Iterator[Bar]:
        if self._end is not None:
            yield from self.history(self._start or self._end - timedelta(days=1), self._end)
            return
        yield from self._live()

    def _live(self) -> Iterator[Bar]:
        after = self._start or self._clock() - _MINUTE
        while not self._closed.is_set():
            now = self._clock()
            # only completed minutes, and each one once: the next poll starts after the last bar yielded
            fresh = [bar for bar in self.history(after, now) if bar.ts >= after and bar.ts + _MINUTE <= now]
            yield from fresh
            if fresh:
                after = fresh[-1].ts + _MINUTE
            self._closed.wait(self._poll)

    def close(self) -> None:
        """Stop a live feed at its next poll."""
        self._closed.set()

    def vix(self, ts: datetime) -> float | None:
        return None

    def heartbeat(self) -> None:
        request = StockLatestBarRequest(symbol_or_symbols=self._symbols[0], feed=self._feed)
        self._call("latest bar", self._client.get_stock_latest_bar, request)


def bar_of(item: Any) -> Bar:
    """An alpaca-py bar model (REST or stream) as our ``Bar``, its time in UTC."""
    return Bar(
        ts=item.timestamp.astimezone(UTC),
        symbol=item.symbol,
        open=float(item.open),
        high=float(item.high),
        low=float(item.low),
        close=float(item.close),
        volume=float(item.volume),
    )


def make_alpaca_feed(home: BotHome, settings: Settings) -> AlpacaFeed:
    """Entry point for ``tbot_core.data.factory`` (BROKER=alpaca): a live feed, streamed unless ALPACA_FEED_MODE=poll."""
    if settings.alpaca_feed_mode == "stream":
        from tbot_core.data.alpaca_stream import AlpacaStreamFeed

        return AlpacaStreamFeed.from_home(home, settings)
    return AlpacaFeed.from_home(home, settings)
