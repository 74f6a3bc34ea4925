"""Error escalation follows the policy table exactly: every cell, capped backoff, interruptible waits, real flags."""

from __future__ import annotations

import json
import random
import threading

import pytest
from ib_async import RequestError

from tbot_core.audit import AuditLog
from tbot_core.brokers.errors import BrokerUnreachable, from_http_status, from_ib_error
from tbot_core.context import CoreContext, Matrix
from tbot_core.control import read_flags
from tbot_core.errors import BrokerError, ConfigError, LogicError, NetworkError, SecurityError
from tbot_core.safety.error_handler import ErrorHandler, error_code
from tbot_core.safety.escalation import ERROR_CLASSES, PLACES, POLICY, Action, lookup, markdown_table
from tbot_core.syslog import SystemLog

CLASSES = {
    "NetworkError": NetworkError,
    "BrokerError": BrokerError,
    "LogicError": LogicError,
    "ConfigError": ConfigError,
}


def _handler(bot_home, *, on_suspend=None, **overrides: str) -> ErrorHandler:
    settings = bot_home.settings.with_values({"API_RETRY_LIMIT": "2", **overrides})
    paths, ident = bot_home.paths, bot_home.identity
    syslog = SystemLog(paths.system_log(ident.BOT_IDENTITY, settings.log_format), settings.log_format)
    ctx = CoreContext(paths, settings, ident, syslog, AuditLog(paths.audit_db), Matrix())
    return ErrorHandler(ctx, broker_code="PAPER", on_suspend=on_suspend, rng=random.Random(7))


def _flags(handler: ErrorHandler) -> list[tuple[str, str, str]]:
    flags, bad = read_flags(handler.ctx.paths)
    assert bad == []
    return [(f.flag, f.source, f.reason) for f in flags]


def _escalations(handler: ErrorHandler) -> list[dict]:
    return [
        row.context_dict() for row in handler.ctx.audit.tail(50, category="error_handler") if row.event == "escalated"
    ]


# -- the table itself ---------------------------------------------------------------------------------------------
def test_the_policy_has_exactly_one_cell_for_every_class_at_every_place():
    assert set(POLICY) == {(cls, place) for cls in ERROR_CLASSES for place in PLACES}
    for rule in POLICY.values():
        assert rule.why and (rule.first is Action.RETRY or rule.after is rule.first)
        assert rule.matrix_key or rule.after in (Action.LOG, Action.RETRY)
    assert all(f"`{place}`" in markdown_table() for place in PLACES)


@pytest.mark.parametrize("cls_name,where", sorted(POLICY))
def test_handle_performs_exactly_the_tables_after_retries_action(bot_home, cls_name, where):
    suspended: list[str] = []
    handler = _handler(bot_home, on_suspend=suspended.append)
    rule = POLICY[(cls_name, where)]
    action = handler.handle(CLASSES[cls_name](f"boom at {where}"), where=where, strategy="mid")
    assert action is rule.after
    flags = _flags(handler)
    if rule.after is Action.SUPERVISED_STOP:
        assert flags == [("stop", "system", flags[0][2])] and flags[0][2].startswith(f"{rule.matrix_key}: {cls_name}")
    elif rule.after is Action.KILL_SWITCH:
        assert flags == [("kill", "system", flags[0][2])] and flags[0][2].startswith(f"{rule.matrix_key}: {cls_name}")
    else:
        assert flags == []
    assert len(suspended) == (1 if rule.after is Action.SUSPEND else 0)
    assert len(_escalations(handler)) == (0 if rule.after in (Action.LOG, Action.RETRY) else 1)


# -- a few cells literally, so a changed cell fails here ---------------------------------------------------------------
def test_cells_that_matter_most_are_what_the_readme_says():
    assert (
        lookup("NetworkError", "order_submit_exposed").first,
        lookup("NetworkError", "order_submit_exposed").after,
    ) == (Action.RETRY, Action.KILL_SWITCH)
    assert lookup("BrokerError", "order_submit_exposed").after is Action.KILL_SWITCH
    assert lookup("LogicError", "order_submit_exposed").first is Action.KILL_SWITCH
    assert (lookup("NetworkError", "order_submit").first, lookup("NetworkError", "order_submit").after) == (
        Action.RETRY,
        Action.SUSPEND,
    )
    assert lookup("BrokerError", "order_submit").first is Action.LOG
    bar = lookup("LogicError", "bar")
    assert (bar.first, bar.after, bar.matrix_key, bar.restarts) == (
        Action.RETRY,
        Action.SUPERVISED_STOP,
        "logic_error",
        True,
    )
    feed = lookup("NetworkError", "feed")
    assert (feed.first, feed.matrix_key, feed.restarts) == (Action.SUPERVISED_STOP, "feed_down", True)
    for where in PLACES:
        config = lookup("ConfigError", where)
        if where != "notifier":
            assert (config.first, config.matrix_key, config.restarts) == (
                Action.SUPERVISED_STOP,
                "validation_fail",
                False,
            )
    assert lookup("ConfigError", "notifier").first is Action.LOG
    assert lookup("NetworkError", "broker_probe").after is Action.SUSPEND


