"""The paper broker: slippage and commission, long only, idempotent client ids, resting limits, persistence."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tbot_core.bars import Bar
from tbot_core.brokers.base import OrderRequest
from tbot_core.brokers.paper import PaperBroker
from tbot_core.config import Settings
from tbot_core.core_store import CoreStore
from tbot_core.errors import BrokerError

TS = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)


def _broker(tmp_path, **values):
    settings = Settings().with_values(
        {"PAPER_SLIPPAGE_BPS": "10", "PAPER_COMMISSION_PER_SHARE": "0.01", "PAPER_COMMISSION_MIN": "1.00", **values}
    )
    store = CoreStore(tmp_path / "core.db")
    broker = PaperBroker(store, settings)
    broker.on_bar(Bar(TS, "SPY", 100, 100.5, 99.5, 100, 1000), 10000, "2026-01-05T14:30:00.000000Z")
    return broker, store, settings


def test_market_buy_fills_with_slippage_and_minimum_commission(tmp_path):
    broker, _, _ = _broker(tmp_path)
    order = broker.submit_order(OrderRequest("c1", "SPY", "buy", Decimal(10), "mid"))
    assert order.status == "filled" and order.filled_avg_price == Decimal("100.10")  # +10 bps
    assert broker.account().cash == Decimal("100000.00") - Decimal("1001.00") - Decimal("1.00")


def test_resubmitting_the_same_client_order_id_does_not_trade_twice(tmp_path):
    broker, store, _ = _broker(tmp_path)
    first = broker.submit_order(OrderRequest("same", "SPY", "buy", Decimal(5), "mid"))
    again = broker.submit_order(OrderRequest("same", "SPY", "buy", Decimal(5), "mid"))
    assert first.order_id == again.order_id
    assert store.query("SELECT count(*) FROM paper_fills")[0][0] == 1


def test_selling_more_than_held_is_refused_and_recorded_rejected(tmp_path):
    broker, store, _ = _broker(tmp_path)
    with pytest.raises(BrokerError, match="exceeds the position"):
        broker.submit_order(OrderRequest("s1", "SPY", "sell", Decimal(1), "mid"))
    assert store.query("SELECT status FROM paper_orders")[0][0] == "rejected"


def test_resting_limit_order_is_cancelled_by_cancel_all(tmp_path):
    broker, _, _ = _broker(tmp_path)
    broker.submit_order(OrderRequest("l1", "SPY", "buy", Decimal(1), "mid", limit_price=Decimal("90")))
    assert len(broker.open_orders()) == 1
    assert broker.cancel_all() == 1 and broker.open_orders() == []


def test_cash_and_positions_survive_reopening_the_database(tmp_path):
    broker, store, settings = _broker(tmp_path)
    broker.submit_order(OrderRequest("c1", "SPY", "buy", Decimal(3), "mid"))
    cash = broker.account().cash
    store.close()
    reopened = PaperBroker(CoreStore(tmp_path / "core.db"), settings)
    assert reopened.account().cash == cash
    assert [(p.symbol, p.qty) for p in reopened.positions()] == [("SPY", Decimal(3))]
