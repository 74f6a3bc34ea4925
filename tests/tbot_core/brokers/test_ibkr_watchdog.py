"""The watchdog's broker heartbeat over IBKR: a real ``reqCurrentTime`` to the gateway, and IB's own outage codes.

1100 (IB lost its servers while our socket stays up) suspends the broker and 1102
resumes it; a dropped socket is reconnected on the next probe; a gateway that
refuses connections keeps the broker suspended (probed with backoff) until it
takes them again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from tbot_core.brokers.errors import BrokerUnreachable
from tbot_core.brokers.ibkr import IbkrBroker
from tbot_core.safety.watchdog_bot import Watchdog
from tbot_core.state_schema import BeatState
from tests.fakes import ib_wire
from tests.fakes.ib_gateway import IbGateway
from tests.tbot_core.brokers.ibkr_kit import endpoint


@pytest.fixture
def gw() -> Iterator[IbGateway]:
    with IbGateway() as gateway:
        yield gateway


@pytest.fixture
def broker(gw: IbGateway) -> Iterator[IbkrBroker]:
    adapter = IbkrBroker(endpoint(gw, timeout=2))
    yield adapter
    adapter.close()


def _wait(predicate: Callable[[], object], what: str, bound: float = 20.0) -> None:
    deadline = time.monotonic() + bound
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


class Events:
    def __init__(self) -> None:
        self.down: list[str] = []
        self.up: list[str] = []


def _watchdog(bot_home, broker: IbkrBroker, events: Events) -> Watchdog:
    settings = bot_home.settings.with_values(
        {
            "WATCHDOG_INTERVAL_SECONDS": "0.05",
            "WATCHDOG_BROKER_TIMEOUT_SECONDS": "0.2",
            "WATCHDOG_FEED_TIMEOUT_SECONDS": "60",
        }
    )
    return Watchdog(
        settings,
        broker=lambda: broker,
        feed=lambda: None,
        on_broker_down=events.down.append,
        on_broker_up=events.up.append,
        on_feed_down=lambda _cause: None,
    )


def test_the_heartbeat_is_a_real_current_time_request_to_the_gateway(gw: IbGateway, broker: IbkrBroker) -> None:
    broker.heartbeat()
    broker.heartbeat()
    assert gw.count(ib_wire.REQ_CURRENT_TIME) == 2


def test_1100_fails_the_heartbeat_with_its_code_until_1102_restores_it(gw: IbGateway, broker: IbkrBroker) -> None:
    broker.heartbeat()
    gw.send_error(1100)
    _wait(lambda: broker._session.connectivity_lost is not None, "the 1100 notice")
    with pytest.raises(BrokerUnreachable) as caught:
        broker.heartbeat()
    assert caught.value.code == "1100" and caught.value.matrix_key == "broker_down"
    assert "connectivity lost" in str(caught.value) and "has been lost" in str(caught.value)
    gw.send_error(1102)
    _wait(lambda: broker._session.connectivity_lost is None, "the 1102 notice")
    broker.heartbeat()


def test_the_watchdog_suspends_the_broker_on_1100_and_resumes_it_on_1102(
    gw: IbGateway, broker: IbkrBroker, bot_home
) -> None:
    events = Events()
    dog = _watchdog(bot_home, broker, events)
    dog.start()
    try:
        _wait(lambda: gw.count(ib_wire.REQ_CURRENT_TIME) >= 2, "the watchdog's first probes")
        assert events.down == []
        gw.send_error(1100)
        _wait(lambda: events.down, "the broker suspended")
        assert dog.broker_suspended() and "IB error 1100" in events.down[0]
        gw.send_error(1102)
        _wait(lambda: events.up, "the broker resumed")
        assert dog.broker_beat.state == BeatState.OK
    finally:
        dog.stop()


def test_a_dropped_socket_is_reconnected_by_the_next_call(gw: IbGateway, broker: IbkrBroker) -> None:
    broker.heartbeat()
    gw.drop_clients()
    _wait(lambda: not broker._session.ib.isConnected(), "the client to notice the drop")
    broker.heartbeat()
    assert broker.positions() == [] and gw.clients() == [1]
    assert broker._session.connections == 2


def test_a_gateway_that_stays_away_suspends_the_broker_and_its_return_resumes_it(
    gw: IbGateway, broker: IbkrBroker, bot_home
) -> None:
    events = Events()
    dog = _watchdog(bot_home, broker, events)
    broker.heartbeat()
    dog.start()
    try:
        gw.refuse_clients = True
        gw.drop_clients()
        _wait(lambda: events.down, "the broker suspended")
        assert "heartbeat failed" in events.down[0]
        gw.refuse_clients = False
        _wait(lambda: events.up, "the broker resumed")
        assert gw.clients() == [1]
    finally:
        dog.stop()
