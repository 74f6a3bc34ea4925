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
import socket
import socketserver
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import ClassVar

from tests.fakes import ib_messages as m
from tests.fakes import ib_wire as w
from tests.fakes.ib_account import ACCOUNT, GatewayOrder, GatewayState, Imbalance

__all__ = ["ACCOUNT", "GatewayState", "IbGateway", "main"]

CONNECTIVITY_TEXT = {
    1100: "Connectivity between IB and Trader Workstation has been lost.",
    1101: "Connectivity between IB and TWS has been restored- data lost.",
    1102: "Connectivity between IB and Trader Workstation has been restored - data maintained.",
}


@dataclass(eq=False)
class Subscription:
    client: Client
    req_id: int
    symbol: str
    generic: frozenset[str]


class Client(socketserver.BaseRequestHandler):
    """One API connection: the handshake, then requests dispatched through ``IbGateway.HANDLERS``."""

    server: _Server

    def setup(self) -> None:
        self.lock = threading.Lock()
        self.alive = True
        self.greeted = False
        self.client_id: int | None = None  # set by startApi

    def send(self, *messages: bytes) -> None:
        """Write whole messages (one ``sendall`` so a burst reaches the client as one chunk)."""
        if not self.alive:
            return
        try:
            with self.lock:
                self.request.sendall(b"".join(messages))
        except OSError:
            self.alive = False

    def hang_up(self) -> None:
        self.alive = False
        try:
            self.request.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def handle(self) -> None:
        gateway = self.server.gateway
        if gateway.refuse_clients:
            return
        framer = w.Framer()
        gateway.joined(self)
        try:
            while self.alive:
                data = self.request.recv(65536)
                if not data:
                    break
                for fields in framer.feed(data):
                    if self.greeted:
                        gateway.dispatch(self, fields)
                    elif not gateway.greet(self, fields):
                        return
        except (OSError, ValueError):
            pass
        finally:
            self.alive = False
            gateway.left(self)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    gateway: IbGateway


class IbGateway:
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
        self._server = _Server(("127.0.0.1", port), Client)
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

    def reject_next_order(
        self, code: int = 201, message: str = "Order rejected - reason:NO TRADING PERMISSIONS"
    ) -> None:
        with self._lock:
            self._reject.append((code, message))

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

    def _send_open_orders(self, client: Client, mine_only: bool) -> None:
        with self._lock:
            orders = [
                o for o in self.state.orders.values() if o.live and (not mine_only or o.client_id == client.client_id)
            ]
            rows = [msg for o in orders for msg in (m.open_order(o), m.order_status(o))]
        client.send(*rows, w.encode(w.OPEN_ORDER_END, 1))

    def _open_orders(self, client: Client, fields: list[str]) -> None:
        self._send_open_orders(client, mine_only=True)

    def _all_open_orders(self, client: Client, fields: list[str]) -> None:
        self._send_open_orders(client, mine_only=False)

    def _completed_orders(self, client: Client, fields: list[str]) -> None:
        client.send(w.encode(w.COMPLETED_ORDERS_END))

    def _executions(self, client: Client, fields: list[str]) -> None:
        req_id, account, symbol = int(fields[2]), fields[4], fields[6]
        with self._lock:
            rows = [
                msg
                for e in self.state.executions
                if (not account or e.order.account == account) and (not symbol or e.order.symbol == symbol)
                for msg in m.execution(req_id, e)
            ]
        client.send(*rows, w.encode(w.EXECUTION_DATA_END, 1, req_id))

    def _place_order(self, client: Client, fields: list[str]) -> None:
        got = w.named(w.PLACE_ORDER_FIELDS, fields)
        order_id = int(got["orderId"])
        with self._lock:
            reject = self._reject.pop(0) if self._reject else None
            self.state.next_order_id = max(self.state.next_order_id, order_id + 1)
            order = GatewayOrder(
                order_id=order_id,
                client_id=client.client_id or 0,
                perm_id=1_000_000 + order_id,
                symbol=got["symbol"],
                action=got["action"],
                qty=Decimal(got["totalQuantity"]),
                order_type=got["orderType"],
                limit=Decimal(got["lmtPrice"]) if got["lmtPrice"] else None,
                account=got["account"] or self.state.account,
                order_ref=got["orderRef"],
                tif=got["tif"],
            )
            self.state.orders[order_id] = order
            known = order.symbol in self.state.prices
            order.status = "Submitted" if reject is None and known else "Inactive"
        if reject is not None:
            client.send(m.error(order_id, *reject))
        elif not known:
            client.send(m.error(order_id, 200, "No security definition has been found for the request"))
        elif not self._maybe_fill(order):
            client.send(m.open_order(order), m.order_status(order))

    def _maybe_fill(self, order: GatewayOrder) -> bool:
        """Fill ``order`` if the rule allows and tell the client that placed it (if it is still connected)."""
        with self._lock:
            if not self.state.crosses(order):
                return False
            done = self.state.fill(order)
            owner = next((c for c in self._clients if c.client_id == order.client_id and c.alive), None)
        if owner is not None:
            owner.send(m.open_order(order), m.order_status(order, done.price), *m.execution(-1, done))
        return True

    def _cancel_order(self, client: Client, fields: list[str]) -> None:
        order_id = int(fields[2])
        with self._lock:
            order = self.state.orders.get(order_id)
            live = order is not None and order.live
            if order is not None and live:
                order.status = "Cancelled"
        if order is None or not live:
            client.send(m.error(order_id, 10147, f"OrderId {order_id} that needs to be cancelled is not found."))
            return
        client.send(m.order_status(order), m.error(order_id, 202, "Order Canceled - reason:"))

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
