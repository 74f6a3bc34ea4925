"""The Interactive Brokers adapter, on ib_async through a private-loop :class:`IbkrSession`.

Host, port and client id come from config (``IBKR_*``), overridable by the
``broker_ibkr`` secret, which also names the account.  Every call connects
on demand with ``connectAsync`` and is bounded by the configured timeouts,
so a dead gateway is a ``BrokerUnreachable`` heartbeat failure, not a hang.

An order waits (at most half the request timeout) for the gateway's first
answer, so a market order usually comes back filled and is booked at once; an
order IB refuses (201 and the like) raises the mapped ``BrokerError`` with its
code, for the error handler's policy.

Executions come from ``reqExecutionsAsync``: the IB API only returns the
current day's executions (up to 7 days if TWS is set so), so ledger sync must
run at least daily; older history needs an IB Flex report.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ib_async import IB, LimitOrder, MarketOrder, Stock, Trade
from ib_async import Fill as IbFill

from tbot_core.brokers import ibkr_mapping as mapping
from tbot_core.brokers.base import Account, Broker, Fill, Order, OrderRequest, Position
from tbot_core.brokers.ibkr_session import IbkrEndpoint, IbkrSession
from tbot_core.errors import BrokerError

if TYPE_CHECKING:
    from tbot_core.config import Settings
    from tbot_core.home import BotHome
    from tbot_core.ledger.activity import Activity


class IbkrBroker(Broker):
    code = "IBKR"

    def __init__(self, endpoint: IbkrEndpoint) -> None:
        self._session = IbkrSession(endpoint, service="ibkr")
        self._account = endpoint.account
        # IB answers a market order "Submitted" and reports the execution later; the engine asks
        # ``fills_waiting`` before each bar, so a fill is booked at the next bar, not at the next periodic sync.
        self._fill_news = threading.Event()
        self._session.ib.commissionReportEvent += self._on_commission_report

    @classmethod
    def from_home(cls, home: BotHome, settings: Settings) -> IbkrBroker:
        return cls(IbkrEndpoint.from_home(home, settings))

    def close(self) -> None:
        self._session.close()

    def heartbeat(self) -> None:
        self._session.heartbeat()

    def _on_commission_report(self, *_event: Any) -> None:
        """From the session's loop: an execution is complete (its commission is known, so ``fills_since`` has it)."""
        self._fill_news.set()

    def fills_waiting(self) -> bool:
        """True once after IB reported a complete execution on this session: read ``fills_since`` now."""
        if not self._fill_news.is_set():
            return False
        self._fill_news.clear()
        return True

    # -- account and positions --------------------------------------------------------
    def account(self) -> Account:
        return mapping.account(self._session.call("account summary", lambda ib: ib.accountSummaryAsync(self._account)))

    def positions(self) -> list[Position]:
        rows = self._session.call("positions", lambda ib: ib.reqPositionsAsync())
        return [mapping.position(row) for row in rows if row.account == self._account and row.position]

    # -- orders -------------------------------------------------------------------------
    def submit_order(self, request: OrderRequest) -> Order:
        action = {"buy": "BUY", "sell": "SELL"}.get(request.side)
        if action is None:
            raise BrokerError(f"ibkr submit order: side {request.side!r}; expected buy or sell")
        ib_order = (
            MarketOrder(action, float(request.qty))
            if request.limit_price is None
            else LimitOrder(action, float(request.qty), float(request.limit_price))
        )
        ib_order.orderRef = mapping.order_ref(request.strategy, request.client_order_id)
        ib_order.account = self._account
        ib_order.tif = "DAY"

        async def place(ib: IB) -> Trade:
            trade = ib.placeOrder(Stock(request.symbol, "SMART", "USD"), ib_order)
            await _first_answer(trade, self._session.endpoint.request_timeout / 2)
            return trade

        trade = self._session.call(f"submit order {request.client_order_id}", place)
        refused = mapping.order_rejection(trade)
        if refused is not None:
            raise refused
        return mapping.order(trade)

    def cancel_order(self, order_id: str) -> None:
        async def cancel(ib: IB) -> None:
            ib.cancelOrder(_find_trade(ib, order_id).order)

        self._session.call(f"cancel order {order_id}", cancel)

    def open_orders(self) -> list[Order]:
        trades = self._session.call("open orders", lambda ib: ib.reqAllOpenOrdersAsync())
        return [mapping.order(trade) for trade in trades if trade.order.account in ("", self._account)]

    def order_status(self, order_id: str) -> Order:
        async def find(ib: IB) -> Trade:
            return _find_trade(ib, order_id)

        return mapping.order(self._session.call(f"order {order_id}", find))

    # -- fills and activities ------------------------------------------------------------
    def _executions(self, since: datetime | None) -> list[IbFill]:
        """Executions at or after ``since`` whose commission is known (the rest come on the next sync).

        At, not only after: IB stamps executions to the second, so two fills in the
        second last booked would otherwise lose the later one; callers skip known ids.

        ib_async answers ``reqExecutions`` with fresh ``Fill`` records, and for an
        execution this session already saw live, that record's commission report
        stays empty (the report updates the fill it stored first).  So each row is
        swapped for the session's stored fill of the same execId, which has it.
        """

        async def fetch(ib: IB) -> list[IbFill]:
            rows = await ib.reqExecutionsAsync()
            known = {f.execution.execId: f for f in ib.fills()}
            return [known.get(row.execution.execId, row) for row in rows]

        rows = self._session.call("executions", fetch)
        return [
            row
            for row in rows
            if mapping.has_commission(row)
            and row.execution.acctNumber in ("", self._account)
            and (since is None or mapping.utc(row.execution.time) >= since)
        ]

    def fills_since(self, since: datetime | None) -> list[Fill]:
        return [mapping.fill(row) for row in self._executions(since)]

    def fetch_activities(self, since: datetime | None) -> list[Activity]:
        """Executions after ``since`` as ledger records (fitid = IB execId, fee = IB commission)."""
        from tbot_core.ledger.activity import Activity

        return [Activity(**mapping.ledger_fields(row)) for row in self._executions(since)]


async def _first_answer(trade: Trade, limit: float) -> None:
    """Wait (at most ``limit`` s) for the gateway's first word on a new order: accepted, filled or refused.

    A market order usually fills within that answer, so the engine books it at
    once; no answer in time is not a failure (the order may stand), it stays "new".
    """
    if trade.orderStatus.status != "PendingSubmit" or trade.isDone():
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(trade.statusEvent, limit)


def _find_trade(ib: IB, order_id: str) -> Trade:
    for trade in ib.trades():
        if str(trade.order.orderId) == order_id:
            return trade
    raise BrokerError(f"ibkr order {order_id}: not known to this session")


def make_ibkr_broker(home: BotHome, settings: Settings) -> IbkrBroker:
    """Entry point for ``tbot_core.brokers.factory`` (BROKER=ibkr)."""
    return IbkrBroker.from_home(home, settings)
