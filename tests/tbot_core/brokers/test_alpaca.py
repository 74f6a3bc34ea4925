"""The Alpaca adapter drives the real alpaca-py ``TradingClient`` against a local fake Alpaca."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tbot_core.brokers.alpaca import ACTIVITY_PAGE_SIZE, AlpacaBroker
from tbot_core.brokers.alpaca_common import AlpacaCredentials
from tbot_core.brokers.base import OrderRequest
from tbot_core.errors import BrokerError
from tests.fakes.alpaca_server import API_KEY, SECRET_KEY, FakeAlpaca


@pytest.fixture
def fake():
    with FakeAlpaca() as server:
        yield server


@pytest.fixture
def broker(fake: FakeAlpaca) -> AlpacaBroker:
    creds = AlpacaCredentials.from_mapping({"api_key": API_KEY, "secret_key": SECRET_KEY})
    return AlpacaBroker(creds, paper=True, url_override=fake.url, timeout_seconds=5)


def _buy(qty: str = "10", symbol: str = "AAPL", limit: str | None = None, coid: str = "c-1") -> OrderRequest:
    return OrderRequest(
        client_order_id=coid,
        symbol=symbol,
        side="buy",
        qty=Decimal(qty),
        strategy="open",
        limit_price=Decimal(limit) if limit else None,
    )


def test_account_amounts_arrive_as_exact_decimals(broker: AlpacaBroker) -> None:
    account = broker.account()
    assert account.cash == Decimal("100000.00") and isinstance(account.cash, Decimal)
    assert account.buying_power == Decimal("200000.00")
    assert account.extra["status"] == "ACTIVE"


def test_market_order_fills_and_shows_up_in_positions_status_and_fills(broker: AlpacaBroker, fake: FakeAlpaca) -> None:
    order = broker.submit_order(_buy("10"))
    assert order.status == "filled" and order.strategy == "open" and order.client_order_id == "c-1"
    assert order.filled_avg_price == Decimal("187.25") and order.filled_qty == Decimal("10")
    sent = [r for r in fake.requests if r.method == "POST"]
    assert len(sent) == 1
    [position] = broker.positions()
    assert (position.symbol, position.qty, position.avg_price) == ("AAPL", Decimal("10"), Decimal("187.25"))
    assert broker.order_status(order.order_id).status == "filled"
    [fill] = broker.fills_since(None)
    assert fill.order_id == order.order_id and fill.strategy == "open"
    assert (fill.qty, fill.price, fill.side) == (Decimal("10"), Decimal("187.25"), "buy")
    assert fill.fitid == fake.state.activities[0]["id"]
    assert broker.account().cash == Decimal("100000.00") - Decimal("1872.50")


def test_limit_order_can_be_listed_open_and_cancelled(broker: AlpacaBroker, fake: FakeAlpaca) -> None:
    fake.state.hold_orders = True
    order = broker.submit_order(_buy("3", limit="150.5"))
    assert order.status == "accepted"
    assert [o.order_id for o in broker.open_orders()] == [order.order_id]
    assert broker.cancel_all() == 1
    assert broker.order_status(order.order_id).status == "canceled"
    assert broker.open_orders() == []


def test_cancelling_a_filled_order_is_a_broker_refusal_naming_the_order(broker: AlpacaBroker) -> None:
    order = broker.submit_order(_buy())
    with pytest.raises(BrokerError, match=rf"cancel order {order.order_id}: HTTP 422: .*filled"):
        broker.cancel_order(order.order_id)


def test_unknown_symbol_is_refused_with_the_brokers_reason(broker: AlpacaBroker) -> None:
    with pytest.raises(BrokerError, match=r'HTTP 422: asset "ZZZZ" not found'):
        broker.submit_order(_buy(symbol="ZZZZ"))


def test_activities_follow_page_tokens_until_the_last_short_page(broker: AlpacaBroker, fake: FakeAlpaca) -> None:
    made = [fake.add_activity("DIV", f"{i}.25", symbol="AAPL") for i in range(ACTIVITY_PAGE_SIZE * 2 + 5)]
    got = list(broker.raw_activities(None))
    assert [a["id"] for a in got] == [a["id"] for a in made]
    calls = [r for r in fake.requests if r.path == "/v2/account/activities"]
    assert len(calls) == 3
    assert "page_token" not in calls[0].query and calls[1].query["page_token"] == made[ACTIVITY_PAGE_SIZE - 1]["id"]


def test_activities_after_since_are_the_only_ones_returned(broker: AlpacaBroker, fake: FakeAlpaca) -> None:
    fake.add_activity("CSD", "5000", day="2025-01-02")
    late = fake.add_activity("FEE", "-1.50", day="2025-03-04")
    got = list(broker.raw_activities(datetime(2025, 2, 1, tzinfo=UTC)))
    assert [a["id"] for a in got] == [late["id"]]


def test_a_server_that_repeats_the_same_page_is_stopped_not_looped(broker: AlpacaBroker, fake: FakeAlpaca) -> None:
    for _ in range(ACTIVITY_PAGE_SIZE):
        fake.add_activity("DIV", "1")
    original = fake.handle

    def ignore_page_token(method: str, path: str, query: dict[str, str], body: Any, headers: Any) -> tuple[int, Any]:
        query.pop("page_token", None)
        return original(method, path, query, body, headers)

    fake.handle = ignore_page_token  # type: ignore[method-assign]  # a server that ignores page_token
    with pytest.raises(BrokerError, match="paging did not advance"):
        list(broker.raw_activities(None))


def test_ledger_activities_carry_the_alpaca_id_as_fitid_and_signed_amounts(
    broker: AlpacaBroker, fake: FakeAlpaca
) -> None:
    pytest.importorskip("tbot_core.ledger.activity")
    broker.submit_order(_buy("2"))
    div = fake.add_activity("DIV", "3.10", day="2030-01-02", symbol="AAPL", qty="2", per_share_amount="1.55")
    fill_row, div_row = broker.fetch_activities(None)
    assert fill_row.fitid == fake.state.activities[0]["id"] and fill_row.type == "FILL"
    assert fill_row.amount == Decimal("-374.50") and fill_row.qty == Decimal("2")
    assert div_row.fitid == div["id"] and div_row.type == "DIVIDEND" and div_row.amount == Decimal("3.10")
