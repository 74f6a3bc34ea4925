"""The local IB gateway speaks the TWS API as ib_async itself understands it: a plain client trades against it.

This is the README's example: start ``python -m tests.fakes.ib_gateway --port N``,
connect with ``ib_async``, read positions, place an order that fills.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from ib_async import IB, LimitOrder, MarketOrder, Stock

from tests.fakes import ib_wire
from tests.fakes.ib_gateway import ACCOUNT, IbGateway

REPO = Path(__file__).resolve().parents[3]


def _until(ib: IB, done: Callable[[], bool], bound: float = 30.0) -> None:
    """Run the client's loop until ``done()``; the bound is only a liveness guard."""
    deadline = time.monotonic() + bound
    while not done():
        assert time.monotonic() < deadline, "the gateway never answered"
        ib.sleep(0.02)


@pytest.fixture
def gateway_process() -> Iterator[int]:
    """The gateway started by hand, as documented; yields the port it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.ib_gateway", "--port", "0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("ib gateway listening on 127.0.0.1:"), line + (proc.stderr.read() if proc.stderr else "")
        yield int(line.split("127.0.0.1:")[1].split()[0])
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_plain_ib_async_client_reads_positions_and_its_market_order_fills(gateway_process: int) -> None:
    ib = IB()
    ib.connect("127.0.0.1", gateway_process, clientId=11, timeout=10)
    try:
        assert ib.managedAccounts() == [ACCOUNT]
        assert ib.positions() == []
        trade = ib.placeOrder(Stock("AAPL", "SMART", "USD"), MarketOrder("BUY", 10))
        _until(ib, trade.isDone)
        assert trade.orderStatus.status == "Filled" and trade.orderStatus.avgFillPrice == 187.25
        [fill] = trade.fills
        assert fill.execution.side == "BOT" and fill.execution.shares == 10
        _until(ib, lambda: fill.commissionReport.commission > 0)  # the report rides right behind the execution
        assert fill.commissionReport.commission == 1.0
        [position] = ib.reqPositions()
        assert (position.contract.symbol, position.position, position.avgCost) == ("AAPL", 10.0, 187.25)
    finally:
        ib.disconnect()


def test_a_limit_order_rests_until_the_price_reaches_it_and_a_cancel_ends_another() -> None:
    with IbGateway() as gw:
        ib = IB()
        ib.connect("127.0.0.1", gw.port, clientId=12, timeout=10)
        try:
            resting = ib.placeOrder(Stock("SPY", "SMART", "USD"), LimitOrder("BUY", 2, 500))
            other = ib.placeOrder(Stock("SPY", "SMART", "USD"), LimitOrder("BUY", 1, 400))
            ib.sleep(0.2)
            assert {t.order.orderId for t in ib.reqAllOpenOrders()} == {resting.order.orderId, other.order.orderId}
            gw.set_price("SPY", "499.50")
            ib.cancelOrder(other.order)
            _until(ib, lambda: resting.isDone() and other.isDone())
            assert (resting.orderStatus.status, resting.orderStatus.avgFillPrice) == ("Filled", 499.5)
            assert other.orderStatus.status == "Cancelled"
            assert ib.reqAllOpenOrders() == []
        finally:
            ib.disconnect()
    assert gw.state.positions == {"SPY": (Decimal(2), Decimal("499.50"))}
    assert gw.state.cash == Decimal("100000.00") - Decimal("999.00") - Decimal("1.00")


def test_a_second_connection_with_a_client_id_in_use_is_refused_like_tws_does() -> None:
    with IbGateway() as gw:
        first, second = IB(), IB()
        first.connect("127.0.0.1", gw.port, clientId=5, timeout=10)
        try:
            with pytest.raises((ConnectionError, TimeoutError)):
                second.connect("127.0.0.1", gw.port, clientId=5, timeout=1)
            assert first.isConnected() and gw.clients() == [5]
        finally:
            first.disconnect()
            second.disconnect()


def test_the_wire_frames_split_across_reads_and_a_bad_greeting_is_refused() -> None:
    message = ib_wire.encode(49, 1)
    framer = ib_wire.Framer()
    stream = ib_wire.HANDSHAKE_PREFIX + ib_wire.frame(b"v157..178") + message
    got = [fields for i in range(len(stream)) for fields in framer.feed(stream[i : i + 1])]
    assert got == [["v157..178"], ["49", "1"]]
    assert ib_wire.version_range(["v157..178 +PACEAPI"]) == (157, 178)
    with pytest.raises(ValueError, match="API"):
        list(ib_wire.Framer().feed(b"GET / HTTP/1.1\r\n"))
