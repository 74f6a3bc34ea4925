"""The broker interface the engine trades through.

Every adapter (paper, Alpaca, IBKR) implements it, maps its SDK's errors into
``tbot_core.errors`` classes (429/5xx/timeouts -> NetworkError, 401/403 ->
ConfigError, refusals -> BrokerError) and reports money as ``Decimal``.
Fills come back as ledger ``Activity``-shaped records with a broker fitid so
the ledger's sync path books them exactly once.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class OrderRequest:
    client_order_id: str
    symbol: str
    side: str  # buy | sell
    qty: Decimal
    strategy: str
    limit_price: Decimal | None = None  # None = market


@dataclass(frozen=True)
class Order:
    order_id: str
    client_order_id: str
    symbol: str
    side: str
    qty: Decimal
    status: str  # new | accepted | filled | partially_filled | canceled | rejected
    submitted_utc: datetime
    strategy: str = ""
    filled_qty: Decimal = Decimal(0)
    filled_avg_price: Decimal | None = None


@dataclass(frozen=True)
class Fill:
    fitid: str  # the broker's unique execution / activity id
    order_id: str
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    fee: Decimal
    timestamp_utc: datetime
    strategy: str = ""


@dataclass(frozen=True)
class Position:
    symbol: str
    qty: Decimal
    avg_price: Decimal
    market_price: Decimal | None = None


@dataclass(frozen=True)
class Account:
    cash: Decimal
    equity: Decimal
    buying_power: Decimal
    currency: str = "USD"
    extra: dict[str, str] = field(default_factory=dict)


class Broker(abc.ABC):
    """What the engine needs from a broker. Implementations must not block forever."""

    code: str = "PAPER"

    @abc.abstractmethod
    def account(self) -> Account: ...

    @abc.abstractmethod
    def positions(self) -> list[Position]: ...

    @abc.abstractmethod
    def submit_order(self, request: OrderRequest) -> Order: ...

    @abc.abstractmethod
    def cancel_order(self, order_id: str) -> None: ...

    @abc.abstractmethod
    def open_orders(self) -> list[Order]: ...

    @abc.abstractmethod
    def order_status(self, order_id: str) -> Order: ...

    @abc.abstractmethod
    def fills_since(self, since: datetime | None) -> list[Fill]: ...

    def cancel_all(self) -> int:
        orders = self.open_orders()
        for order in orders:
            self.cancel_order(order.order_id)
        return len(orders)

    def heartbeat(self) -> None:
        """A cheap call that proves the broker answers (raises on failure)."""
        self.account()

    # -- what a simulated venue (paper) adds; a remote broker keeps these defaults ---------------
    simulated: bool = False  # True when orders fill against our own bars and the account lives in core.db

    def on_bar(self, bar: Any, close_cents: int, bar_utc: str) -> list[Fill]:
        """Market data in: a simulated venue marks and fills resting orders; a remote broker does nothing."""
        return []

    def marks(self) -> dict[str, int]:
        """Last prices (cents) the venue remembers across restarts; a remote broker has none to offer."""
        return {}

    def position_strategies(self) -> dict[str, str]:
        """Which strategy opened each position, when the venue records it."""
        return {}

    def opening_deposit(self) -> tuple[str, int, str]:
        """(fitid, cents, UTC time) of a simulated account's opening cash: its first ledger entry."""
        raise NotImplementedError(f"{self.code}: only a simulated venue has an opening deposit")

    def fetch_activities(self, since: datetime | None) -> list[Any]:
        """The broker's own activity records since ``since`` (ledger ``Activity``); empty when it has none."""
        return []
