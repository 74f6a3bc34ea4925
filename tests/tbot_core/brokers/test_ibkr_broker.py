"""TradeBot's ``IbkrBroker`` (real ib_async) against the local TWS-protocol gateway: reads, orders, fills, refusals."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tbot_core.audit import AuditLog
from tbot_core.brokers.base import OrderRequest
from tbot_core.brokers.ibkr import IbkrBroker
from tbot_core.context import CoreContext, Matrix
from tbot_core.control import read_flags
from tbot_core.errors import BrokerError, NetworkError
from tbot_core.ledger.sync import ingest_activities
from tbot_core.safety.error_handler import ErrorHandler
from tbot_core.safety.escalation import Action
from tbot_core.syslog import SystemLog
from tests.fakes.ib_gateway import IbGateway
from tests.tbot_core.brokers.ibkr_kit import endpoint


@pytest.fixture
def gw() -> Iterator[IbGateway]:
    with IbGateway() as gateway:
        yield gateway


@pytest.fixture
def broker(gw: IbGateway) -> Iterator[IbkrBroker]:
    adapter = IbkrBroker(endpoint(gw))
    yield adapter
    adapter.close()


def test_account_and_positions_arrive_as_exact_decimals(gw: IbGateway, broker: IbkrBroker) -> None:
    gw.state.cash = Decimal("25000.10")
    gw.state.positions["AAPL"] = (Decimal(10), Decimal("150.55"))
    account = broker.account()
    assert (account.cash, account.equity, account.buying_power) == (
        Decimal("25000.10"),
        Decimal("26872.60"),  # cash + 10 x 187.25
        Decimal("25000.10"),
    )
    assert account.extra == {"account_type": "INDIVIDUAL"}
    [position] = broker.positions()
    assert (position.symbol, position.qty, position.avg_price) == ("AAPL", Decimal(10), Decimal("150.55"))


def test_an_order_that_fills_after_submitted_is_announced_once_through_fills_waiting(
    gw: IbGateway, broker: IbkrBroker
) -> None:
    """IB answers "Submitted" first and reports the execution later: the engine must hear of it before its next bar."""
    from tbot_core.runtime.engine_books import StreamsFills

    assert isinstance(broker, StreamsFills)  # what makes the engine ask before each bar
    gw.state.hold_orders = True
    order = broker.submit_order(OrderRequest("mid-AAPL-buy-2", "AAPL", "buy", Decimal(10), "mid"))
    assert order.status != "filled" and broker.fills_waiting() is False
    gw.state.hold_orders = False
    gw.set_price("AAPL", "188.00")  # the resting order fills now
    deadline = time.monotonic() + 10
    while not broker.fills_waiting():
        assert time.monotonic() < deadline, "the execution was never announced"
        time.sleep(0.02)
    assert broker.fills_waiting() is False  # once per batch of news
    [fill] = broker.fills_since(None)
    assert (fill.qty, fill.price, fill.fee) == (Decimal(10), Decimal("188.00"), Decimal("1.00"))


def test_a_market_order_comes_back_filled_and_its_execution_is_a_fill_with_the_commission_as_fee(
    gw: IbGateway, broker: IbkrBroker
) -> None:
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    order = broker.submit_order(OrderRequest("mid-AAPL-buy-1", "AAPL", "buy", Decimal(300), "mid"))
    assert (order.status, order.filled_qty, order.filled_avg_price) == ("filled", Decimal(300), Decimal("187.25"))
    assert (order.strategy, order.client_order_id) == ("mid", "mid-AAPL-buy-1")
    [execution] = gw.state.executions
    assert execution.order.order_ref == "mid|mid-AAPL-buy-1"  # the strategy and client id travel in orderRef

    [fill] = broker.fills_since(before)
    assert fill.fitid == execution.exec_id and fill.order_id == order.order_id
    assert (fill.side, fill.qty, fill.price, fill.fee, fill.strategy) == (
        "buy",
        Decimal(300),
        Decimal("187.25"),
        Decimal("1.5"),  # 300 x 0.005
        "mid",
    )
    assert broker.fills_since(fill.timestamp_utc) == [fill]  # at or after: IB stamps to the second
    assert broker.fills_since(fill.timestamp_utc + timedelta(seconds=1)) == []

    [activity] = broker.fetch_activities(None)
    assert (activity.fitid, activity.type, activity.amount, activity.fee) == (
        execution.exec_id,
        "FILL",
        Decimal("-56175.00"),
        Decimal("1.5"),
    )
    assert all(isinstance(v, Decimal) for v in (activity.qty, activity.price, activity.amount, activity.fee))


def test_a_fresh_session_reads_executions_made_by_another_with_their_commissions(gw: IbGateway) -> None:
    """``tbot ledger sync`` runs in its own process: it never saw the fills live."""
    first = IbkrBroker(endpoint(gw, client_id=1))
    try:
        first.submit_order(OrderRequest("c-1", "SPY", "buy", Decimal(2), "open"))
        first.submit_order(OrderRequest("c-2", "SPY", "sell", Decimal(1), "open"))
    finally:
        first.close()
    later = IbkrBroker(endpoint(gw, client_id=2))
    try:
        fills = later.fills_since(None)
    finally:
        later.close()
    assert [(f.side, f.qty, f.fee) for f in fills] == [
        ("buy", Decimal(2), Decimal("1")),
        ("sell", Decimal(1), Decimal("1")),
    ]


def test_a_limit_order_rests_shows_in_open_orders_and_is_canceled(gw: IbGateway, broker: IbkrBroker) -> None:
    order = broker.submit_order(OrderRequest("c-9", "SPY", "buy", Decimal(1), "mid", limit_price=Decimal("400")))
    assert order.status == "accepted"
    assert [o.order_id for o in broker.open_orders()] == [order.order_id]
    broker.cancel_order(order.order_id)
    assert broker.open_orders() == []  # a round trip on the same socket: the cancel was handled before it
    assert gw.state.orders[int(order.order_id)].status == "Cancelled"
    with pytest.raises(BrokerError, match="order 999: not known to this session"):
        broker.cancel_order("999")


def test_a_201_rejection_is_a_broker_error_with_its_code_and_ib_text(gw: IbGateway, broker: IbkrBroker) -> None:
    gw.reject_next_order(201, "Order rejected - reason:YOUR ORDER IS NOT ACCEPTED. NO TRADING PERMISSIONS")
    with pytest.raises(BrokerError) as caught:
        broker.submit_order(OrderRequest("c-1", "AAPL", "buy", Decimal(1), "mid"))
    assert not isinstance(caught.value, NetworkError) and caught.value.code == "201"
    assert "IB error 201" in str(caught.value) and "NO TRADING PERMISSIONS" in str(caught.value)
    assert gw.state.executions == []
    assert broker.submit_order(OrderRequest("c-2", "AAPL", "buy", Decimal(1), "mid")).status == "filled"


def _handler(bot_home, retry_limit: int) -> ErrorHandler:
    settings = bot_home.settings.with_values({"API_RETRY_LIMIT": str(retry_limit)})
    paths, ident = bot_home.paths, bot_home.identity
    syslog = SystemLog(paths.system_log(ident.BOT_IDENTITY, settings.log_format), settings.log_format)
    ctx = CoreContext(paths, settings, ident, syslog, AuditLog(paths.audit_db), Matrix())
    return ErrorHandler(ctx, broker_code="IBKR", rng=random.Random(3))


def test_a_refused_entry_is_logged_and_skipped_but_a_refused_exit_is_retried_then_trips_the_kill_switch(
    gw: IbGateway, broker: IbkrBroker, bot_home
) -> None:
    handler = _handler(bot_home, retry_limit=1)
    gw.reject_next_order()
    with pytest.raises(BrokerError) as entry:
        broker.submit_order(OrderRequest("mid-AAPL-buy-1", "AAPL", "buy", Decimal(1), "mid"))
    assert handler.handle(entry.value, where="order_submit", strategy="mid", order=True) is Action.LOG
    logged = json.loads(handler.path.read_text().splitlines()[-1])
    assert (logged["error_type"], logged["error_code"], logged["broker"]) == ("BrokerError", "201", "IBKR")
    assert read_flags(bot_home.paths)[0] == []

    gw.reject_next_order()
    gw.reject_next_order()
    exit_ = OrderRequest("close-AAPL-sell-1", "AAPL", "sell", Decimal(1), "close")
    with pytest.raises(BrokerError) as caught:
        handler.retry(
            lambda: broker.submit_order(exit_), what="submit exit", where="order_submit_exposed", wait=lambda _d: False
        )
    assert gw.count(3) == 3  # placeOrder: the refused entry, the exit and its one retry
    action = handler.handle(caught.value, where="order_submit_exposed", strategy="close", order=True)
    assert action is Action.KILL_SWITCH
    flags, _ = read_flags(bot_home.paths)
    assert [(f.flag, f.source) for f in flags] == [("kill", "system")]
    assert "BrokerError (201) at order_submit_exposed after retries" in flags[0].reason


def test_fills_reach_the_ledger_once_with_execution_ids_as_fitids(gw: IbGateway, broker: IbkrBroker, bot_home) -> None:
    broker.submit_order(OrderRequest("c-1", "AAPL", "buy", Decimal(4), "open"))
    broker.submit_order(OrderRequest("c-2", "AAPL", "sell", Decimal(4), "open"))

    def sync(run: str):
        return ingest_activities(
            bot_home.paths.ledger_db,
            broker.code,
            broker.fetch_activities(None),
            sync_run_id=run,
            caller="system",
            audit=bot_home.audit(),
        )

    first = sync("ibkr-1")
    assert (first.commit_state, first.posted) == ("committed", 2)
    again = sync("ibkr-2")
    assert (again.posted, again.skipped_known) == (0, 2)
    assert {a.fitid for a in broker.fetch_activities(None)} == {e.exec_id for e in gw.state.executions}
