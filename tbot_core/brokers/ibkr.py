"""The Interactive Brokers adapter, on ib_async through a private-loop :class:`IbkrSession`.

Host, port and client id come from config (``IBKR_*``), overridable by the
``broker_ibkr`` secret, which also names the account.  Every call connects
on demand with ``connectAsync`` and is bounded by the configured timeouts,
so a dead gateway is a ``BrokerUnreachable`` heartbeat failure, not a hang.

Executions come from ``reqExecutionsAsync``: the IB API only returns the
current day's executions (up to 7 days if TWS is set so), so ledger sync must
run at least daily; older history needs an IB Flex report.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

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

    @classmethod
    def from_home(cls, home: BotHome, settings: Settings) -> IbkrBroker:
        return cls(IbkrEndpoint.from_home(home, settings))

    def close(self) -> None:
        self._session.close()

    def heartbeat(self) -> None:
        self._session.heartbeat()

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
            return ib.placeOrder(Stock(request.symbol, "SMART", "USD"), ib_order)

        return mapping.order(self._session.call(f"submit order {request.client_order_id}", place))

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
        """Executions after ``since`` whose commission is known (the rest come on the next sync)."""
        rows = self._session.call("executions", lambda ib: ib.reqExecutionsAsync())
        return [
            row
            for row in rows
            if mapping.has_commission(row)
            and row.execution.acctNumber in ("", self._account)
            and (since is None or mapping.utc(row.execution.time) > since)
        ]

    def fills_since(self, since: datetime | None) -> list[Fill]:
        return [mapping.fill(row) for row in self._executions(since)]

    def fetch_activities(self, since: datetime | None) -> list[Activity]:
        """Executions after ``since`` as ledger records (fitid = IB execId, fee = IB commission)."""
        from tbot_core.ledger.activity import Activity

        return [Activity(**mapping.ledger_fields(row)) for row in self._executions(since)]


def _find_trade(ib: IB, order_id: str) -> Trade:
    for trade in ib.trades():
        if str(trade.order.orderId) == order_id:
            return trade
    raise BrokerError(f"ibkr order {order_id}: not known to this session")


def make_ibkr_broker(home: BotHome, settings: Settings) -> IbkrBroker:
    """Entry point for ``tbot_core.brokers.factory`` (BROKER=ibkr)."""
    return IbkrBroker.from_home(home, settings)