def test_an_exit_that_cannot_be_placed_with_exposure_open_trips_the_kill_switch_flag_and_is_audited(bot_home):
    handler = _handler(bot_home)
    exc = from_http_status(
        422, '{"code": 40310000, "message": "insufficient qty"}', service="alpaca", what="submit order"
    )
    action = handler.handle(
        exc,
        where="order_submit_exposed",
        strategy="close",
        order=True,
        context={"client_order_id": "close-SPY-sell-1", "symbol": "SPY"},
    )
    assert action is Action.KILL_SWITCH and action.stops_engine
    [(flag, source, reason)] = _flags(handler)
    assert (flag, source) == ("kill", "system")
    assert reason.startswith("daily_loss: BrokerError (422) at order_submit_exposed after retries: alpaca submit order")
    [audit] = _escalations(handler)
    assert audit["action"] == "kill_switch" and audit["matrix_row"] == "daily_loss"
    entry = json.loads(handler.path.read_text().splitlines()[-1])
    assert entry["error_code"] == "422" and entry["context"]["action"] == "kill_switch"


def test_a_logic_error_on_a_bar_retries_first_then_asks_for_a_restarting_supervised_stop(bot_home):
    handler = _handler(bot_home)
    assert handler.handle(LogicError("bad bar"), where="bar", exhausted=False) is Action.RETRY
    assert _flags(handler) == []
    assert handler.handle(LogicError("bad bar"), where="bar") is Action.SUPERVISED_STOP
    [(flag, _source, reason)] = _flags(handler)
    assert flag == "stop" and reason.startswith("logic_error: LogicError (LogicError) at bar after retries: bad bar")


def test_revoked_credentials_at_runtime_ask_for_a_stop_without_restart(bot_home):
    handler = _handler(bot_home)
    action = handler.handle(from_http_status(403, "{}", service="alpaca", what="positions"), where="bar")
    assert action is Action.SUPERVISED_STOP
    [(flag, _source, reason)] = _flags(handler)
    assert flag == "stop" and reason.startswith("validation_fail: ConfigError (403) at bar")


def test_an_unknown_place_fails_closed_with_a_supervised_stop(bot_home):
    handler = _handler(bot_home)
    assert handler.handle(BrokerError("refused"), where="somewhere_new") is Action.SUPERVISED_STOP
    assert _flags(handler)[0][2].startswith("logic_error: ")


def test_suspend_without_a_callback_becomes_a_broker_down_stop(bot_home):
    handler = _handler(bot_home)
    assert handler.handle(NetworkError("no answer"), where="broker_probe") is Action.SUPERVISED_STOP
    [(flag, _source, reason)] = _flags(handler)
    assert flag == "stop" and reason.startswith("broker_down: ")


def test_suspend_whose_callback_fails_becomes_a_stop_too(bot_home):
    def broken(_cause: str) -> None:
        raise RuntimeError("supervisor gone")

    handler = _handler(bot_home, on_suspend=broken)
    assert handler.handle(NetworkError("no answer"), where="order_submit") is Action.SUPERVISED_STOP
    assert "suspend failed (RuntimeError)" in _flags(handler)[0][2]


def test_suspend_calls_the_supervisor_callback_with_the_matrix_row_and_writes_no_flag(bot_home):
    causes: list[str] = []
    handler = _handler(bot_home, on_suspend=causes.append)
    assert handler.handle(NetworkError("HTTP 503"), where="order_submit") is Action.SUSPEND
    assert len(causes) == 1 and causes[0].startswith("broker_down: NetworkError")
    assert _flags(handler) == [] and _escalations(handler)[0]["action"] == "suspend"


# -- backoff and retries -----------------------------------------------------------------------------------------------
def test_backoff_never_exceeds_api_retry_max_seconds_even_with_a_large_base(bot_home):
    handler = _handler(bot_home, API_RETRY_BASE_SECONDS="60", API_RETRY_MAX_SECONDS="0.1")
    delays = [handler.backoff(attempt) for attempt in range(1, 200) for _ in range(5)]
    assert max(delays) <= 0.1 and min(delays) >= 0 and len(set(delays)) > 1


def test_backoff_is_full_jitter_under_a_doubling_ceiling(bot_home):
    handler = _handler(bot_home, API_RETRY_BASE_SECONDS="1", API_RETRY_MAX_SECONDS="600")
    first = [handler.backoff(1) for _ in range(200)]
    third = [handler.backoff(3) for _ in range(200)]
    assert max(first) <= 1 and min(first) < 0.5  # full jitter reaches below half the ceiling
    assert max(third) <= 4 and max(third) > 1


def test_retry_waits_only_capped_delays_and_re_raises_after_the_limit(bot_home):
    handler = _handler(bot_home, API_RETRY_LIMIT="3", API_RETRY_BASE_SECONDS="60", API_RETRY_MAX_SECONDS="0.2")
    calls, waits = [], []

    def always_down() -> None:
        calls.append(1)
        raise NetworkError("HTTP 503", code=503)

    with pytest.raises(NetworkError):
        handler.retry(always_down, what="account", wait=lambda delay: waits.append(delay) is not None)
    assert len(calls) == 4 and len(waits) == 3 and max(waits) <= 0.2


