"""A small IB Gateway on 127.0.0.1 that speaks the real TWS API wire protocol (``tests.fakes.ib_wire``).

Run it by hand and point any TWS API client at it::

    python -m tests.fakes.ib_gateway --port 4002

It holds one paper account (``ib_account``: cash, positions, prices, auction
imbalance per symbol, minute bars) and answers what ib_async and TradeBot's IBKR
adapter ask: the handshake, ``startApi`` (next valid id, managed accounts),
contract details, account summary and updates, positions, market data (last
price; generic tick 225: auction volume, price and imbalance, plus the regulatory
imbalance), historical bars, orders (open order, order status, execution,
commission report), executions, open orders, cancel, and the current time.
Tests script the rest through the Python API: ``send_error(1100)``,
``drop_clients()``, ``refuse_clients``, ``set_price``, ``set_imbalance``,
``reject_next_order()``, ``push_ticks``.

Requests are dispatched from ``HANDLERS`` (message id -> method); an unknown id
is answered with an error naming it, never with silence.
"""

from __future__ import annotations

import argparse
import sys
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import ClassVar

from tests.fakes import ib_messages as m
from tests.fakes import ib_wire as w
from tests.fakes.ib_account import ACCOUNT, GatewayState, Imbalance
from tests.fakes.ib_connection import CONNECTIVITY_TEXT, Client, Server, Subscription
from tests.fakes.ib_orders import OrderDesk

__all__ = ["ACCOUNT", "GatewayState", "IbGateway", "main"]


