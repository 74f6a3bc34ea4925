"""ib_async's records (Trade, Fill, Execution, CommissionReport, AccountValue) -> the broker interface's.

IB reports money as ``float``; each value goes through ``Decimal(str(x))``
(the shortest text that round-trips) at this boundary and nowhere else.
IB marks "no value" with NaN or ``UNSET_DOUBLE``; such a value in a field the
books need is a ``BrokerError``, never a zero.

The strategy and the engine's client order id travel in IB's ``orderRef``
(``"strategy|client_order_id"``), which IB echoes on every execution, so a
fill can be attributed even after a restart.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ib_async import AccountValue, Trade
from ib_async import Fill as IbFill
from ib_async import Position as IbPosition

from tbot_core.brokers.base import Account, Fill, Order, Position
from tbot_core.brokers.errors import IB_INFO, from_ib_error
from tbot_core.errors import BrokerError, TbotError

_UNSET_LIMIT = 1e300  # ib_async's UNSET_DOUBLE is sys.float_info.max

ORDER_STATUS = {
    "PendingSubmit": "new",
    "ApiPending": "new",
    "PreSubmitted": "new",
    "Submitted": "accepted",
    "PendingCancel": "accepted",
    "ApiUpdate": "accepted",
    "Filled": "filled",
    "Cancelled": "canceled",
    "ApiCancelled": "canceled",
    "Inactive": "rejected",
}
SIDES = {"BUY": "buy", "BOT": "buy", "SELL": "sell", "SLD": "sell"}
ACCOUNT_TAGS = {"cash": "TotalCashValue", "equity": "NetLiquidation", "buying_power": "BuyingPower"}


def decimal(value: float, what: str) -> Decimal:
    if (
        value is None
        or isinstance(value, float)
        and (math.isnan(value) or math.isinf(value) or abs(value) >= _UNSET_LIMIT)
    ):
        raise BrokerError(f"ibkr {what}: no value reported")
    return Decimal(str(value))


def order_ref(strategy: str, client_order_id: str) -> str:
    if "|" in strategy:
        raise BrokerError(f"ibkr order: strategy name {strategy!r} may not contain '|'")
    return f"{strategy}|{client_order_id}"


def split_order_ref(ref: str) -> tuple[str, str]:
    """``(strategy, client_order_id)``; orders placed outside the bot have neither."""
    strategy, sep, client_order_id = (ref or "").partition("|")
    return (strategy, client_order_id) if sep else ("", ref or "")


def utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise BrokerError("ibkr: naive timestamp from the API (expected UTC)")
    return moment.astimezone(UTC)


def order(trade: Trade) -> Order:
    status = trade.orderStatus.status
    if status not in ORDER_STATUS:
        raise BrokerError(f"ibkr order {trade.order.orderId}: unknown status {status[:40]!r}")
    mapped = ORDER_STATUS[status]
    filled = Decimal(str(trade.orderStatus.filled or 0))
    if mapped == "accepted" and filled > 0:
        mapped = "partially_filled"
    strategy, client_order_id = split_order_ref(trade.order.orderRef)
    submitted = trade.log[0].time if trade.log else datetime.now(UTC)
    avg = trade.orderStatus.avgFillPrice
    return Order(
        order_id=str(trade.order.orderId),
        client_order_id=client_order_id,
        symbol=trade.contract.symbol,
        side=_side(trade.order.action, "order"),
        qty=decimal(trade.order.totalQuantity, "order quantity"),
        status=mapped,
        submitted_utc=utc(submitted),
        strategy=strategy,
        filled_qty=filled,
        filled_avg_price=decimal(avg, "average fill price") if filled > 0 else None,
    )


REFUSED_STATUSES = frozenset({"Inactive", "Cancelled", "ApiCancelled", "ValidationError"})


def order_rejection(trade: Trade) -> TbotError | None:
    """The error for an order IB refused (e.g. 201 -> BrokerError code "201"), from its last coded log entry.

    IB reports a rejection asynchronously: the order goes Inactive/Cancelled and
    the error code lands in ``trade.log``; ``None`` while the order stands.
    """
    if trade.orderStatus.status not in REFUSED_STATUSES:
        return None
    for entry in reversed(trade.log):
        if entry.errorCode and entry.errorCode not in IB_INFO:
            return from_ib_error(
                entry.errorCode,
                entry.message,
                service="ibkr",
                what=f"order {trade.order.orderId} ({trade.orderStatus.status})",
            )
    return None


def _side(raw: str, what: str) -> str:
    try:
        return SIDES[raw]
    except KeyError:
        raise BrokerError(f"ibkr {what}: unknown side {str(raw)[:10]!r}") from None


def has_commission(ib_fill: IbFill) -> bool:
    """IB sends the commission report after the execution; until then the fee is unknown."""
    report = ib_fill.commissionReport
    return bool(report.execId) and report.execId == ib_fill.execution.execId


def fill(ib_fill: IbFill) -> Fill:
    execution = ib_fill.execution
    if not has_commission(ib_fill):
        raise BrokerError(f"ibkr execution {execution.execId}: commission report not received yet")
    strategy, _ = split_order_ref(execution.orderRef)
    return Fill(
        fitid=execution.execId,
        order_id=str(execution.orderId),
        symbol=ib_fill.contract.symbol,
        side=_side(execution.side, f"execution {execution.execId}"),
        qty=decimal(execution.shares, f"execution {execution.execId} shares"),
        price=decimal(execution.price, f"execution {execution.execId} price"),
        fee=decimal(ib_fill.commissionReport.commission, f"execution {execution.execId} commission"),
        timestamp_utc=utc(execution.time),
        strategy=strategy,
    )


def ledger_fields(ib_fill: IbFill) -> dict[str, Any]:
    """Keyword arguments for ``tbot_core.ledger.activity.Activity`` (fitid = IB execId)."""
    trade = fill(ib_fill)
    gross = trade.qty * trade.price
    return dict(
        fitid=trade.fitid,
        type="FILL",
        symbol=trade.symbol,
        side=trade.side,
        qty=trade.qty,
        price=trade.price,
        amount=-gross if trade.side == "buy" else gross,
        fee=trade.fee,
        timestamp_utc=trade.timestamp_utc,
    )


def position(raw: IbPosition) -> Position:
    return Position(
        symbol=raw.contract.symbol,
        qty=decimal(raw.position, f"position {raw.contract.symbol}"),
        avg_price=decimal(raw.avgCost, f"position {raw.contract.symbol} average cost"),
    )


def account(values: list[AccountValue], currency: str = "USD") -> Account:
    by_tag = {v.tag: v for v in values if v.currency in (currency, "")}
    amounts: dict[str, Decimal] = {}
    for name, tag in ACCOUNT_TAGS.items():
        if tag not in by_tag:
            raise BrokerError(f"ibkr account summary: tag {tag} in {currency} missing")
        try:
            amounts[name] = Decimal(by_tag[tag].value)
        except ArithmeticError:
            raise BrokerError(f"ibkr account summary: tag {tag} is not a number") from None
    return Account(
        currency=currency,
        extra={"account_type": by_tag["AccountType"].value} if "AccountType" in by_tag else {},
        **amounts,
    )
