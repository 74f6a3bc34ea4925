"""Alpaca trade updates over alpaca-py's ``TradingStream``: a fill is known when it happens.

Without it the engine learns of a fill from the activities it reads back
every ``BROKER_LEDGER_SYNC_SECONDS`` (30 s).  The stream runs alpaca-py's
asyncio loop on its own thread and only raises a flag: ``take_fills()``
answers whether a ``fill`` or ``partial_fill`` arrived since it was last
asked, and the engine then reads fills through ``Broker.fills_since`` and the
account as always.  So the books keep one source of truth (the REST
activities, with their fitids), and a lost or duplicated stream message can
delay a booking by one sync period but never book anything twice or wrongly.

alpaca-py reconnects by itself after a dropped connection.  The stream is
only a speed-up: when it is down, fills are still booked by the periodic
sync, so its state is shown (``connected``), not judged by the watchdog.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import Any

from alpaca.trading.stream import TradingStream

from tbot_core.brokers.alpaca_common import AlpacaCredentials, stop_stream, url_or_none

FILL_EVENTS = frozenset({"fill", "partial_fill"})
RECENT_KEPT = 100


class _Stream(TradingStream):
    """alpaca-py's client, counting authenticated connections (it has no hook for that)."""

    connects = 0

    async def _start_ws(self) -> None:
        await super()._start_ws()
        self.connects += 1

    def connected(self) -> bool:
        return bool(self._ws is not None and self._running)

    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self._loop


class TradeUpdates:
    def __init__(self, credentials: AlpacaCredentials, *, paper: bool = True, url_override: str = "") -> None:
        self._stream = _Stream(
            credentials.api_key,
            credentials.secret_key,
            paper=paper,
            raw_data=True,
            url_override=url_or_none(url_override),  # type: ignore[arg-type]  # alpaca-py: None = its default
        )
        self._fills = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        # (event, order id, symbol) of the latest updates, newest last: what the stream saw, for the logs and tests.
        self.recent: deque[tuple[str, str, str]] = deque(maxlen=RECENT_KEPT)
        self.died_of = ""

    @property
    def connects(self) -> int:
        return self._stream.connects

    def connected(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._stream.connected()

    def start(self) -> None:
        """Listen on the stream's own thread (idempotent)."""
        if self._thread is not None or self._closed.is_set():
            return
        self._stream.subscribe_trade_updates(self._on_update)
        self._thread = threading.Thread(target=self._run, name="alpaca-trade-updates", daemon=True)
        self._thread.start()

    def take_fills(self) -> bool:
        """Whether a fill arrived since the last call (and forget it): the caller reads the fills now."""
        if not self._fills.is_set():
            return False
        self._fills.clear()
        return True

    async def _on_update(self, message: Any) -> None:
        data = message.get("data") if isinstance(message, dict) else None
        if not isinstance(data, dict):
            return
        event = str(data.get("event", ""))
        raw_order = data.get("order")
        order: dict[str, Any] = raw_order if isinstance(raw_order, dict) else {}
        self.recent.append((event, str(order.get("id", "")), str(order.get("symbol", ""))))
        if event in FILL_EVENTS:
            self._fills.set()

    def _run(self) -> None:
        try:
            self._stream.run()
        except BaseException as exc:
            self.died_of = f"{type(exc).__name__}: {exc}"[:200]

    def close(self) -> None:
        """End the stream without a reconnect; safe to call more than once or before ``start``."""
        self._closed.set()
        stop_stream(self._stream, self._thread)
