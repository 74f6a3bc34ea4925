"""Alpaca's two websocket streams on 127.0.0.1, for the real alpaca-py stream clients to talk to.

One server, two paths, the wire protocols alpaca-py 0.4x speaks
(``alpaca/data/live/websocket.py``, ``alpaca/trading/stream.py``):

* market data (any path but ``/stream``), **msgpack** frames, each a list of
  messages: the server greets with ``[{"T": "success", "msg": "connected"}]``;
  the client sends ``{"action": "auth", "key", "secret"}`` and gets
  ``authenticated`` (or an ``error`` 402); it sends ``{"action": "subscribe",
  "bars": [...], ...}`` and gets the ``subscription`` echo; bars then arrive
  as ``{"T": "b", "S": symbol, "o", "h", "l", "c", "v", "t": Timestamp, ...}``.
* trading (``/stream``), **JSON**: the client sends ``{"action":
  "authenticate", "data": {"key_id", "secret_key"}}`` and gets
  ``{"stream": "authorization", "data": {"status": "authorized"}}``; it sends
  ``{"action": "listen", "data": {"streams": ["trade_updates"]}}`` and gets
  ``listening``; trade updates then arrive as ``{"stream": "trade_updates",
  "data": {"event": "fill", "order": {...}, ...}}``.

Tests push bars and trade updates, stay silent, or drop every connection
(the TCP socket is aborted, no close frame: what a network cut looks like).
It runs its own asyncio loop on a daemon thread; every method is thread-safe.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgpack
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from tests.fakes.alpaca_server import API_KEY, SECRET_KEY

TRADING_PATH = "/stream"
DATA_PATH = "/v2/iex"


@dataclass
class _Client:
    conn: ServerConnection
    kind: str  # data | trading
    bars: set[str] = field(default_factory=set)
    listening: bool = False


class FakeAlpacaStream:
    """``with FakeAlpacaStream() as streams:``; ``streams.data_url`` and ``streams.trading_url`` for the clients."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._server: Server | None = None
        self._clients: list[_Client] = []
        self._cond = threading.Condition()
        self.connections = {"data": 0, "trading": 0}
        self.auth_failures = 0
        self.subscriptions: list[list[str]] = []
        self.refusing = False  # True: every new connection is closed at once (a server that is down for us)
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-alpaca-stream", daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------------
    def __enter__(self) -> FakeAlpacaStream:
        self._thread.start()

        async def start() -> Server:
            return await serve(self._handle, "127.0.0.1", 0)

        self._server = self._call(start())
        return self

    def __exit__(self, *exc: object) -> None:
        async def shut() -> None:
            assert self._server is not None
            self._server.close()
            await self._server.wait_closed()

        self._call(shut(), timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(next(iter(self._server.sockets)).getsockname()[1])

    @property
    def data_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{DATA_PATH}"

    @property
    def trading_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{TRADING_PATH}"

    def _call(self, coro: Any, timeout: float = 5) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # -- what tests do -----------------------------------------------------------------------------
    def wait_until(self, what: str, ready: Callable[[FakeAlpacaStream], bool], timeout: float = 10) -> None:
        """Block until ``ready(self)`` holds (re-checked on every connection, subscription and send)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not ready(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"fake Alpaca stream: timed out waiting for {what}")
                self._cond.wait(min(left, 0.05))

    def subscribed(self, symbol: str) -> bool:
        return any(symbol in c.bars for c in self._clients if c.kind == "data")

    def listening(self) -> bool:
        return any(c.listening for c in self._clients if c.kind == "trading")

    def push_bar(
        self, symbol: str, ts: datetime, price: float = 100.0, volume: int = 1000, *, spread: float = 0.5
    ) -> None:
        """One minute bar to every data client subscribed to ``symbol`` (msgpack, ``t`` as a msgpack Timestamp)."""
        message = {
            "T": "b",
            "S": symbol,
            "o": price,
            "h": price + spread,
            "l": price - spread,
            "c": price + spread / 2,
            "v": volume,
            "t": msgpack.Timestamp.from_datetime(ts.astimezone(UTC)),
            "n": 10,
            "vw": price,
        }
        frame = msgpack.packb([message])
        self._call(self._send_all(lambda c: c.kind == "data" and symbol in c.bars, frame))

    def push_trade_update(self, event: str, order: dict[str, Any], **extra: Any) -> None:
        """One trade update (``fill``, ``partial_fill``, ``new``, ``canceled`` ...) to every listening client."""
        data = {
            "event": event,
            "execution_id": str(uuid.uuid4()),
            "order": order,
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            **extra,
        }
        frame = json.dumps({"stream": "trade_updates", "data": data})
        self._call(self._send_all(lambda c: c.kind == "trading" and c.listening, frame))

    def drop_connections(self) -> int:
        """Cut every open connection without a close frame; returns how many were cut."""

        async def drop() -> int:
            clients, self._clients = self._clients, []
            for client in clients:
                client.conn.transport.abort()
            return len(clients)

        return int(self._call(drop()))

    # -- the protocol --------------------------------------------------------------------------------
    async def _send_all(self, wanted: Callable[[_Client], bool], frame: bytes | str) -> None:
        for client in list(self._clients):
            if wanted(client):
                try:
                    await client.conn.send(frame)
                except ConnectionClosed:
                    pass
        self._notify()

    def _notify(self) -> None:
        with self._cond:
            self._cond.notify_all()

    async def _handle(self, conn: ServerConnection) -> None:
        kind = "trading" if conn.request is not None and conn.request.path == TRADING_PATH else "data"
        if self.refusing:
            await conn.close(1013, "try again later")
            return
        client = _Client(conn, kind)
        try:
            if kind == "data":
                await self._data_session(client)
            else:
                await self._trading_session(client)
        except ConnectionClosed:
            pass
        finally:
            if client in self._clients:
                self._clients.remove(client)
            self._notify()

    async def _data_session(self, client: _Client) -> None:
        conn = client.conn
        await conn.send(msgpack.packb([{"T": "success", "msg": "connected"}]))
        auth = msgpack.unpackb(await conn.recv())
        if auth.get("action") != "auth" or (auth.get("key"), auth.get("secret")) != (API_KEY, SECRET_KEY):
            self.auth_failures += 1
            await conn.send(msgpack.packb([{"T": "error", "code": 402, "msg": "auth failed"}]))
            return
        await conn.send(msgpack.packb([{"T": "success", "msg": "authenticated"}]))
        self.connections["data"] += 1
        self._clients.append(client)
        self._notify()
        async for raw in conn:
            request = msgpack.unpackb(raw)
            if request.get("action") == "subscribe":
                client.bars |= set(request.get("bars", []))
                self.subscriptions.append(sorted(request.get("bars", [])))
                echo = {"T": "subscription", "trades": [], "quotes": [], "bars": sorted(client.bars)}
                await conn.send(msgpack.packb([echo]))
                self._notify()

    async def _trading_session(self, client: _Client) -> None:
        conn = client.conn
        auth = json.loads(await conn.recv())
        data = auth.get("data") or {}
        if auth.get("action") != "authenticate" or (data.get("key_id"), data.get("secret_key")) != (
            API_KEY,
            SECRET_KEY,
        ):
            self.auth_failures += 1
            reply = {"stream": "authorization", "data": {"status": "unauthorized", "action": "authenticate"}}
            await conn.send(json.dumps(reply))
            return
        await conn.send(
            json.dumps({"stream": "authorization", "data": {"status": "authorized", "action": "authenticate"}})
        )
        self.connections["trading"] += 1
        self._clients.append(client)
        self._notify()
        async for raw in conn:
            request = json.loads(raw)
            if request.get("action") == "listen":
                streams = list((request.get("data") or {}).get("streams", []))
                client.listening = "trade_updates" in streams
                await conn.send(json.dumps({"stream": "listening", "data": {"streams": streams}}))
                self._notify()


def main() -> None:  # pragma: no cover - a manual tool
    """``python -m tests.fakes.alpaca_stream_server``: serve until Ctrl-C and print the two URLs."""
    with FakeAlpacaStream() as streams:
        print(f"data: {streams.data_url}\ntrading: {streams.trading_url}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
