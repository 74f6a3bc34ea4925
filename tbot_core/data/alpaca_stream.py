"""The Alpaca live feed over alpaca-py's market-data websocket (``StockDataStream``).

Alpaca pushes each symbol's 1-minute bar as soon as the minute closes, so a
stream delivers bars up to a poll period earlier than the REST poller of
``alpaca.py`` and costs no request per period.  The stream runs alpaca-py's
own asyncio loop on its own thread; its bar handler hands each bar to the
engine's ``bars()`` iterator through a bounded queue.  A full queue (the
engine is behind) makes the handler wait, which leaves unread frames in the
websocket and so pushes back on the server instead of dropping a bar.

alpaca-py reconnects by itself (with backoff) after a dropped connection and
subscribes again; a bar it sends twice across a reconnect is yielded once
(per symbol, a bar not newer than the last one is skipped).  The stream does not
replay the minutes it missed while down, so after each re-subscription the feed
fetches them from the REST API (every completed minute after the oldest
symbol's last bar) and hands them over, in time order, before any bar the new
connection brings; a bar both carry is yielded once.  The fetch runs after the
subscribe message, so a minute that closes during it comes over the socket and
none falls between the two.  If it fails (after a few tries) the gap is not
papered over: ``heartbeat()`` reports market data down naming the missing
window until a later reconnect fills it.  What alpaca-py
does not do is say that it is silent: ``heartbeat()`` fails while the socket
is not connected and authenticated, and during the regular session when no
bar arrived for ``ALPACA_STREAM_SILENCE_SECONDS`` (outside the session no
bars is normal).  The watchdog then calls market data down after its own
timeout, as for every feed.  Before ``bars()`` started the stream, the
heartbeat asks the REST API like the poller does.

``ALPACA_FEED_MODE=poll`` is the documented fallback (``alpaca.py``).
History (an ``end`` given) always comes from the REST API.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from alpaca.data.enums import DataFeed
from alpaca.data.live.stock import StockDataStream

from tbot_core.bars import Bar
from tbot_core.brokers.alpaca_common import AlpacaCredentials, stop_stream, url_or_none
from tbot_core.data.alpaca import AlpacaFeed, bar_of
from tbot_core.errors import NetworkError
from tbot_core.market_calendar import session_for
from tbot_core.timeutil import iso_z, utc_now

if TYPE_CHECKING:
    from tbot_core.config import Settings
    from tbot_core.home import BotHome

QUEUE_BARS = 10_000  # bars in flight between the stream thread and the engine: ~20 minutes of 500 symbols
QUEUE_WAIT_SECONDS = 0.25  # how often a blocked ``bars()`` or a blocked handler looks at ``close()``
BACKFILL_TRIES = 3  # REST attempts for the minutes a reconnect missed, 1 s then 2 s apart
_MINUTE = timedelta(minutes=1)


def in_regular_session(now: datetime) -> bool:
    """True inside an exchange session (holidays, early closes and DST from the exchange calendar)."""
    session = session_for(now)
    return session is not None and session.contains(now)


class _Stream(StockDataStream):
    """alpaca-py's client, telling its owner when a connection is authenticated (it has no hook for that)."""

    def __init__(
        self,
        *args: Any,
        on_connected: Callable[[], None],
        on_subscribed: Callable[[], Awaitable[None]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._on_connected = on_connected
        self._on_subscribed = on_subscribed

    async def _start_ws(self) -> None:
        await super()._start_ws()
        self._on_connected()

    async def _send_subscribe_msg(self) -> None:
        await super()._send_subscribe_msg()
        await self._on_subscribed()

    def connected(self) -> bool:
        return bool(self._ws is not None and self._running)

    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self._loop


class AlpacaStreamFeed(AlpacaFeed):
    def __init__(
        self,
        credentials: AlpacaCredentials,
        *,
        symbols: tuple[str, ...],
        url_override: str = "",
        stream_url_override: str = "",
        data_feed: str = "iex",
        timeout_seconds: float = 10.0,
        silence_seconds: float = 180.0,
        queue_bars: int = QUEUE_BARS,
        start: datetime | None = None,
        end: datetime | None = None,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        in_session: Callable[[datetime], bool] = in_regular_session,
    ) -> None:
        super().__init__(
            credentials,
            symbols=symbols,
            url_override=url_override,
            data_feed=data_feed,
            timeout_seconds=timeout_seconds,
            start=start,
            end=end,
            clock=clock,
        )
        self._silence = silence_seconds
        self._monotonic = monotonic
        self._in_session = in_session
        self._queue: queue.Queue[Bar] = queue.Queue(maxsize=queue_bars)
        self._last_ts: dict[str, datetime] = {}  # stream thread only: the newest bar handed over per symbol
        self._last_data = monotonic()
        self._connected_utc = ""
        self.connects = 0  # authenticated connections so far (a reconnect adds one)
        self.died_of = ""
        self.gap = ""  # stream thread writes, heartbeat reads: the missed window a reconnect could not fetch
        self.backfilled = 0  # bars fetched over REST after reconnects (for tests and the curious)
        self._thread: threading.Thread | None = None
        # A socket that stops answering pings is closed by websockets within ping_interval + ping_timeout.
        params = {"ping_interval": 10, "ping_timeout": 20, "max_queue": 1024, "open_timeout": timeout_seconds}
        self._stream = _Stream(
            credentials.api_key,
            credentials.secret_key,
            feed=DataFeed(data_feed),
            url_override=url_or_none(stream_url_override),
            websocket_params=params,
            on_connected=self._connected,
            on_subscribed=self._subscribed,
        )

    @classmethod
    def from_home(
        cls, home: BotHome, settings: Settings, *, start: datetime | None = None, end: datetime | None = None
    ) -> AlpacaStreamFeed:
        return cls(
            AlpacaCredentials.from_home(home),
            symbols=settings.symbols,
            url_override=settings.alpaca_data_url_override,
            stream_url_override=settings.alpaca_data_stream_url_override,
            data_feed=settings.alpaca_data_feed,
            timeout_seconds=float(settings.alpaca_request_timeout_seconds),
            silence_seconds=float(settings.alpaca_stream_silence_seconds),
            start=start,
            end=end,
        )

    # -- the stream thread ----------------------------------------------------------------------
    def _connected(self) -> None:
        self.connects += 1
        self._connected_utc = iso_z(self._clock())
        self._last_data = self._monotonic()  # a fresh connection gets a whole silence window

    async def _subscribed(self) -> None:
        """After a re-subscription: fetch and hand over the minutes the stream missed (see the module docstring)."""
        if self.connects < 2 or not self._last_ts:
            return
        since = min(self._last_ts.values()) + _MINUTE
        loop = asyncio.get_running_loop()
        for attempt in range(BACKFILL_TRIES):
            now = self._clock()
            try:
                missed = await loop.run_in_executor(None, self.history, since, now)
            except Exception as exc:  # any failure: try again, then report the gap (never skip it silently)
                problem = f"{type(exc).__name__}: {exc}"[:160]
                if attempt + 1 < BACKFILL_TRIES:
                    await asyncio.sleep(2**attempt)
                continue
            for bar in missed:
                if bar.ts + _MINUTE <= now and await self._hand_over(bar):
                    self.backfilled += 1
            self.gap = ""
            return
        self.gap = f"the bars since {iso_z(since)} missed while reconnecting could not be fetched ({problem})"

    async def _on_bar(self, item: Any) -> None:
        self._last_data = self._monotonic()
        await self._hand_over(bar_of(item))

    async def _hand_over(self, bar: Bar) -> bool:
        """Queue ``bar`` for ``bars()`` unless it is not newer than its symbol's last one; True if queued."""
        last = self._last_ts.get(bar.symbol)
        if last is not None and bar.ts <= last:
            return False  # sent again after a reconnect, or fetched already: the engine had it
        self._last_ts[bar.symbol] = bar.ts
        while not self._closed.is_set():
            try:
                self._queue.put_nowait(bar)
                return True
            except queue.Full:
                await asyncio.sleep(QUEUE_WAIT_SECONDS)
        return False

    def _run(self) -> None:
        try:
            self._stream.run()
        except BaseException as exc:  # recorded for heartbeat(); the thread ends
            self.died_of = f"{type(exc).__name__}: {exc}"[:200]
        else:
            self.died_of = self.died_of or "stream ended"

    def start_stream(self) -> None:
        """Subscribe and connect on the stream's own thread (``bars()`` calls this; idempotent)."""
        if self._thread is not None:
            return
        self._stream.subscribe_bars(self._on_bar, *self._symbols)
        self._thread = threading.Thread(target=self._run, name="alpaca-data-stream", daemon=True)
        self._thread.start()

    # -- Feed -------------------------------------------------------------------------------------
    def bars(self) -> Iterator[Bar]:
        if self._end is not None:
            yield from super().bars()
            return
        self.start_stream()
        while not self._closed.is_set():
            try:
                bar = self._queue.get(timeout=QUEUE_WAIT_SECONDS)
            except queue.Empty:
                continue
            yield bar

    def heartbeat(self) -> None:
        """Raise while the stream is down, or silent during the session (see the module docstring)."""
        if self._thread is None:
            super().heartbeat()  # not streaming yet: the REST API answers for the data service
            return
        if not self._thread.is_alive():
            raise NetworkError(f"alpaca data stream: stopped ({self.died_of or 'no reason recorded'})")
        if not self._stream.connected():
            since = f" (last connected {self._connected_utc})" if self._connected_utc else ""
            raise NetworkError(f"alpaca data stream: not connected{since}; alpaca-py is reconnecting")
        if self.gap:
            raise NetworkError(f"alpaca data stream: {self.gap}")
        quiet = self._monotonic() - self._last_data
        if quiet > self._silence and self._in_session(self._clock()):
            raise NetworkError(
                f"alpaca data stream: no bar for {quiet:.1f}s during the session "
                f"(ALPACA_STREAM_SILENCE_SECONDS={self._silence:g})"
            )

    def close(self) -> None:
        """Stop the stream: its loop ends the connection and does not reconnect; ``bars()`` returns."""
        self._closed.set()
        stop_stream(self._stream, self._thread)
