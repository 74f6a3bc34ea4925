"""Every failure of the real alpaca-py client leaves the adapter as the error handler's class."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from decimal import Decimal

import pytest

from tbot_core.brokers.alpaca import AlpacaBroker
from tbot_core.brokers.alpaca_common import AlpacaCredentials
from tbot_core.brokers.base import OrderRequest
from tbot_core.brokers.errors import BrokerUnreachable
from tbot_core.errors import BrokerError, ConfigError, NetworkError
from tests.fakes.alpaca_server import API_KEY, SECRET_KEY, FakeAlpaca


@pytest.fixture
def fake() -> Iterator[FakeAlpaca]:
    with FakeAlpaca() as server:
        yield server


def _broker(url: str, secret: str = SECRET_KEY, timeout: float = 5) -> AlpacaBroker:
    creds = AlpacaCredentials.from_mapping({"api_key": API_KEY, "secret_key": secret})
    return AlpacaBroker(creds, paper=True, url_override=url, timeout_seconds=timeout)


def test_wrong_keys_are_a_fatal_config_error_that_never_shows_the_key(fake: FakeAlpaca) -> None:
    wrong = "wrongsecret-do-not-print-0001"
    with pytest.raises(ConfigError) as caught:
        _broker(fake.url, secret=wrong).account()
    assert not isinstance(caught.value, NetworkError)
    assert "HTTP 401" in str(caught.value) and "not authorized" in str(caught.value)
    assert wrong not in caught.value.one_line() and SECRET_KEY not in caught.value.one_line()


def test_forbidden_is_a_config_error_too(fake: FakeAlpaca) -> None:
    fake.fail("/v2/orders", 403)
    with pytest.raises(ConfigError, match="HTTP 403"):
        _broker(fake.url).open_orders()


@pytest.mark.parametrize("status", [429, 504])
def test_rate_limit_and_gateway_timeout_are_network_errors_sent_once_without_sdk_retry(fake: FakeAlpaca, status: int) -> None:
    """alpaca-py would sleep 3 s and retry 429/504 three times; the handler owns retries, so one request only."""
    fake.fail("/v2/account", status, times=5)
    with pytest.raises(NetworkError, match=f"HTTP {status}") as caught:
        _broker(fake.url).account()
    assert not isinstance(caught.value, BrokerUnreachable)
    assert fake.count("GET", "/v2/account") == 1


def test_server_error_is_a_network_error_and_the_next_call_succeeds(fake: FakeAlpaca) -> None:
    broker = _broker(fake.url)
    fake.fail("/v2/positions", 500, body="<html>Internal Server Error</html>")
    with pytest.raises(NetworkError, match="HTTP 500: <html>Internal Server Error"):
        broker.positions()
    assert broker.positions() == []


def test_malformed_success_body_is_a_broker_error_naming_the_field(fake: FakeAlpaca) -> None:
    broker = _broker(fake.url)
    original = fake.handle
    fake.handle = lambda *a: (200, {"cash": "12.5", "equity": "oops", "buying_power": "1"})  # type: ignore[method-assign]
    with pytest.raises(BrokerError, match="alpaca account: field 'equity' is not a number"):
        broker.account()
    fake.handle = original  # type: ignore[method-assign]


def test_missing_secret_fields_are_named_without_values() -> None:
    with pytest.raises(ConfigError, match="broker_alpaca: expected non-empty text fields api_key and secret_key"):
        AlpacaCredentials.from_mapping({"api_key": "PKONLYKEY"})


def test_closed_port_is_a_heartbeat_failure_for_the_broker() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(BrokerUnreachable, match="connection") as caught:
        _broker(f"http://127.0.0.1:{port}").heartbeat()
    assert caught.value.heartbeat_failure and caught.value.matrix_key == "broker_down"


def test_port_that_accepts_but_never_answers_times_out_instead_of_hanging() -> None:
    """The SDK sends requests without a timeout; the adapter's transport bounds each one."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    outcome: list[BaseException] = []

    def probe() -> None:
        try:
            _broker(f"http://127.0.0.1:{port}", timeout=0.3).submit_order(
                OrderRequest("c-9", "AAPL", "buy", Decimal(1), "mid"))
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    worker.join(60)  # a liveness bound, not a speed check: without the timeout this would block forever
    listener.close()
    assert not worker.is_alive(), "the adapter hung on a silent port"
    [error] = outcome
    assert isinstance(error, BrokerUnreachable) and "no answer within 0.3 s" in str(error)
