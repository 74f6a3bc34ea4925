"""Alpaca's JSON (raw, as the trading API sends it) -> the broker interface's records.

The adapter asks alpaca-py for raw payloads because its models parse some
money fields (activity price and qty, fill prices) into ``float``; here every
amount goes straight from the API's decimal text to ``Decimal``.  A missing or
malformed field is a ``BrokerError`` that names it, never a guess.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from tbot_core.brokers.base import Account, Fill, Order, Position
from tbot_core.errors import BrokerError
from tbot_core.timeutil import parse_iso_z

# Alpaca order statuses -> the interface's six. Anything else is refused (fail closed).
ORDER_STATUS = {
    "new": "new",
    "pending_new": "new",
    "accepted": "accepted",
    "accepted_for_bidding": "accepted",
    "held": "accepted",
    "calculated": "accepted",
    "pending_cancel": "accepted",
    "pending_replace": "accepted",
    "done_for_day": "accepted",
    "stopped": "accepted",
    "suspended": "accepted",
    "replaced": "canceled",
    "partially_filled": "partially_filled",
    "filled": "filled",
    "canceled": "canceled",
    "expired": "canceled",
    "rejected": "rejected",
}
OPEN_STATUSES = frozenset({"new", "accepted", "partially_filled"})

# Non-trade activity types -> ledger activity types (tbot_core.ledger.activity.TYPES).
# Withholding on dividends books as a negative dividend; anything else is refused by name.
NON_TRADE_TYPES = {
    "DIV": "DIVIDEND",
    "DIVCGL": "DIVIDEND",
    "DIVCGS": "DIVIDEND",
    "DIVROC": "DIVIDEND",
    "DIVTXEX": "DIVIDEND",
    "DIVNRA": "DIVIDEND",
    "DIVFT": "DIVIDEND",
    "DIVTW": "DIVIDEND",
    "INT": "INTEREST",
    "FEE": "FEE",
    "CFEE": "FEE",
    "PTC": "FEE",
    "CSD": "TRANSFER",
    "CSW": "TRANSFER",
    "JNLC": "TRANSFER",
}


def _field(raw: dict[str, Any], name: str, where: str) -> Any:
    value = raw.get(name)
    if value is None or value == "":
        raise BrokerError(f"alpaca {where}: field {name!r} missing in the broker's answer")
    return value


def money(raw: dict[str, Any], name: str, where: str) -> Decimal:
    value = _field(raw, name, where)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise BrokerError(f"alpaca {where}: field {name!r} is not a number") from None
    if not number.is_finite():
        raise BrokerError(f"alpaca {where}: field {name!r} is not finite")
    return number


def optional_money(raw: dict[str, Any], name: str, where: str) -> Decimal | None:
    return None if raw.get(name) in (None, "") else money(raw, name, where)


def timestamp(raw: dict[str, Any], name: str, where: str) -> datetime:
    try:
        return parse_iso_z(str(_field(raw, name, where)))
    except ValueError:
        raise BrokerError(f"alpaca {where}: field {name!r} is not an ISO 8601 time with an offset") from None


def account(raw: dict[str, Any]) -> Account:
    extra: dict[str, str] = {
        key: str(raw[key]) for key in ("status", "trading_blocked", "account_blocked") if key in raw
    }
    return Account(
        cash=money(raw, "cash", "account"),
        equity=money(raw, "equity", "account"),
        buying_power=money(raw, "buying_power", "account"),
        currency=str(raw.get("currency") or "USD"),
        extra=extra,
    )


def position(raw: dict[str, Any]) -> Position:
    qty = money(raw, "qty", "position")
    if raw.get("side") == "short" and qty > 0:
        qty = -qty
    return Position(
        symbol=str(_field(raw, "symbol", "position")),
        qty=qty,
        avg_price=money(raw, "avg_entry_price", "position"),
        market_price=optional_money(raw, "current_price", "position"),
    )


def order(raw: dict[str, Any], strategy: str = "") -> Order:
    status = str(_field(raw, "status", "order"))
    if status not in ORDER_STATUS:
        raise BrokerError(f"alpaca order: unknown status {status[:40]!r}")
    return Order(
        order_id=str(_field(raw, "id", "order")),
        client_order_id=str(raw.get("client_order_id") or ""),
        symbol=str(_field(raw, "symbol", "order")),
        side=str(_field(raw, "side", "order")),
        qty=money(raw, "qty", "order"),
        status=ORDER_STATUS[status],
        submitted_utc=timestamp(raw, "submitted_at", "order"),
        strategy=strategy,
        filled_qty=optional_money(raw, "filled_qty", "order") or Decimal(0),
        filled_avg_price=optional_money(raw, "filled_avg_price", "order"),
    )


def is_fill(raw: dict[str, Any]) -> bool:
    return raw.get("activity_type") == "FILL"


def fill(raw: dict[str, Any], strategy: str = "") -> Fill:
    return Fill(
        fitid=str(_field(raw, "id", "activity")),
        order_id=str(_field(raw, "order_id", "activity")),
        symbol=str(_field(raw, "symbol", "activity")),
        side=_side(raw),
        qty=money(raw, "qty", "activity"),
        price=money(raw, "price", "activity"),
        fee=Decimal(0),
        timestamp_utc=timestamp(raw, "transaction_time", "activity"),
        strategy=strategy,
    )


def _side(raw: dict[str, Any]) -> str:
    side = str(_field(raw, "side", "activity"))
    if side in ("buy", "sell"):
        return side
    if side == "sell_short":
        return "sell"
    raise BrokerError(f"alpaca activity: unknown side {side[:20]!r}")


def activity_time(raw: dict[str, Any]) -> datetime:
    """Fills carry a transaction time; non-trade activities only a settlement date (booked at 00:00 UTC)."""
    if is_fill(raw):
        return timestamp(raw, "transaction_time", "activity")
    try:
        day = date.fromisoformat(str(_field(raw, "date", "activity"))[:10])
    except ValueError:
        raise BrokerError("alpaca activity: field 'date' is not YYYY-MM-DD") from None
    return datetime.combine(day, time(0), tzinfo=UTC)


def ledger_fields(raw: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``tbot_core.ledger.activity.Activity`` (fitid = Alpaca activity id)."""
    when = activity_time(raw)
    if is_fill(raw):
        trade = fill(raw)
        gross = trade.qty * trade.price
        return dict(
            fitid=trade.fitid,
            type="FILL",
            symbol=trade.symbol,
            side=trade.side,
            qty=trade.qty,
            price=trade.price,
            amount=-gross if trade.side == "buy" else gross,
            fee=Decimal(0),
            timestamp_utc=when,
        )
    kind = str(_field(raw, "activity_type", "activity"))
    if kind not in NON_TRADE_TYPES:
        raise BrokerError(
            f"alpaca activity {str(raw.get('id'))[:80]}: type {kind[:12]!r} has no ledger mapping",
            hint="book it by hand, then sync again with --since after its date",
        )
    return dict(
        fitid=str(_field(raw, "id", "activity")),
        type=NON_TRADE_TYPES[kind],
        symbol=str(raw.get("symbol") or ""),
        side="",
        qty=abs(optional_money(raw, "qty", "activity") or Decimal(0)),
        price=abs(optional_money(raw, "price", "activity") or Decimal(0)),
        amount=money(raw, "net_amount", "activity"),
        fee=Decimal(0),
        timestamp_utc=when,
    )
