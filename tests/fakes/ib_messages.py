"""The local IB gateway's answers: its account's records as TWS API messages (``ib_wire`` layouts).

Pure functions from ``ib_account`` records to framed bytes, one per message
kind the gateway sends; the server (``ib_gateway``) decides when.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tests.fakes import ib_wire as w
from tests.fakes.ib_account import BarRow, Execution, GatewayOrder, Imbalance

_DURATION = re.compile(r"^(\d+) ([SDWMY])$")
_UNIT_SECONDS = {"S": 1, "D": 86400, "W": 7 * 86400, "M": 31 * 86400, "Y": 366 * 86400}


def contract(symbol: str, sec_type: str = "STK") -> dict[str, Any]:
    """A contract's fields as the gateway reports them (conId made up from the symbol, never 0)."""
    con_id = 1 + sum(ord(ch) * 31**i for i, ch in enumerate(symbol)) % 10_000_000
    return {"conId": con_id, "symbol": symbol, "secType": sec_type, "exchange": "SMART", "currency": "USD"}


def error(req_id: int, code: int, message: str) -> bytes:
    return w.encode(w.ERR_MSG, 2, req_id, code, message)


def contract_details(req_id: int, asked: dict[str, str]) -> list[bytes]:
    """One match for any stock or index asked for, then the end marker."""
    symbol = asked["symbol"]
    values = {
        "version": 8,
        "reqId": req_id,
        **contract(symbol, asked["secType"] or "STK"),
        "exchange": asked["exchange"] or "SMART",
        "primaryExchange": "NASDAQ",
        "marketName": symbol,
        "tradingClass": symbol,
        "localSymbol": symbol,
        "minTick": "0.01",
        "longName": symbol,
        "timeZoneId": "US/Eastern",
        "numSecIds": 0,
    }
    return [w.laid_out(w.CONTRACT_DATA, w.CONTRACT_DETAILS_LAYOUT, values), w.encode(w.CONTRACT_DATA_END, 1, req_id)]


def position(account: str, symbol: str, qty: Decimal, avg: Decimal) -> bytes:
    values = {"version": 3, "account": account, **contract(symbol), "position": qty, "avgCost": avg}
    return w.laid_out(w.POSITION_DATA, w.POSITION_LAYOUT, values)


def open_order(order: GatewayOrder) -> bytes:
    values: dict[str, object] = {
        "orderId": order.order_id,
        **contract(order.symbol),
        "action": order.action,
        "totalQuantity": order.qty,
        "orderType": order.order_type,
        "lmtPrice": order.limit,
        "tif": order.tif,
        "account": order.account,
        "orderRef": order.order_ref,
        "clientId": order.client_id,
        "permId": order.perm_id,
        "status": order.status,
    }
    return w.laid_out(w.OPEN_ORDER, w.OPEN_ORDER_LAYOUT, values, w.OPEN_ORDER_DEFAULTS)


def order_status(order: GatewayOrder, last_price: Decimal | None = None) -> bytes:
    remaining = order.qty - order.filled
    fields = (order.status, order.filled, remaining, order.avg_price, order.perm_id, 0, last_price or 0)
    return w.encode(w.ORDER_STATUS, order.order_id, *fields, order.client_id, "", 0)


def execution(req_id: int, done: Execution) -> list[bytes]:
    """The execution and its commission report (TWS sends the report right behind it)."""
    order = done.order
    values = {
        "reqId": req_id,
        "orderId": order.order_id,
        **contract(order.symbol),
        "execId": done.exec_id,
        "time": w.ib_time(done.time),
        "acctNumber": order.account,
        "exchange": "ISLAND",
        "side": "BOT" if order.action == "BUY" else "SLD",
        "shares": done.shares,
        "price": done.price,
        "permId": order.perm_id,
        "clientId": order.client_id,
        "liquidation": 0,
        "cumQty": order.filled,
        "avgPrice": order.avg_price,
        "orderRef": order.order_ref,
        "lastLiquidity": 2,
    }
    commission = w.encode(w.COMMISSION_REPORT, 1, done.exec_id, done.commission, "USD", "", "", "")
    return [w.laid_out(w.EXECUTION_DATA, w.EXECUTION_LAYOUT, values), commission]


def last_tick(req_id: int, price: Decimal) -> bytes:
    return w.encode(w.TICK_PRICE, 6, req_id, w.TICK_LAST, price, 100, 0)


def auction_ticks(req_id: int, value: Imbalance) -> list[bytes]:
    """Generic tick 225 (34 paired volume, 35 auction price, 36 imbalance) and 61 when there is one."""
    ticks = [
        w.encode(w.TICK_SIZE, 6, req_id, w.TICK_AUCTION_VOLUME, value.paired),
        w.encode(w.TICK_PRICE, 6, req_id, w.TICK_AUCTION_PRICE, value.price, 0, 0),
        w.encode(w.TICK_SIZE, 6, req_id, w.TICK_AUCTION_IMBALANCE, value.imbalance),
    ]
    if value.regulatory is not None:
        ticks.append(w.encode(w.TICK_SIZE, 6, req_id, w.TICK_REGULATORY_IMBALANCE, value.regulatory))
    return ticks


def bar_window(end_text: str, duration: str) -> tuple[datetime, datetime] | None:
    """``endDateTime`` (``20260105 20:45:00 UTC``, "" for now) and ``durationStr`` -> [start, end]; None if bad."""
    span = _DURATION.match(duration)
    if not end_text.strip():
        end = datetime.now(UTC)
    else:
        try:
            end = datetime.strptime(end_text.removesuffix(" UTC").strip(), "%Y%m%d %H:%M:%S").replace(tzinfo=UTC)
        except ValueError:
            return None
    if span is None:
        return None
    return end - timedelta(seconds=int(span.group(1)) * _UNIT_SECONDS[span.group(2)]), end


def historical_data(req_id: int, rows: list[BarRow], start: datetime, end: datetime, format_date: str) -> bytes:
    """All ``rows`` in one message; ``formatDate=2`` gives epoch seconds, 1 a UTC text time."""
    values: list[object] = []
    for ts, o, h, lo, c, v in rows:
        stamp = str(int(ts.timestamp())) if format_date == "2" else ts.strftime("%Y%m%d %H:%M:%S UTC")
        values += [stamp, o, h, lo, c, v, c, 1]
    return w.encode(w.HISTORICAL_DATA, req_id, w.ib_time(start), w.ib_time(end), len(rows), *values)
