"""The TWS API wire format, as the local IB gateway (``tests.fakes.ib_gateway``) speaks it.

Written from the protocol as ib_async's client and decoder use it (not copied):

* Every message is a 4-byte big-endian length, then text fields each ended by
  ``\\0``; numbers travel as text, "no value" as the empty field.
* The client opens with ``API\\0`` and one framed ``v<min>..<max>`` range; the
  server answers one framed message of two fields, its version and the
  connection time.  Everything after that is messages whose first field is the
  message id.
* ``SERVER_VERSION`` 157 is the lowest ib_async 2.1 accepts: at that version an
  error has no advanced-reject field, an open order has no ``duration`` /
  ``postToAts`` tail and an execution no ``pendingPriceRevision``, which keeps
  the layouts below short.

Long outgoing messages (open order, execution, position) are laid out from
tuples of field names, filled from a dict with "" for every name not given.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal

SERVER_VERSION = 157
HANDSHAKE_PREFIX = b"API\0"
_LENGTH = struct.Struct(">I")
MAX_MESSAGE = 16 * 1024 * 1024

# Incoming request ids (client -> gateway).
REQ_MKT_DATA, CANCEL_MKT_DATA, PLACE_ORDER, CANCEL_ORDER, REQ_OPEN_ORDERS = 1, 2, 3, 4, 5
REQ_CONTRACT_DETAILS = 9
REQ_ACCOUNT_UPDATES, REQ_EXECUTIONS, REQ_IDS, REQ_AUTO_OPEN_ORDERS, REQ_ALL_OPEN_ORDERS = 6, 7, 8, 15, 16
REQ_MANAGED_ACCTS, REQ_HISTORICAL_DATA, CANCEL_HISTORICAL_DATA, REQ_CURRENT_TIME = 17, 20, 25, 49
REQ_MARKET_DATA_TYPE, REQ_POSITIONS, REQ_ACCOUNT_SUMMARY, CANCEL_ACCOUNT_SUMMARY = 59, 61, 62, 63
CANCEL_POSITIONS, START_API, REQ_ACCOUNT_UPDATES_MULTI, CANCEL_ACCOUNT_UPDATES_MULTI = 64, 71, 76, 77
REQ_COMPLETED_ORDERS = 99

# Outgoing message ids (gateway -> client).
TICK_PRICE, TICK_SIZE, ORDER_STATUS, ERR_MSG, OPEN_ORDER, ACCT_VALUE = 1, 2, 3, 4, 5, 6
CONTRACT_DATA, CONTRACT_DATA_END = 10, 52
NEXT_VALID_ID, EXECUTION_DATA, MANAGED_ACCTS, HISTORICAL_DATA, CURRENT_TIME = 9, 11, 15, 17, 49
OPEN_ORDER_END, ACCT_DOWNLOAD_END, EXECUTION_DATA_END, COMMISSION_REPORT = 53, 54, 55, 59
POSITION_DATA, POSITION_END, ACCOUNT_SUMMARY, ACCOUNT_SUMMARY_END = 61, 62, 63, 64
ACCOUNT_UPDATE_MULTI_END, COMPLETED_ORDERS_END = 74, 102

# Tick types of generic tick 225 (auction values) and the regulatory imbalance; 4 is "last".
TICK_LAST, TICK_AUCTION_VOLUME, TICK_AUCTION_PRICE, TICK_AUCTION_IMBALANCE, TICK_REGULATORY_IMBALANCE = (
    4,
    34,
    35,
    36,
    61,
)

CONTRACT = (
    "conId",
    "symbol",
    "secType",
    "lastTradeDateOrContractMonth",
    "strike",
    "right",
    "multiplier",
    "exchange",
    "currency",
    "localSymbol",
    "tradingClass",
)
# The contract as a client sends it: like CONTRACT with primaryExchange before currency.
CONTRACT_IN = (*CONTRACT[:8], "primaryExchange", *CONTRACT[8:])

OPEN_ORDER_LAYOUT = (
    "orderId",
    *CONTRACT,
    *("action", "totalQuantity", "orderType", "lmtPrice", "auxPrice", "tif", "ocaGroup", "account"),
    *("openClose", "origin", "orderRef", "clientId", "permId", "outsideRth", "hidden", "discretionaryAmt"),
    *("goodAfterTime", "sharesAllocation", "faGroup", "faMethod", "faPercentage", "faProfile", "modelCode"),
    *("goodTillDate", "rule80A", "percentOffset", "settlingFirm", "shortSaleSlot", "designatedLocation"),
    *("exemptCode", "auctionStrategy", "startingPrice", "stockRefPrice", "delta", "stockRangeLower"),
    *("stockRangeUpper", "displaySize", "blockOrder", "sweepToFill", "allOrNone", "minQty", "ocaType"),
    *("eTradeOnly", "firmQuoteOnly", "nbboPriceCap", "parentId", "triggerMethod", "volatility"),
    *("volatilityType", "deltaNeutralOrderType", "deltaNeutralAuxPrice", "continuousUpdate"),
    *("referencePriceType", "trailStopPrice", "trailingPercent", "basisPoints", "basisPointsType"),
    *("comboLegsDescrip", "numComboLegs", "numOrderComboLegs", "numSmartComboParams", "scaleInitLevelSize"),
    *("scaleSubsLevelSize", "scalePriceIncrement", "hedgeType", "optOutSmartRouting", "clearingAccount"),
    *("clearingIntent", "notHeld", "deltaNeutralContractPresent", "algoStrategy", "solicited", "whatIf"),
    *("status", "initMarginBefore", "maintMarginBefore", "equityWithLoanBefore", "initMarginChange"),
    *("maintMarginChange", "equityWithLoanChange", "initMarginAfter", "maintMarginAfter"),
    *("equityWithLoanAfter", "commission", "minCommission", "maxCommission", "commissionCurrency"),
    *("warningText", "randomizeSize", "randomizePrice", "numConditions", "adjustedOrderType", "triggerPrice"),
    *("trailStopPrice2", "lmtPriceOffset", "adjustedStopPrice", "adjustedStopLimitPrice"),
    *("adjustedTrailingAmount", "adjustableTrailingUnit", "softDollarTierName", "softDollarTierValue"),
    *("softDollarTierDisplayName", "cashQty", "dontUseAutoPriceForHedge", "isOmsContainer"),
    *("discretionaryUpToLimitPrice", "usePriceMgmtAlgo"),
)
OPEN_ORDER_DEFAULTS = {
    "numComboLegs": 0,
    "numOrderComboLegs": 0,
    "numSmartComboParams": 0,
    "deltaNeutralContractPresent": 0,
    "numConditions": 0,
    "whatIf": 0,
}

EXECUTION_LAYOUT = (
    "reqId",
    "orderId",
    *CONTRACT,
    *("execId", "time", "acctNumber", "exchange", "side", "shares", "price", "permId", "clientId"),
    *("liquidation", "cumQty", "avgPrice", "orderRef", "evRule", "evMultiplier", "modelCode", "lastLiquidity"),
)

POSITION_LAYOUT = ("version", "account", *CONTRACT, "position", "avgCost")

# contractDetails below server version 164 (with the obsolete mdSizeMultiplier).
CONTRACT_DETAILS_LAYOUT = (
    *("version", "reqId", "symbol", "secType", "lastTimes", "strike", "right", "exchange", "currency"),
    *("localSymbol", "marketName", "tradingClass", "conId", "minTick", "mdSizeMultiplier", "multiplier"),
    *("orderTypes", "validExchanges", "priceMagnifier", "underConId", "longName", "primaryExchange"),
    *("contractMonth", "industry", "category", "subcategory", "timeZoneId", "tradingHours", "liquidHours"),
    *("evRule", "evMultiplier", "numSecIds", "aggGroup", "underSymbol", "underSecType", "marketRuleIds"),
    *("realExpirationDate", "stockType"),
)

# placeOrder as a client sends it at SERVER_VERSION: message id, order id, the contract, then these.
PLACE_ORDER_FIELDS = (
    "msgId",
    "orderId",
    *CONTRACT_IN,
    *("secIdType", "secId", "action", "totalQuantity", "orderType", "lmtPrice", "auxPrice", "tif"),
    *("ocaGroup", "account", "openClose", "origin", "orderRef"),
)


def text(value: object) -> str:
    """One field's text: None is "no value", booleans are 1/0, Decimal and numbers as written."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def frame(payload: bytes) -> bytes:
    return _LENGTH.pack(len(payload)) + payload


