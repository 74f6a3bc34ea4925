"""The test IB gateway's order desk: place, fill, cancel, and the order and execution reports.

A mixin of ``tests.fakes.ib_gateway.IbGateway`` (which owns the lock, the state and the clients);
kept apart because orders are the part of the protocol with the most rules (reject, resting
limit orders, fills announced to the placing client only).
"""

from __future__ import annotations

import threading
from decimal import Decimal

from tests.fakes import ib_messages as m
from tests.fakes import ib_wire as w
from tests.fakes.ib_account import GatewayOrder, GatewayState
from tests.fakes.ib_connection import Client


class OrderDesk:
    """Order requests and the scripting call that rejects the next one."""

    state: GatewayState
    _lock: threading.RLock
    _clients: list[Client]
    _reject: list[tuple[int, str]]

    def reject_next_order(
        self, code: int = 201, message: str = "Order rejected - reason:NO TRADING PERMISSIONS"
    ) -> None:
        with self._lock:
            self._reject.append((code, message))

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
