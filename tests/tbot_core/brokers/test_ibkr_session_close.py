"""Closing an IBKR session ends a call another thread is waiting in at once, and later calls fail cleanly.

The supervisor closes the feed while the engine may be inside a request; if that
request waited out its own timeout the engine would look stuck and the core
would be ended as unresponsive.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from tbot_core.brokers.errors import BrokerUnreachable
from tbot_core.brokers.ibkr_session import IbkrEndpoint, IbkrSession

LIVENESS_BOUND = 30  # seconds, well under the 120 s the call would otherwise wait: not a speed check


@pytest.fixture
def silent_port() -> Iterator[int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts, never answers the handshake
    yield listener.getsockname()[1]
    listener.close()


def test_close_ends_a_waiting_call_with_a_clear_error_and_later_calls_fail_the_same_way(silent_port: int) -> None:
    endpoint = IbkrEndpoint(
        "127.0.0.1", silent_port, client_id=4, account="DU1", connect_timeout=60, request_timeout=60
    )
    session = IbkrSession(endpoint, service="ibkr data")
    outcome: list[BaseException] = []
    started = threading.Event()

    def waiting_call() -> None:
        started.set()
        try:
            session.call("bars AAPL", lambda ib: ib.reqCurrentTimeAsync())
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=waiting_call, daemon=True)
    worker.start()
    started.wait(5)
    while not session._pending:  # the call is in flight (connecting to the silent port)
        threading.Event().wait(0.01)
    session.close()
    worker.join(LIVENESS_BOUND)
    assert not worker.is_alive(), "the waiting call outlived close()"
    [error] = outcome
    assert isinstance(error, BrokerUnreachable) and error.matrix_key == "feed_down"
    assert str(error).startswith("ibkr data bars AAPL: the session was closed")
    with pytest.raises(BrokerUnreachable, match="ibkr data current time: the session was closed"):
        session.heartbeat()
    session.close()  # still safe twice
