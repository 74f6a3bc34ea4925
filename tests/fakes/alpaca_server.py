"""A small Alpaca look-alike on 127.0.0.1 for the real alpaca-py clients to talk to.

It speaks the slice of the trading API (``/v2/account``, ``/v2/positions``,
``/v2/orders``, ``/v2/account/activities``) and data API (``/v2/stocks/bars``,
``/v2/stocks/bars/latest``) the adapters use, with Alpaca's JSON shapes and
paging rules, checks the key headers like Alpaca does, and can be told to
answer the next N requests on a path with an error status.  Every request is
recorded so tests can count what the client really sent.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

API_KEY = "PKTESTKEY0000000001"
SECRET_KEY = "testsecret0000000000000000000000000000001"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]


@dataclass
class AlpacaState:
    cash: Decimal = Decimal("100000.00")
    prices: dict[str, Decimal] = field(default_factory=lambda: {"AAPL": Decimal("187.25"), "SPY": Decimal("512.10")})
    positions: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)  # symbol -> (qty, avg price)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    activities: list[dict[str, Any]] = field(default_factory=list)
    bars: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    hold_orders: bool = False  # True: orders stay "accepted" instead of filling at once
    bars_page_size: int = 2
    activity_seq: int = 0
    # Called with each order right after it fills (e.g. FakeAlpacaStream pushing the trade update).
    fill_listeners: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)


class FakeAlpaca:
    """Start with ``with FakeAlpaca() as fake:``; ``fake.url`` is the base URL for both APIs."""

    def __init__(self) -> None:
        self.state = AlpacaState()
        self.requests: list[Recorded] = []
        self._failures: list[tuple[str, int, str]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeAlpaca:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail(self, path: str, status: int, times: int = 1, body: str | None = None) -> None:
        """Answer the next ``times`` requests whose path starts with ``path`` with ``status``."""
        text = body if body is not None else json.dumps({"code": status * 100000, "message": f"fake error {status}"})
        with self._lock:
            self._failures.extend([(path, status, text)] * times)

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.requests if r.method == method and r.path == path)

    # -- state helpers the tests use ---------------------------------------------------------
    def add_activity(
        self, activity_type: str, net_amount: str, day: str = "2025-01-02", **extra: Any
    ) -> dict[str, Any]:
        self.state.activity_seq += 1
        item = {
            "id": f"{day.replace('-', '')}000000{self.state.activity_seq:03d}::{uuid.uuid4()}",
            "account_id": str(uuid.UUID(int=1)),
            "activity_type": activity_type,
            "date": day,
            "net_amount": net_amount,
            "description": "",
            "status": "executed",
            **extra,
        }
        self.state.activities.append(item)
        return item

    def fill_held(self, order_id: str) -> dict[str, Any]:
        """Fill an order that ``hold_orders`` left open, at the symbol's price now (what a later fill looks like)."""
        with self._lock:
            order = self.state.orders[order_id]
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            _fill(self.state, order, Decimal(order["qty"]), self.state.prices[order["symbol"]], now)
            return dict(order)

    def add_minute_bars(self, symbol: str, start: datetime, count: int, price: float = 100.0) -> None:
        series = self.state.bars.setdefault(symbol, [])
        for i in range(count):
            ts = (start + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
            p = price + i
            series.append({"t": ts, "o": p, "h": p + 0.5, "l": p - 0.5, "c": p + 0.25, "v": 1000 + i, "n": 10, "vw": p})

    # -- request handling ----------------------------------------------------------------------
    def _take_failure(self, path: str) -> tuple[int, str] | None:
        with self._lock:
            for i, (prefix, status, body) in enumerate(self._failures):
                if path.startswith(prefix):
                    del self._failures[i]
                    return status, body
        return None

    def handle(self, method: str, path: str, query: dict[str, str], body: Any, headers: Any) -> tuple[int, Any]:
        self.requests.append(Recorded(method, path, query))
        failure = self._take_failure(path)
        if failure:
            return failure[0], failure[1]
        if headers.get("APCA-API-KEY-ID") != API_KEY or headers.get("APCA-API-SECRET-KEY") != SECRET_KEY:
            return 401, json.dumps({"code": 40110000, "message": "request is not authorized"})
        with self._lock:
            return _route(self.state, method, path, query, body)


def _route(state: AlpacaState, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
    if (method, path) == ("GET", "/v2/account"):
        equity = state.cash + sum(q * state.prices[s] for s, (q, _) in state.positions.items())
        return 200, {
            "id": str(uuid.UUID(int=1)),
            "account_number": "PA0000001",
            "status": "ACTIVE",
            "currency": "USD",
            "cash": str(state.cash),
            "equity": str(equity),
            "buying_power": str(state.cash * 2),
            "trading_blocked": False,
            "account_blocked": False,
        }
    if (method, path) == ("GET", "/v2/positions"):
        return 200, [_position(s, q, a, state.prices[s]) for s, (q, a) in state.positions.items() if q]
    if (method, path) == ("POST", "/v2/orders"):
        return _submit(state, body)
    if (method, path) == ("GET", "/v2/orders"):
        wanted = query.get("status", "open")
        rows = [
            o
            for o in state.orders.values()
            if wanted == "all" or (o["status"] in ("new", "accepted")) == (wanted == "open")
        ]
        return 200, rows
    if path.startswith("/v2/orders/"):
        order = state.orders.get(path.rsplit("/", 1)[1])
        if order is None:
            return 404, json.dumps({"code": 40410000, "message": "order not found"})
        if method == "GET":
            return 200, order
        if method == "DELETE":
            if order["status"] not in ("new", "accepted"):
                return 422, json.dumps({"code": 42210000, "message": f'order is already in "{order["status"]}" state'})
            order["status"] = "canceled"
            return 204, None
    if (method, path) == ("GET", "/v2/account/activities"):
        return 200, _activities(state, query)
    if (method, path) == ("GET", "/v2/stocks/bars"):
        return 200, _bars(state, query)
    if (method, path) == ("GET", "/v2/stocks/bars/latest"):
        return 200, {"bars": {s: state.bars[s][-1] for s in query["symbols"].split(",") if state.bars.get(s)}}
    return 404, json.dumps({"code": 40400000, "message": "endpoint not found"})


def _position(symbol: str, qty: Decimal, avg: Decimal, price: Decimal) -> dict[str, Any]:
    return {
        "asset_id": str(uuid.UUID(int=2)),
        "symbol": symbol,
        "exchange": "NASDAQ",
        "asset_class": "us_equity",
        "avg_entry_price": str(avg),
        "qty": str(abs(qty)),
        "side": "long" if qty > 0 else "short",
        "market_value": str(qty * price),
        "cost_basis": str(qty * avg),
        "current_price": str(price),
    }


def _submit(state: AlpacaState, body: dict[str, Any]) -> tuple[int, Any]:
    symbol, side = body["symbol"], body["side"]
    qty = Decimal(str(body["qty"]))
    if symbol not in state.prices:
        return 422, json.dumps({"code": 42210000, "message": f'asset "{symbol}" not found'})
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    order = {
        "id": str(uuid.uuid4()),
        "client_order_id": body.get("client_order_id") or str(uuid.uuid4()),
        "created_at": now,
        "updated_at": now,
        "submitted_at": now,
        "symbol": symbol,
        "asset_class": "us_equity",
        "qty": str(qty),
        "filled_qty": "0",
        "filled_avg_price": None,
        "order_class": "simple",
        "order_type": body["type"],
        "type": body["type"],
        "side": side,
        "time_in_force": body["time_in_force"],
        "limit_price": body.get("limit_price"),
        "status": "accepted",
        "extended_hours": False,
    }
    state.orders[order["id"]] = order
    if not state.hold_orders:
        _fill(state, order, qty, state.prices[symbol], now)
    return 200, order


def _fill(state: AlpacaState, order: dict[str, Any], qty: Decimal, price: Decimal, now: str) -> None:
    sign = 1 if order["side"] == "buy" else -1
    held, avg = state.positions.get(order["symbol"], (Decimal(0), Decimal(0)))
    new_qty = held + sign * qty
    new_avg = ((held * avg + qty * price) / new_qty).quantize(Decimal("0.0001")) if sign > 0 and new_qty else avg
    state.positions[order["symbol"]] = (new_qty, new_avg)
    state.cash -= sign * qty * price
    order.update(status="filled", filled_qty=str(qty), filled_avg_price=str(price), filled_at=now)
    state.activity_seq += 1
    state.activities.append(
        {
            "id": f"{now[:10].replace('-', '')}000000{state.activity_seq:03d}::{uuid.uuid4()}",
            "account_id": str(uuid.UUID(int=1)),
            "activity_type": "FILL",
            "transaction_time": now,
            "type": "fill",
            "price": str(price),
            "qty": str(qty),
            "side": order["side"],
            "symbol": order["symbol"],
            "leaves_qty": "0",
            "order_id": order["id"],
            "cum_qty": str(qty),
            "order_status": "filled",
        }
    )
    for listener in state.fill_listeners:
        listener(dict(order))


def _activities(state: AlpacaState, query: dict[str, str]) -> list[dict[str, Any]]:
    rows = state.activities
    if query.get("activity_types"):
        wanted = set(query["activity_types"].split(","))
        rows = [a for a in rows if a["activity_type"] in wanted]
    if query.get("after"):
        after = datetime.fromisoformat(query["after"].replace("Z", "+00:00"))
        rows = [a for a in rows if _activity_time(a) > after]
    if query.get("page_token"):
        ids = [a["id"] for a in rows]
        rows = rows[ids.index(query["page_token"]) + 1 :]
    return rows[: min(int(query.get("page_size", 100)), 100)]


def _activity_time(item: dict[str, Any]) -> datetime:
    if "transaction_time" in item:
        return datetime.fromisoformat(item["transaction_time"].replace("Z", "+00:00"))
    return datetime.fromisoformat(item["date"] + "T00:00:00+00:00")


def _bars(state: AlpacaState, query: dict[str, str]) -> dict[str, Any]:
    start = (
        datetime.fromisoformat(query["start"].replace("Z", "+00:00")).replace(tzinfo=UTC)
        if query.get("start")
        else None
    )
    end = datetime.fromisoformat(query["end"].replace("Z", "+00:00")).replace(tzinfo=UTC) if query.get("end") else None
    flat = []
    for symbol in query["symbols"].split(","):
        for bar in state.bars.get(symbol, []):
            ts = datetime.fromisoformat(bar["t"].replace("Z", "+00:00"))
            if (start is None or ts >= start) and (end is None or ts <= end):
                flat.append((symbol, bar))
    offset = int(query.get("page_token") or 0)
    page = flat[offset : offset + state.bars_page_size]
    grouped: dict[str, list[dict[str, Any]]] = {}
    for symbol, bar in page:
        grouped.setdefault(symbol, []).append(bar)
    more = offset + state.bars_page_size < len(flat)
    return {"bars": grouped, "next_page_token": str(offset + state.bars_page_size) if more else None}


def _handler_for(fake: FakeAlpaca) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            status, payload = fake.handle(method, parts.path, query, body, self.headers)
            text = "" if payload is None else payload if isinstance(payload, str) else json.dumps(payload)
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

    return Handler
