"""The local IB gateway's paper account: cash, positions, prices, orders, executions and the fill rule.

Kept apart from the wire (``ib_wire``, ``ib_messages``) and the server
(``ib_gateway``): this is what a test scripts and asserts on.  Money is
``Decimal``; IB's own reports carry it as text, so nothing here is a float.
The fill rule: a market order fills whole at the symbol's current price at once;
a limit order when the price reaches its limit (now, or on a later ``set_price``).
Commission: 0.005 per share, at least 1.00 (IB's fixed US tiers, simplified).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

ACCOUNT = "DU1234567"
COMMISSION_PER_SHARE = Decimal("0.005")
COMMISSION_MIN = Decimal("1.00")
LIVE_STATUSES = ("PreSubmitted", "Submitted")

BarRow = tuple[datetime, Decimal, Decimal, Decimal, Decimal, int]  # ts, open, high, low, close, volume


@dataclass
class GatewayOrder:
    order_id: int
    client_id: int
    perm_id: int
    symbol: str
    action: str  # BUY / SELL
    qty: Decimal
    order_type: str  # MKT / LMT
    limit: Decimal | None
    account: str
    order_ref: str
    tif: str
    status: str = "PreSubmitted"
    filled: Decimal = Decimal(0)
    avg_price: Decimal = Decimal(0)

    @property
    def live(self) -> bool:
        return self.status in LIVE_STATUSES


@dataclass
class Execution:
    exec_id: str
    order: GatewayOrder
    shares: Decimal
    price: Decimal
    time: datetime
    commission: Decimal


@dataclass
class Imbalance:
    """Generic tick 225's values: paired (auction) volume, auction price, imbalance; and the regulatory one."""

    paired: Decimal
    price: Decimal
    imbalance: Decimal  # signed: > 0 buy side, < 0 sell side
    regulatory: Decimal | None = None


@dataclass
class GatewayState:
    account: str = ACCOUNT
    cash: Decimal = Decimal("100000.00")
    prices: dict[str, Decimal] = field(default_factory=lambda: {"AAPL": Decimal("187.25"), "SPY": Decimal("512.10")})
    positions: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)  # symbol -> (qty, avg cost)
    imbalances: dict[str, Imbalance] = field(default_factory=dict)
    bars: dict[str, list[BarRow]] = field(default_factory=dict)
    orders: dict[int, GatewayOrder] = field(default_factory=dict)
    executions: list[Execution] = field(default_factory=list)
    next_order_id: int = 1
    hold_orders: bool = False  # True: market orders rest as Submitted instead of filling
    _exec_seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    def summary(self) -> list[tuple[str, object, str]]:
        """(tag, value, currency) of the account summary; positions are marked at the current prices."""
        held = sum((qty * self.prices.get(sym, avg) for sym, (qty, avg) in self.positions.items()), Decimal(0))
        return [
            ("AccountType", "INDIVIDUAL", ""),
            ("NetLiquidation", self.cash + held, "USD"),
            ("TotalCashValue", self.cash, "USD"),
            ("BuyingPower", max(self.cash, Decimal(0)), "USD"),
        ]

    def crosses(self, order: GatewayOrder) -> bool:
        """Whether the fill rule fills ``order`` at the current price now."""
        if self.hold_orders or order.status != "Submitted":
            return False
        price = self.prices[order.symbol]
        if order.limit is None:
            return True
        return price <= order.limit if order.action == "BUY" else price >= order.limit

    def fill(self, order: GatewayOrder) -> Execution:
        """Fill what is left of ``order`` at the current price: cash, position, commission, one execution."""
        price = self.prices[order.symbol]
        qty = order.qty - order.filled
        commission = max(COMMISSION_MIN, (qty * COMMISSION_PER_SHARE).quantize(Decimal("0.01")))
        signed = qty if order.action == "BUY" else -qty
        held, avg = self.positions.get(order.symbol, (Decimal(0), Decimal(0)))
        new_qty = held + signed
        if new_qty == 0:
            self.positions.pop(order.symbol, None)
        else:
            adds = signed > 0 and held >= 0
            self.positions[order.symbol] = (new_qty, (held * avg + signed * price) / new_qty if adds else avg)
        self.cash -= signed * price + commission
        order.filled, order.avg_price, order.status = order.qty, price, "Filled"
        execution = Execution(
            exec_id=f"0000e0d5.{next(self._exec_seq):08x}.01.01",
            order=order,
            shares=qty,
            price=price,
            time=datetime.now(UTC).replace(microsecond=0),  # IB stamps executions to the second
            commission=commission,
        )
        self.executions.append(execution)
        return execution
