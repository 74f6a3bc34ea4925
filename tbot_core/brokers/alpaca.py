"""The Alpaca broker adapter, on alpaca-py's ``TradingClient``.

Paper or live endpoint by ``ALPACA_PAPER``; ``ALPACA_URL_OVERRIDE`` points the
client elsewhere (tests run it against a server on 127.0.0.1).  Keys come
only from the ``broker_alpaca`` secret.  Every call goes through
:func:`alpaca_errors`, so the engine sees only ``tbot_core.errors`` classes.

``TradingClient`` has no method for account activities (alpaca-py only wraps
the Broker API's variant), so activities use the same client's authenticated
``get`` on ``/account/activities`` and page with ``page_token`` = the last
activity id, as Alpaca documents.

With ``ALPACA_FEED_MODE=stream`` the adapter also listens to Alpaca's trade
updates (``alpaca_trade_stream.py``) once the engine first asks
``fills_waiting()``, so a fill is read back at the next bar instead of the
next periodic sync; the fills themselves still come from the activities.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import GetOrdersRequest, LimitOrderRequest, MarketOrderRequest

from tbot_core.brokers import alpaca_mapping as mapping
from tbot_core.brokers.alpaca_common import AlpacaCredentials, tune_client, url_or_none
from tbot_core.brokers.alpaca_trade_stream import TradeUpdates
from tbot_core.brokers.base import Account, Broker, Fill, Order, OrderRequest, Position
from tbot_core.brokers.errors import alpaca_errors
from tbot_core.errors import BrokerError

if TYPE_CHECKING:
    from tbot_core.config import Settings
    from tbot_core.home import BotHome
    from tbot_core.ledger.activity import Activity

ACTIVITY_PAGE_SIZE = 100  # Alpaca's maximum without a ``date`` filter
_MAX_OPEN_ORDERS = 500


class AlpacaBroker(Broker):
    code = "ALPACA"

    def __init__(
        self,
        credentials: AlpacaCredentials,
        *,
        paper: bool = True,
        url_override: str = "",
        timeout_seconds: float = 10.0,
        trade_updates: bool = False,
        trading_stream_url: str = "",
    ) -> None:
        self._timeout = timeout_seconds
        self._service = "alpaca paper" if paper else "alpaca live"
        client = TradingClient(
            credentials.api_key,
            credentials.secret_key,
            paper=paper,
            raw_data=True,
            url_override=url_or_none(url_override),
        )
        self._client = tune_client(client, timeout_seconds)
        self._strategy_by_order: dict[str, str] = {}
        self.updates = (
            TradeUpdates(credentials, paper=paper, url_override=trading_stream_url) if trade_updates else None
        )

    @classmethod
    def from_home(cls, home: BotHome, settings: Settings) -> AlpacaBroker:
        return cls(
            AlpacaCredentials.from_home(home),
            paper=settings.alpaca_paper,
            url_override=settings.alpaca_url_override,
            timeout_seconds=float(settings.alpaca_request_timeout_seconds),
            trade_updates=settings.alpaca_feed_mode == "stream",
            trading_stream_url=settings.alpaca_trading_stream_url_override,
        )

    def fills_waiting(self) -> bool:
        """True once after a trade update reported a fill: read ``fills_since`` now.

        The engine asks on every bar; the first call starts the listener, so
        a broker built by a CLI command (``tbot ledger sync``) never opens a socket.
        """
        if self.updates is None:
            return False
        self.updates.start()
        return self.updates.take_fills()

    def _call(self, what: str, func: Any, *args: Any) -> Any:
        with alpaca_errors(self._service, what, timeout=self._timeout):
            return func(*args)

    # -- account and positions --------------------------------------------------------
    def account(self) -> Account:
        return mapping.account(self._call("account", self._client.get_account))

    def positions(self) -> list[Position]:
        return [mapping.position(raw) for raw in self._call("positions", self._client.get_all_positions)]

    # -- orders -------------------------------------------------------------------------
    def submit_order(self, request: OrderRequest) -> Order:
        if request.side not in ("buy", "sell"):
            raise BrokerError(f"alpaca submit order: side {request.side!r}; expected buy or sell")
        # alpaca-py's request models hold qty/price as float; float() of a Decimal with at most
        # 9 places round-trips exactly through JSON, which is all Alpaca accepts anyway.
        fields: dict[str, Any] = dict(
            symbol=request.symbol,
            qty=float(request.qty),
            side=OrderSide.BUY if request.side == "buy" else OrderSide.SELL,
            time_in_force=TimeInForce.DAY,
            client_order_id=request.client_order_id,
        )
        order_request = (
            MarketOrderRequest(**fields)
            if request.limit_price is None
            else LimitOrderRequest(**fields, limit_price=float(request.limit_price))
        )
        raw = self._call(f"submit order {request.client_order_id}", self._client.submit_order, order_request)
        order = mapping.order(raw, request.strategy)
        self._strategy_by_order[order.order_id] = request.strategy
        return order

    def cancel_order(self, order_id: str) -> None:
        self._call(f"cancel order {order_id}", self._client.cancel_order_by_id, order_id)

    def open_orders(self) -> list[Order]:
        query = GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=_MAX_OPEN_ORDERS)
        return [self._order(raw) for raw in self._call("open orders", self._client.get_orders, query)]

    def order_status(self, order_id: str) -> Order:
        return self._order(self._call(f"order {order_id}", self._client.get_order_by_id, order_id))

    def _order(self, raw: dict[str, Any]) -> Order:
        return mapping.order(raw, self._strategy_by_order.get(str(raw.get("id")), ""))

    # -- fills and activities ------------------------------------------------------------
    def fills_since(self, since: datetime | None) -> list[Fill]:
        return [
            mapping.fill(raw, self._strategy_by_order.get(str(raw.get("order_id")), ""))
            for raw in self.raw_activities(since, activity_types="FILL")
            if mapping.is_fill(raw)
        ]

    def fetch_activities(self, since: datetime | None) -> list[Activity]:
        """Every account activity after ``since`` as ledger records (fitid = Alpaca activity id)."""
        from tbot_core.ledger.activity import Activity

        return [Activity(**mapping.ledger_fields(raw)) for raw in self.raw_activities(since)]

    def raw_activities(self, since: datetime | None, *, activity_types: str = "") -> Iterator[dict[str, Any]]:
        """All activities after ``since``, oldest first, across every page."""
        params: dict[str, Any] = {"direction": "asc", "page_size": ACTIVITY_PAGE_SIZE}
        if activity_types:
            params["activity_types"] = activity_types
        if since is not None:
            params["after"] = since.astimezone(UTC).isoformat().replace("+00:00", "Z")
        seen_tokens: set[str] = set()
        while True:
            page = self._call("account activities", self._client.get, "/account/activities", dict(params))
            if not isinstance(page, list):
                raise BrokerError("alpaca account activities: expected a JSON list")
            yield from page
            if len(page) < ACTIVITY_PAGE_SIZE:
                return
            token = str(page[-1].get("id") or "")
            if not token or token in seen_tokens:
                raise BrokerError("alpaca account activities: paging did not advance (missing or repeated id)")
            seen_tokens.add(token)
            params["page_token"] = token


def make_alpaca_broker(home: BotHome, settings: Settings) -> AlpacaBroker:
    """Entry point for ``tbot_core.brokers.factory`` (BROKER=alpaca)."""
    return AlpacaBroker.from_home(home, settings)
