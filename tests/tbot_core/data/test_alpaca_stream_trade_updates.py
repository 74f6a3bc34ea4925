"""Trade updates: alpaca-py's real ``TradingStream`` (JSON) against the local stream server, fed by the fake's fills."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest

from tbot_core.brokers.alpaca import AlpacaBroker
from tbot_core.brokers.alpaca_common import AlpacaCredentials
from tbot_core.brokers.base import OrderRequest
from tests.fakes.alpaca_server import API_KEY, SECRET_KEY, FakeAlpaca
from tests.fakes.alpaca_stream_server import FakeAlpacaStream

CREDS = AlpacaCredentials.from_mapping({"api_key": API_KEY, "secret_key": SECRET_KEY})


@pytest.fixture
def servers() -> Iterator[tuple[FakeAlpaca, FakeAlpacaStream]]:
    with FakeAlpaca() as rest, FakeAlpacaStream() as streams:
        rest.state.fill_listeners.append(
            lambda order: streams.push_trade_update(
                "fill", order, price=order["filled_avg_price"], qty=order["filled_qty"], position_qty=order["qty"]
            )
        )
        yield rest, streams


def _eventually(check: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _broker(rest: FakeAlpaca, streams: FakeAlpacaStream) -> AlpacaBroker:
    return AlpacaBroker(CREDS, url_override=rest.url, trade_updates=True, trading_stream_url=streams.trading_url)


def test_a_fill_is_announced_by_its_trade_update_and_read_through_fills_since(servers) -> None:
    rest, streams = servers
    broker = _broker(rest, streams)
    try:
        assert broker.fills_waiting() is False  # the first question starts the listener
        streams.wait_until("the client listening to trade_updates", lambda s: s.listening())
        order = broker.submit_order(OrderRequest("mid-AAPL-buy-1", "AAPL", "buy", Decimal(3), "mid"))
        _eventually(broker.fills_waiting, "the fill's trade update")
        assert broker.fills_waiting() is False  # told once per batch of news
        fills = broker.fills_since(None)  # the books' source of truth is still the activities
        assert [(f.order_id, f.qty, f.strategy) for f in fills] == [(order.order_id, Decimal(3), "mid")]
        assert broker.updates is not None and broker.updates.recent[-1] == ("fill", order.order_id, "AAPL")
    finally:
        assert broker.updates is not None
        broker.updates.close()


def test_updates_that_are_not_fills_raise_no_flag(servers) -> None:
    rest, streams = servers
    rest.state.hold_orders = True
    broker = _broker(rest, streams)
    try:
        broker.fills_waiting()
        streams.wait_until("listening", lambda s: s.listening())
        order = broker.submit_order(OrderRequest("mid-SPY-buy-1", "SPY", "buy", Decimal(1), "mid"))
        streams.push_trade_update("new", rest.state.orders[order.order_id])
        assert broker.updates is not None
        _eventually(lambda: bool(broker.updates and broker.updates.recent), "the 'new' update")
        assert broker.fills_waiting() is False
        rest.fill_held(order.order_id)  # it fills later: now the flag goes up
        _eventually(broker.fills_waiting, "the later fill's update")
    finally:
        assert broker.updates is not None
        broker.updates.close()


def test_after_a_dropped_connection_the_listener_reconnects_and_hears_the_next_fill(servers) -> None:
    rest, streams = servers
    broker = _broker(rest, streams)
    updates = broker.updates
    assert updates is not None
    try:
        broker.fills_waiting()
        streams.wait_until("listening", lambda s: s.listening())
        assert streams.drop_connections() == 1
        streams.wait_until("a second connection", lambda s: s.connections["trading"] == 2 and s.listening())
        _eventually(updates.connected, "the client to see itself connected")
        broker.submit_order(OrderRequest("mid-AAPL-buy-2", "AAPL", "buy", Decimal(1), "mid"))
        _eventually(broker.fills_waiting, "the fill after the reconnect")
        assert updates.connects == 2
    finally:
        updates.close()
    assert not updates.connected()


def test_wrong_keys_are_refused_and_no_flag_is_ever_raised(servers) -> None:
    rest, streams = servers
    wrong = AlpacaCredentials.from_mapping({"api_key": "PKWRONG", "secret_key": "wrongsecret"})
    broker = AlpacaBroker(wrong, url_override=rest.url, trade_updates=True, trading_stream_url=streams.trading_url)
    try:
        broker.fills_waiting()
        streams.wait_until("a refused login", lambda s: s.auth_failures >= 1)
        assert broker.updates is not None and not broker.updates.connected()
        assert broker.fills_waiting() is False
    finally:
        assert broker.updates is not None
        broker.updates.close()


def test_poll_mode_opens_no_stream() -> None:
    broker = AlpacaBroker(CREDS, url_override="http://127.0.0.1:9", trade_updates=False)
    assert broker.updates is None and broker.fills_waiting() is False