def test_a_set_event_makes_retry_give_up_at_once_and_re_raise(bot_home):
    handler = _handler(bot_home, API_RETRY_LIMIT="5", API_RETRY_BASE_SECONDS="60", API_RETRY_MAX_SECONDS="600")
    stop = threading.Event()
    stop.set()
    calls = []

    def down() -> None:
        calls.append(1)
        raise NetworkError("no answer")

    with pytest.raises(NetworkError, match="no answer"):
        handler.retry(down, what="submit", wait=stop.wait)
    assert len(calls) == 1


def test_should_abort_is_checked_before_each_retry(bot_home):
    handler = _handler(bot_home, API_RETRY_LIMIT="5")
    calls, waits = [], []

    def down() -> None:
        calls.append(1)
        raise NetworkError("no answer")

    with pytest.raises(NetworkError):
        handler.retry(
            down, what="submit", wait=lambda d: waits.append(d) is not None, should_abort=lambda: len(calls) >= 2
        )
    assert len(calls) == 2 and len(waits) == 1


def test_retry_follows_the_policy_row_for_the_place(bot_home):
    handler = _handler(bot_home, API_RETRY_LIMIT="2")
    calls = {"order_submit": 0, "order_submit_exposed": 0}

    for where in calls:

        def refused(where: str = where) -> None:
            calls[where] += 1
            raise BrokerError("refused", code=422)

        with pytest.raises(BrokerError):
            handler.retry(refused, what="submit", where=where, wait=lambda _d: False)
    assert calls == {"order_submit": 1, "order_submit_exposed": 3}


# -- error codes ----------------------------------------------------------------------------------------------------------
def test_error_code_is_the_remote_code_not_the_class_name():
    assert error_code(from_http_status(429, "{}", service="alpaca", what="account")) == "429"
    assert error_code(from_http_status(403, "{}", service="alpaca", what="account")) == "403"
    assert error_code(RequestError(7, 201, "Order rejected - reason: no trading permissions")) == "201"
    assert error_code(ValueError("plain bug")) == "ValueError"
    assert error_code(SecurityError("vault")) == "SecurityError"


def test_ib_codes_map_to_the_handlers_classes_with_the_code_kept():
    rejected = from_ib_error(201, "Order rejected - reason: margin", service="ibkr", what="submit order x")
    assert type(rejected) is BrokerError and rejected.code == "201" and "IB error 201" in str(rejected)
    lost = from_ib_error(1100, "Connectivity between IB and TWS has been lost.", service="ibkr", what="account")
    assert isinstance(lost, BrokerUnreachable) and isinstance(lost, NetworkError) and lost.code == "1100"
    assert lost.matrix_key == "broker_down"
    assert isinstance(
        from_ib_error(100, "Max rate of messages per second has been exceeded", service="ibkr", what="x"), NetworkError
    )
    assert isinstance(from_ib_error(326, "client id is already in use", service="ibkr", what="connect"), ConfigError)


def test_an_ib_order_rejected_after_placement_is_a_broker_error_with_code_201():
    from datetime import UTC, datetime

    from ib_async import Order, OrderStatus, Stock, Trade, TradeLogEntry

    from tbot_core.brokers.ibkr_mapping import order_rejection

    trade = Trade(
        contract=Stock("SPY", "SMART", "USD"),
        order=Order(orderId=12, action="SELL", totalQuantity=3),
        orderStatus=OrderStatus(orderId=12, status="Submitted"),
    )
    assert order_rejection(trade) is None
    trade.orderStatus.status = "Inactive"
    trade.log.append(TradeLogEntry(datetime.now(UTC), "Inactive", "Order rejected - reason: no shortable shares", 201))
    rejection = order_rejection(trade)
    assert isinstance(rejection, BrokerError) and error_code(rejection) == "201"


def test_ib_connectivity_loss_1100_is_remembered_until_ib_says_it_is_restored():
    """Error 1100 arrives on errorEvent (no request); the session keeps it so the heartbeat can fail with it."""
    from tbot_core.brokers.ibkr_session import IbkrEndpoint, IbkrSession

    session = IbkrSession(IbkrEndpoint("127.0.0.1", 1, 7, "DU000001", 0.2, 0.2))
    try:
        assert session.ib.RaiseRequestErrors is True
        session.ib.errorEvent.emit(-1, 1100, "Connectivity between IB and TWS has been lost.", "")
        assert session.connectivity_lost == (1100, "Connectivity between IB and TWS has been lost.")
        session.ib.errorEvent.emit(-1, 2104, "Market data farm connection is OK", "")
        assert session.connectivity_lost is not None
        session.ib.errorEvent.emit(-1, 1102, "Connectivity between IB and TWS has been restored - data maintained.", "")
        assert session.connectivity_lost is None
    finally:
        session.close()