class IbGateway(OrderDesk):
    """``with IbGateway() as gw:`` listens on 127.0.0.1 (``gw.port``) until the block ends."""

    HANDLERS: ClassVar[dict[int, str]] = {
        w.START_API: "_start_api",
        w.REQ_CURRENT_TIME: "_current_time",
        w.REQ_IDS: "_ids",
        w.REQ_MANAGED_ACCTS: "_managed_accounts",
        w.REQ_CONTRACT_DETAILS: "_contract_details",
        w.REQ_POSITIONS: "_positions",
        w.REQ_ACCOUNT_SUMMARY: "_account_summary",
        w.REQ_ACCOUNT_UPDATES: "_account_updates",
        w.REQ_ACCOUNT_UPDATES_MULTI: "_account_updates_multi",
        w.REQ_OPEN_ORDERS: "_open_orders",
        w.REQ_ALL_OPEN_ORDERS: "_all_open_orders",
        w.REQ_COMPLETED_ORDERS: "_completed_orders",
        w.REQ_EXECUTIONS: "_executions",
        w.PLACE_ORDER: "_place_order",
        w.CANCEL_ORDER: "_cancel_order",
        w.REQ_MKT_DATA: "_market_data",
        w.CANCEL_MKT_DATA: "_cancel_market_data",
        w.REQ_HISTORICAL_DATA: "_historical_data",
        **dict.fromkeys(
            (
                w.CANCEL_POSITIONS,
                w.CANCEL_ACCOUNT_SUMMARY,
                w.CANCEL_ACCOUNT_UPDATES_MULTI,
                w.REQ_AUTO_OPEN_ORDERS,
                w.REQ_MARKET_DATA_TYPE,
                w.CANCEL_HISTORICAL_DATA,
            ),
            "_ignore",
        ),
    }

    def __init__(self, port: int = 0, *, state: GatewayState | None = None) -> None:
        self.state = state or GatewayState()
        self.refuse_clients = False  # True: new connections are closed before the handshake
        self.received: list[list[str]] = []  # every request, for tests to count what a client sent
        self._lock = threading.RLock()
        self._clients: list[Client] = []
        self._subscriptions: list[Subscription] = []
        self._reject: list[tuple[int, str]] = []
        self._server = Server(("127.0.0.1", port), Client)
        self._server.gateway = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="ib-gateway", daemon=True
        )  # a short poll: shutdown() waits for it

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def __enter__(self) -> IbGateway:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.drop_clients()

    # -- scripting API for tests ---------------------------------------------------------------------------------
    def clients(self) -> list[int]:
        """Client ids of the live connections that sent ``startApi``."""
        with self._lock:
            return [c.client_id for c in self._clients if c.client_id is not None and c.alive]

    def count(self, msg_id: int) -> int:
        """How many requests with this message id clients sent (``ib_wire`` names them)."""
        with self._lock:
            return sum(1 for fields in self.received if fields[0] == str(msg_id))

    def subscriptions(self, symbol: str | None = None) -> list[tuple[str, frozenset[str]]]:
        """(symbol, generic tick ids) of the live market data subscriptions."""
        with self._lock:
            return [(s.symbol, s.generic) for s in self._subscriptions if symbol is None or s.symbol == symbol]

    def send_error(self, code: int, message: str | None = None, *, req_id: int = -1) -> None:
        """An error or notice to every client (1100 connectivity lost, 1102 restored, ...)."""
        self._broadcast(m.error(req_id, code, message or CONNECTIVITY_TEXT.get(code, f"error {code}")))

    def drop_clients(self) -> None:
        """Close every client socket at once, like a gateway restart (the listener stays up)."""
        with self._lock:
            clients, self._clients = list(self._clients), []
            self._subscriptions.clear()
        for client in clients:
            client.hang_up()

    def set_price(self, symbol: str, price: Decimal | str) -> None:
        """A new last price: pushed to subscribers, and resting limit orders that it reaches fill."""
        with self._lock:
            self.state.prices[symbol] = Decimal(price)
            subs = [s for s in self._subscriptions if s.symbol == symbol]
            resting = [o for o in self.state.orders.values() if o.symbol == symbol and o.live]
        for sub in subs:
            sub.client.send(m.last_tick(sub.req_id, Decimal(price)))
        for order in resting:
            self._maybe_fill(order)

    def set_imbalance(
        self,
        symbol: str,
        *,
        paired: Decimal | str | int,
        imbalance: Decimal | str | int,
        price: Decimal | str | None = None,
        regulatory: Decimal | str | int | None = None,
    ) -> None:
        """The auction values of ``symbol`` (imbalance signed: < 0 sellers); pushed to tick-225 subscribers."""
        with self._lock:
            value = Imbalance(
                paired=Decimal(paired),
                price=Decimal(price) if price is not None else self.state.prices.get(symbol, Decimal(0)),
                imbalance=Decimal(imbalance),
                regulatory=Decimal(regulatory) if regulatory is not None else None,
            )
            self.state.imbalances[symbol] = value
            subs = [s for s in self._subscriptions if s.symbol == symbol and "225" in s.generic]
        for sub in subs:
            sub.client.send(*m.auction_ticks(sub.req_id, value))

    def push_ticks(self, symbol: str, count: int) -> int:
        """``count`` last-price ticks to every subscriber of ``symbol``, one write each (for benches)."""
        with self._lock:
            subs = [s for s in self._subscriptions if s.symbol == symbol]
            price = self.state.prices.get(symbol, Decimal(100))
        for sub in subs:
            sub.client.send(*(m.last_tick(sub.req_id, price + Decimal(i % 100) / 100) for i in range(count)))
        return count * len(subs)

    def add_bars(self, symbol: str, start: datetime, count: int, *, price: Decimal | str, step: timedelta) -> None:
        """``count`` flat bars at ``price`` from ``start``, ``step`` apart."""
        p = Decimal(price)
        with self._lock:
            rows = self.state.bars.setdefault(symbol, [])
            rows.extend((start + step * i, p, p, p, p, 1000) for i in range(count))
            rows.sort()

    # -- connection life -------------------------------------------------------------------------------------------
    def joined(self, client: Client) -> None:
        with self._lock:
            self._clients.append(client)

    def left(self, client: Client) -> None:
        with self._lock:
            if client in self._clients:
                self._clients.remove(client)
            self._subscriptions = [s for s in self._subscriptions if s.client is not client]

    def greet(self, client: Client, fields: list[str]) -> bool:
        """The version range: answer with our version and time, or hang up if the client cannot speak ours."""
        low, high = w.version_range(fields)
        if not low <= w.SERVER_VERSION <= high:
            return False
        client.greeted = True
        client.send(w.encode(w.SERVER_VERSION, w.ib_time(datetime.now(UTC))))
        return True

    def dispatch(self, client: Client, fields: list[str]) -> None:
        if not fields:
            return
        with self._lock:
            self.received.append(fields)
        name = self.HANDLERS.get(int(fields[0])) if fields[0].isdigit() else None
        if name is None:
            client.send(m.error(-1, 504, f"request {fields[0][:10]!r} is not supported by this test gateway"))
            return
        getattr(self, name)(client, fields)

    def _broadcast(self, *messages: bytes) -> None:
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            client.send(*messages)

    # -- handlers: one per request id ----------------------------------------------------------------------------------
    def _ignore(self, client: Client, fields: list[str]) -> None:
        return None

    def _start_api(self, client: Client, fields: list[str]) -> None:
        wanted = int(fields[2])
        if wanted in self.clients():
            client.send(m.error(-1, 326, "Unable to connect as the client id is already in use."))
            client.hang_up()
            return
        client.client_id = wanted
        with self._lock:
            next_id = self.state.next_order_id
        client.send(
            w.encode(w.NEXT_VALID_ID, 1, next_id),
            w.encode(w.MANAGED_ACCTS, 1, self.state.account),
            m.error(-1, 2104, "Market data farm connection is OK:usfarm"),
        )

    def _current_time(self, client: Client, fields: list[str]) -> None:
        client.send(w.encode(w.CURRENT_TIME, 1, int(datetime.now(UTC).timestamp())))

    def _ids(self, client: Client, fields: list[str]) -> None:
        with self._lock:
            client.send(w.encode(w.NEXT_VALID_ID, 1, self.state.next_order_id))

    def _managed_accounts(self, client: Client, fields: list[str]) -> None:
        client.send(w.encode(w.MANAGED_ACCTS, 1, self.state.account))

    def _contract_details(self, client: Client, fields: list[str]) -> None:
        client.send(*m.contract_details(int(fields[2]), w.named(w.CONTRACT_IN, fields, 3)))

    def _positions(self, client: Client, fields: list[str]) -> None:
        with self._lock:
            held = sorted(self.state.positions.items())
            rows = [m.position(self.state.account, sym, qty, avg) for sym, (qty, avg) in held]
        client.send(*rows, w.encode(w.POSITION_END, 1))

    def _account_summary(self, client: Client, fields: list[str]) -> None:
        req_id, account = int(fields[2]), self.state.account
        with self._lock:
            rows = [w.encode(w.ACCOUNT_SUMMARY, 1, req_id, account, *row) for row in self.state.summary()]
        client.send(*rows, w.encode(w.ACCOUNT_SUMMARY_END, 1, req_id))

    def _account_updates(self, client: Client, fields: list[str]) -> None:
        if fields[2] != "1":  # unsubscribe
            return
        account = self.state.account
        with self._lock:
            rows = [w.encode(w.ACCT_VALUE, 2, tag, value, cur, account) for tag, value, cur in self.state.summary()]
        client.send(*rows, w.encode(w.ACCT_DOWNLOAD_END, 1, account))

    def _account_updates_multi(self, client: Client, fields: list[str]) -> None:
        client.send(w.encode(w.ACCOUNT_UPDATE_MULTI_END, 1, int(fields[2])))

    def _market_data(self, client: Client, fields: list[str]) -> None:
        req_id, symbol = int(fields[2]), w.named(w.CONTRACT_IN, fields, 3)["symbol"]
        generic = frozenset(g for g in fields[16].split(",") if g) if len(fields) > 16 else frozenset()
        with self._lock:
            self._subscriptions.append(Subscription(client, req_id, symbol, generic))
            price = self.state.prices.get(symbol)
            imbalance = self.state.imbalances.get(symbol) if "225" in generic else None
        messages = [m.last_tick(req_id, price)] if price is not None else []
        if imbalance is not None:
            messages += m.auction_ticks(req_id, imbalance)
        if messages:
            client.send(*messages)

    def _cancel_market_data(self, client: Client, fields: list[str]) -> None:
        req_id = int(fields[2])
        with self._lock:
            self._subscriptions = [s for s in self._subscriptions if not (s.client is client and s.req_id == req_id)]

    def _historical_data(self, client: Client, fields: list[str]) -> None:
        req_id, symbol = int(fields[1]), w.named(w.CONTRACT_IN, fields, 2)["symbol"]
        window = m.bar_window(fields[15], fields[17])
        if window is None:
            client.send(m.error(req_id, 321, f"Error validating request: {fields[15]!r} / {fields[17]!r}"))
            return
        start, end = window
        with self._lock:
            rows = [r for r in self.state.bars.get(symbol, []) if start <= r[0] <= end]
        client.send(m.historical_data(req_id, rows, start, end, fields[20]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.ib_gateway", description="A local IB gateway for tests (TWS API wire protocol)."
    )
    parser.add_argument("--port", type=int, default=4002, help="TCP port on 127.0.0.1 (default 4002, IB Gateway paper)")
    args = parser.parse_args(argv)
    try:
        gateway = IbGateway(args.port)
    except OSError as exc:
        print(f"error: --port {args.port}: cannot listen ({exc.strerror})", file=sys.stderr)
        return 2
    with gateway:
        print(f"ib gateway listening on 127.0.0.1:{gateway.port} (account {gateway.state.account})", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
