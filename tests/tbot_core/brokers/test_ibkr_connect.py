"""A missing or silent IB gateway becomes a clear watchdog heartbeat failure and never hangs the caller.

No IB Gateway exists here: a closed port and a listening socket that never
speaks stand in for the two ways a gateway can be gone.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest

from tbot_core.brokers.base import OrderRequest
from tbot_core.brokers.errors import BrokerUnreachable
from tbot_core.brokers.ibkr import IbkrBroker
from tbot_core.brokers.ibkr_session import IbkrEndpoint
from tbot_core.errors import NetworkError

LIVENESS_BOUND = 60  # seconds: only "did it come back at all", never a speed check


def _endpoint(port: int, connect_timeout: float = 0.4) -> IbkrEndpoint:
    return IbkrEndpoint(
        host="127.0.0.1", port=port, client_id=7, account="DU123", connect_timeout=connect_timeout, request_timeout=0.4
    )


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # the kernel accepts connections; nobody ever answers the API handshake
    yield listener.getsockname()[1]
    listener.close()


def _outcome(call: Callable[[], object]) -> BaseException | None:
    """Run ``call`` in a thread like the engine would; fail the test if it never returns."""
    result: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
            result.append(None)
        except BaseException as exc:
            result.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(LIVENESS_BOUND)
    assert not worker.is_alive(), "the IBKR adapter hung"
    return result[0]


def test_closed_port_is_a_connection_refused_heartbeat_failure(closed_port: int) -> None:
    broker = IbkrBroker(_endpoint(closed_port))
    try:
        error = _outcome(broker.heartbeat)
    finally:
        broker.close()
    assert isinstance(error, BrokerUnreachable) and isinstance(error, NetworkError)
    assert error.heartbeat_failure and error.matrix_key == "broker_down"
    assert f"ibkr connect 127.0.0.1:{closed_port}: connection refused; heartbeat failed" in str(error)


def test_port_that_accepts_but_never_answers_times_out_at_the_configured_timeout(silent_port: int) -> None:
    broker = IbkrBroker(_endpoint(silent_port, connect_timeout=0.3))
    try:
        error = _outcome(broker.account)
    finally:
        broker.close()
    assert isinstance(error, BrokerUnreachable)
    assert f"ibkr connect 127.0.0.1:{silent_port}: no answer within 0.3 s; heartbeat failed" in str(error)


def test_every_operation_fails_the_same_clear_way_and_the_session_recovers_for_the_next_try(silent_port: int) -> None:
    broker = IbkrBroker(_endpoint(silent_port))
    try:
        calls = [
            broker.positions,
            broker.open_orders,
            lambda: broker.fills_since(None),
            lambda: broker.submit_order(OrderRequest("c-1", "AAPL", "buy", Decimal(1), "open")),
        ]
        errors = [_outcome(call) for call in calls]
    finally:
        broker.close()
    assert all(isinstance(e, BrokerUnreachable) and "no answer within 0.4 s" in str(e) for e in errors)


def test_close_is_safe_twice(closed_port: int) -> None:
    broker = IbkrBroker(_endpoint(closed_port))
    broker.close()
    broker.close()
