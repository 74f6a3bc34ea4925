"""IB records built with ib_async's own data classes map to the broker interface exactly."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from ib_async import (
    AccountValue,
    CommissionReport,
    Execution,
    Fill,
    LimitOrder,
    MarketOrder,
    OrderStatus,
    Position,
    Stock,
    Trade,
    TradeLogEntry,
)

from tbot_core.brokers import ibkr_mapping as mapping
from tbot_core.brokers.ibkr_session import IbkrEndpoint
from tbot_core.config import Settings
from tbot_core.errors import BrokerError, ConfigError

T = datetime(2025, 7, 1, 19, 45, 3, tzinfo=UTC)
AAPL = Stock("AAPL", "SMART", "USD")


def _trade(status: str, filled: float = 0.0, avg: float = 0.0, order=None) -> Trade:
    order = order or MarketOrder("BUY", 10.0)
    order.orderId, order.orderRef = 42, "close|cid-7"
    return Trade(
        contract=AAPL,
        order=order,
        orderStatus=OrderStatus(orderId=42, status=status, filled=filled, remaining=10 - filled, avgFillPrice=avg),
        log=[TradeLogEntry(time=T, status="PendingSubmit")],
    )


def _fill(
    exec_id: str = "0000e0d5.6695a2b1.01.01",
    side: str = "BOT",
    commission: float = 1.0,
    report_for: str | None = None,
    price: float = 187.31,
) -> Fill:
    execution = Execution(
        execId=exec_id,
        time=T,
        acctNumber="DU123",
        side=side,
        shares=10.0,
        price=price,
        orderId=42,
        orderRef="close|cid-7",
    )
    report = CommissionReport(
        execId=exec_id if report_for is None else report_for, commission=commission, currency="USD"
    )
    return Fill(contract=AAPL, execution=execution, commissionReport=report, time=T)


@pytest.mark.parametrize(
    "status,filled,expected",
    [
        ("PendingSubmit", 0, "new"),
        ("PreSubmitted", 0, "new"),
        ("Submitted", 0, "accepted"),
        ("Submitted", 4, "partially_filled"),
        ("Filled", 10, "filled"),
        ("Cancelled", 0, "canceled"),
        ("ApiCancelled", 0, "canceled"),
        ("Inactive", 0, "rejected"),
    ],
)
def test_order_status_maps_to_the_interfaces_six(status: str, filled: float, expected: str) -> None:
    assert mapping.order(_trade(status, filled, 187.5 if filled else 0.0)).status == expected


def test_order_carries_strategy_client_id_and_exact_fill_price_from_order_ref() -> None:
    order = mapping.order(_trade("Filled", 10, 187.31))
    assert (order.order_id, order.strategy, order.client_order_id) == ("42", "close", "cid-7")
    assert order.filled_avg_price == Decimal("187.31") and order.qty == Decimal("10.0")
    assert order.submitted_utc == T and order.side == "buy"


def test_limit_sell_order_maps_side() -> None:
    assert mapping.order(_trade("Submitted", order=LimitOrder("SELL", 10.0, 190.0))).side == "sell"


def test_unknown_order_status_fails_closed() -> None:
    with pytest.raises(BrokerError, match="unknown status 'Weird'"):
        mapping.order(_trade("Weird"))


def test_order_ref_rejects_a_strategy_that_would_break_parsing() -> None:
    with pytest.raises(BrokerError, match="may not contain"):
        mapping.order_ref("a|b", "c")
    assert mapping.split_order_ref("manual-ref") == ("", "manual-ref")


def test_execution_with_commission_becomes_a_fill_keyed_by_exec_id() -> None:
    fill = mapping.fill(_fill(side="SLD", commission=1.0025))
    assert fill.fitid == "0000e0d5.6695a2b1.01.01" and fill.order_id == "42" and fill.strategy == "close"
    assert (fill.side, fill.qty, fill.price, fill.fee) == (
        "sell",
        Decimal("10.0"),
        Decimal("187.31"),
        Decimal("1.0025"),
    )
    assert fill.timestamp_utc == T


def test_execution_without_its_commission_report_is_not_booked_yet() -> None:
    early = _fill(report_for="")
    assert not mapping.has_commission(early)
    with pytest.raises(BrokerError, match="commission report not received yet"):
        mapping.fill(early)
    assert not mapping.has_commission(_fill(report_for="other-exec"))


@pytest.mark.parametrize("bad", [math.nan, 1.7976931348623157e308])
def test_unset_ib_numbers_are_refused_not_booked_as_zero(bad: float) -> None:
    with pytest.raises(BrokerError, match="price: no value reported"):
        mapping.fill(_fill(price=bad))


def test_ledger_fields_sign_cash_by_side_and_keep_the_commission_as_fee() -> None:
    buy = mapping.ledger_fields(_fill(side="BOT", commission=1.0))
    sell = mapping.ledger_fields(_fill(exec_id="x.2", side="SLD", commission=1.0))
    assert (
        buy["fitid"] == "0000e0d5.6695a2b1.01.01"
        and buy["amount"] == Decimal("-1873.10")
        and buy["fee"] == Decimal("1.0")
    )
    assert sell["amount"] == Decimal("1873.10") and sell["side"] == "sell"


def test_account_summary_tags_become_decimal_amounts() -> None:
    values = [
        AccountValue("DU123", "TotalCashValue", "25000.55", "USD", ""),
        AccountValue("DU123", "NetLiquidation", "31000.10", "USD", ""),
        AccountValue("DU123", "BuyingPower", "124000.40", "USD", ""),
        AccountValue("DU123", "TotalCashValue", "1.00", "EUR", ""),
    ]
    account = mapping.account(values)
    assert (account.cash, account.equity, account.buying_power) == (
        Decimal("25000.55"),
        Decimal("31000.10"),
        Decimal("124000.40"),
    )


def test_account_summary_missing_a_tag_names_it() -> None:
    with pytest.raises(BrokerError, match="tag BuyingPower in USD missing"):
        mapping.account(
            [
                AccountValue("DU1", "TotalCashValue", "1", "USD", ""),
                AccountValue("DU1", "NetLiquidation", "1", "USD", ""),
            ]
        )


def test_position_maps_quantity_and_average_cost() -> None:
    pos = mapping.position(Position("DU123", AAPL, -5.0, 180.125))
    assert (pos.symbol, pos.qty, pos.avg_price) == ("AAPL", Decimal("-5.0"), Decimal("180.125"))


def test_endpoint_takes_config_defaults_and_secret_overrides() -> None:
    settings = Settings()
    plain = IbkrEndpoint.from_secret({"account": "DU123"}, settings)
    assert (plain.host, plain.port, plain.client_id) == ("127.0.0.1", 7497, 1)
    custom = IbkrEndpoint.from_secret(
        {"account": "DU123", "host": "gw", "port": "4002", "client_id": 9}, settings, client_id_offset=1
    )
    assert (custom.host, custom.port, custom.client_id) == ("gw", 4002, 10)
    with pytest.raises(ConfigError, match="broker_ibkr: expected a non-empty text field account"):
        IbkrEndpoint.from_secret({}, settings)
    with pytest.raises(ConfigError, match="port 70000 is outside"):
        IbkrEndpoint.from_secret({"account": "DU123", "port": 70000}, settings)