def encode(*fields: object) -> bytes:
    """One framed message: every field as text, each ended by NUL."""
    return frame("".join(text(f) + "\0" for f in fields).encode())


def laid_out(
    msg_id: int, layout: Iterable[str], values: Mapping[str, object], defaults: Mapping[str, object] = {}
) -> bytes:
    """A message whose fields follow ``layout``; names missing from ``values`` are "no value"."""
    return encode(msg_id, *(values.get(name, defaults.get(name, "")) for name in layout))


def named(layout: tuple[str, ...], fields: list[str], start: int = 0) -> dict[str, str]:
    """The fields of an incoming message by name, from ``start`` on."""
    return dict(zip(layout, fields[start:], strict=False))


def ib_time(moment: datetime) -> str:
    """A time as TWS writes it with an explicit zone (``20260105 20:45:00 UTC``)."""
    return moment.astimezone(UTC).strftime("%Y%m%d %H:%M:%S UTC")


class Framer:
    """Cuts a byte stream into messages: the handshake first, then framed field lists."""

    def __init__(self) -> None:
        self._buffer = b""
        self.greeted = False

    def feed(self, data: bytes) -> Iterator[list[str]]:
        self._buffer += data
        if not self.greeted:
            if len(self._buffer) < len(HANDSHAKE_PREFIX):
                return
            if not self._buffer.startswith(HANDSHAKE_PREFIX):
                raise ValueError("expected the API\\0 handshake")
            self._buffer = self._buffer[len(HANDSHAKE_PREFIX) :]
            self.greeted = True
        while len(self._buffer) >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(self._buffer)
            if size > MAX_MESSAGE:
                raise ValueError(f"message of {size} bytes is over the limit")
            end = _LENGTH.size + size
            if len(self._buffer) < end:
                return
            payload, self._buffer = self._buffer[_LENGTH.size : end], self._buffer[end:]
            fields = payload.decode(errors="replace").split("\0")
            yield fields[:-1] if fields and fields[-1] == "" else fields


def version_range(fields: list[str]) -> tuple[int, int]:
    """``v157..178`` (maybe followed by connect options) -> (157, 178)."""
    head = fields[0].split(" ")[0] if fields else ""
    low, sep, high = head.removeprefix("v").partition("..")
    if not head.startswith("v") or not sep:
        raise ValueError(f"expected a version range like v157..178, got {head[:20]!r}")
    return int(low), int(high)
