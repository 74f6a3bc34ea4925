"""Every failure of the real alpaca-py client leaves the adapter as the error handler's class."""

from __future__ import annotations

import json
import random
import socket
import threading
from collections.abc import Iterator
from decimal import Decimal

import pytest

from tbot_core.audit import AuditLog
from tbot_core.brokers.alpaca import AlpacaBroker
from tbot_core.brokers.alpaca_common import AlpacaCredentials
from tbot_core.brokers.base import OrderRequest
from tbot_core.brokers.errors import BrokerUnreachable
from tbot_core.context import CoreContext, Matrix
from tbot_core.control import read_flags
from tbot_core.errors import BrokerError, ConfigError, NetworkError
from tbot_core.safety.error_handler import ErrorHandler
from tbot_core.safety.escalation import Action
from tbot_core.syslog import SystemLog
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
    with pytest.raises(ConfigError, match="HTTP 403") as caught:
        _broker(fake.url).open_orders()
    assert caught.value.code == "403"


@pytest.mark.parametrize("status", [429, 504])
def test_rate_limit_and_gateway_timeout_are_network_errors_sent_once_without_sdk_retry(
    fake: FakeAlpaca, status: int
) -> None:
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
    fake.handle = lambda *a: (200, {"cash": "12.5", "equity": "oops", "buying_power": "1"})  # type: ignore[method-assign]  # one bad answer
    with pytest.raises(BrokerError, match="alpaca account: field 'equity' is not a number"):
        broker.account()
    fake.handle = original  # type: ignore[method-assign]  # the fake's own handler back


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
                OrderRequest("c-9", "AAPL", "buy", Decimal(1), "mid")
            )
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    worker.join(60)  # a liveness bound, not a speed check: without the timeout this would block forever
    listener.close()
    assert not worker.is_alive(), "the adapter hung on a silent port"
    [error] = outcome
    assert isinstance(error, BrokerUnreachable) and "no answer within 0.3 s" in str(error)


def _handler(bot_home, retry_limit: int) -> ErrorHandler:
    settings = bot_home.settings.with_values({"API_RETRY_LIMIT": str(retry_limit)})
    paths, ident = bot_home.paths, bot_home.identity
    syslog = SystemLog(paths.system_log(ident.BOT_IDENTITY, settings.log_format), settings.log_format)
    ctx = CoreContext(paths, settings, ident, syslog, AuditLog(paths.audit_db), Matrix())
    return ErrorHandler(ctx, broker_code="ALPACA", rng=random.Random(3))


def test_a_429_on_order_submit_is_logged_with_error_code_429_not_the_class_name(fake: FakeAlpaca, bot_home) -> None:
    handler = _handler(bot_home, retry_limit=0)
    fake.fail("/v2/orders", 429)
    with pytest.raises(NetworkError) as caught:
        _broker(fake.url).submit_order(OrderRequest("mid-SPY-buy-1", "SPY", "buy", Decimal(2), "mid"))
    handler.handle(
        caught.value, where="order_submit", strategy="mid", order=True, context={"client_order_id": "mid-SPY-buy-1"}
    )
    entry = json.loads(handler.path.read_text().splitlines()[-1])
    assert entry["error_code"] == "429" and entry["error_type"] == "NetworkError" and entry["broker"] == "ALPACA"


def test_an_exit_whose_submission_exhausts_the_retry_limit_trips_the_kill_switch_flag(
    fake: FakeAlpaca, bot_home
) -> None:
    """Exposure is open and the exit keeps getting 429: after API_RETRY_LIMIT retries it is not merely logged."""
    handler = _handler(bot_home, retry_limit=2)
    fake.fail("/v2/orders", 429, times=10)
    broker = _broker(fake.url)
    request = OrderRequest("close-SPY-sell-1", "SPY", "sell", Decimal(2), "close")
    with pytest.raises(NetworkError) as caught:
        handler.retry(
            lambda: broker.submit_order(request),
            what="submit close-SPY-sell-1",
            where="order_submit_exposed",
            wait=lambda _delay: False,
        )
    assert fake.count("POST", "/v2/orders") == 3  # the first try and API_RETRY_LIMIT retries, no SDK retries
    action = handler.handle(
        caught.value,
        where="order_submit_exposed",
        strategy="close",
        order=True,
        context={"client_order_id": request.client_order_id},
    )
    assert action is Action.KILL_SWITCH
    flags, _ = read_flags(bot_home.paths)
    assert [(f.flag, f.source) for f in flags] == [("kill", "system")]
    assert flags[0].reason.startswith("daily_loss: NetworkError (429) at order_submit_exposed after retries")
    assert json.loads(handler.path.read_text().splitlines()[-1])["error_code"] == "429"
