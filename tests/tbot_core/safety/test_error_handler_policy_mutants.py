"""The error handler in-process with real parts (``error_handler_kit``).

Each test names what must happen to a failure: what a policy row's decisive action writes (control flag, audit row, suspension), the self-check, and the unresolved log's format.
"""

from __future__ import annotations

import json

from tbot_core.errors import BrokerError, ConfigError, LogicError, NetworkError
from tbot_core.safety.error_handler import ErrorHandler, unresolved_log_result
from tbot_core.safety.escalation import Action
from tbot_core.sanitize import register_secret
from tests.tbot_core.safety.error_handler_kit import SECRET, Failing, Kit

# -- handle: the policy row's decisive action --------------------------------------------------------------------


def test_a_refused_entry_is_logged_only_and_nothing_is_escalated(bot_home):
    kit = Kit(bot_home)
    action = kit.handler.handle(BrokerError("refused", code=422), where="order_submit", strategy="mid", order=True)
    assert action is Action.LOG
    assert kit.flags() == [] and kit.escalations() == []
    (line,) = kit.handler.path.read_text().splitlines()
    entry = json.loads(line)
    assert entry["context"] == {"where": "order_submit", "action": "log"} and entry["strategy"] == "mid"
    assert entry["error_type"] == "BrokerError" and "refused" in entry["exception_repr"], "the failure itself"


def test_a_retry_row_not_yet_exhausted_only_records_and_answers_retry(bot_home):
    kit = Kit(bot_home)
    action = kit.handler.handle(LogicError("bug"), where="bar", exhausted=False, context={"symbol": "SPY"})
    assert action is Action.RETRY and kit.flags() == [] and kit.escalations() == []
    (logged,) = kit.log("error")
    assert logged["context"]["context"] == {"symbol": "SPY", "where": "bar", "action": "retry"}


def test_a_bar_that_keeps_failing_writes_a_system_stop_flag_naming_its_matrix_row(bot_home):
    kit = Kit(bot_home)
    action = kit.handler.handle(LogicError("bad  bar\nvalue"), where="bar")
    assert action is Action.SUPERVISED_STOP
    (flag,) = kit.flags()
    assert flag.flag == "stop" and flag.source == "system" and flag.operator.user == "tbot-core"
    assert flag.reason == "logic_error: LogicError (LogicError) at bar after retries: bad bar value"
    (esc,) = kit.escalations()
    assert esc == {"action": "supervised_stop", "flag": "stop", "matrix_row": "logic_error", "cause": flag.reason}
    row = kit.audit.tail(1, category="error_handler")[0]
    assert row.severity == "critical"
    assert kit.log("error")[-1]["message"] == f"escalated: control flag stop ({flag.reason})"


def test_a_row_that_stops_at_once_says_nothing_about_retries(bot_home):
    kit = Kit(bot_home)
    assert kit.handler.handle(NetworkError("feed gone"), where="feed") is Action.SUPERVISED_STOP
    (flag,) = kit.flags()
    assert flag.reason == "feed_down: NetworkError (NetworkError) at feed: feed gone"


def test_a_failed_exit_after_retries_writes_a_kill_flag(bot_home):
    kit = Kit(bot_home)
    action = kit.handler.handle(NetworkError("timeout", code=504), where="order_submit_exposed", order=True)
    assert action is Action.KILL_SWITCH
    (flag,) = kit.flags()
    assert flag.flag == "kill" and flag.source == "system"
    assert flag.reason == "daily_loss: NetworkError (504) at order_submit_exposed after retries: timeout"
    (esc,) = kit.escalations()
    assert esc["action"] == "kill_switch" and esc["flag"] == "kill" and esc["matrix_row"] == "daily_loss"


def test_a_long_cause_is_cut_to_480_characters_in_the_flag_and_the_audit_log(bot_home):
    register_secret(SECRET)
    kit = Kit(bot_home)
    kit.handler.handle(LogicError(SECRET + " " + "y" * 900), where="feed")
    (flag,) = kit.flags()
    assert len(flag.reason) == 480 and SECRET not in flag.reason and "***" in flag.reason
    assert kit.escalations()[0]["cause"] == flag.reason


def test_a_broker_down_after_retries_is_suspended_through_the_supervisors_callback(bot_home):
    asked: list[str] = []
    kit = Kit(bot_home, on_suspend=asked.append)
    action = kit.handler.handle(NetworkError("refused", code=503), where="order_submit")
    assert action is Action.SUSPEND and kit.flags() == []
    assert asked == ["broker_down: NetworkError (503) at order_submit after retries: refused"]
    (esc,) = kit.escalations()
    assert esc == {
        "action": "suspend",
        "matrix_row": "broker_down",
        "cause": "NetworkError (503) at order_submit after retries: refused",
    }
    assert kit.audit.tail(1, category="error_handler")[0].severity == "critical"


def test_the_suspend_reason_and_audited_cause_are_cut_to_480_characters(bot_home):
    asked: list[str] = []
    kit = Kit(bot_home, on_suspend=asked.append)
    kit.handler.handle(NetworkError("z" * 900), where="bar")
    assert len(asked[0]) == 480 and asked[0].startswith("broker_down: NetworkError")
    assert len(kit.escalations()[0]["cause"]) == 480


def test_without_a_suspend_callback_a_suspend_becomes_a_supervised_stop(bot_home):
    kit = Kit(bot_home)
    assert kit.handler.handle(NetworkError("down"), where="bar") is Action.SUPERVISED_STOP
    (flag,) = kit.flags()
    assert flag.flag == "stop" and flag.reason == "broker_down: NetworkError (NetworkError) at bar after retries: down"


def test_a_suspend_callback_that_fails_becomes_a_supervised_stop_naming_the_failure(bot_home):
    def broken(_reason: str) -> None:
        raise RuntimeError("watchdog gone")

    kit = Kit(bot_home, on_suspend=broken)
    assert kit.handler.handle(NetworkError("down"), where="bar") is Action.SUPERVISED_STOP
    (flag,) = kit.flags()
    assert flag.flag == "stop"
    assert flag.reason == (
        "broker_down: NetworkError (NetworkError) at bar after retries: down; suspend failed (RuntimeError)"
    )
    assert [e["action"] for e in kit.escalations()] == ["supervised_stop"]


def test_a_tbot_error_is_described_by_its_one_line_text_with_its_hint(bot_home):
    kit = Kit(bot_home)
    kit.handler.handle(ConfigError("key revoked", hint="rotate it"), where="bar")
    (flag,) = kit.flags()
    assert flag.reason == "validation_fail: ConfigError (ConfigError) at bar: key revoked (hint: rotate it)"


# -- self-check --------------------------------------------------------------------------------------------------


def test_the_self_check_passes_when_the_unresolved_log_can_be_appended_to_creating_its_folder(bot_home):
    kit = Kit(bot_home, API_RETRY_LIMIT="5")
    target = kit.handler.path.parent / "deeper" / "still" / "unresolved_orders.log"
    result = unresolved_log_result(target, kit.settings)
    assert result.ok and result.module == "error_handler"
    assert result.detail == "unresolved_orders.log writable (JSON); retry limit 5"
    assert target.exists() and target.read_text() == ""
    own = kit.handler.self_check()
    assert own.ok and kit.handler.path.exists()


def test_the_self_check_fails_with_a_hint_when_the_log_cannot_be_opened(bot_home):
    kit = Kit(bot_home)
    kit.handler.path.parent.mkdir(parents=True, exist_ok=True)
    kit.handler.path.mkdir()  # a folder where the log should be
    result = kit.handler.self_check()
    assert not result.ok and result.module == "error_handler"
    assert result.detail == f"{kit.handler.path.name}: not writable (Is a directory)"
    assert result.hint == "check the permissions of output/<BOT_IDENTITY>/logs/"


# -- the unresolved log's format ---------------------------------------------------------------------------------


def test_a_csv_log_gets_its_header_once_even_when_the_file_exists_empty(bot_home):
    kit = Kit(bot_home, LOG_FORMAT="CSV")
    handler = ErrorHandler(kit.ctx, broker_code="PAPER")
    handler.path.parent.mkdir(parents=True, exist_ok=True)
    handler.path.write_text("")
    handler.record(BrokerError("a"), order=True)
    handler.record(BrokerError("b"), order=True)
    lines = handler.path.read_text().splitlines()
    assert lines[0] == "timestamp_utc,strategy,broker,error_type,error_code,exception_repr,context"
    assert len(lines) == 3 and lines.count(lines[0]) == 1


def test_a_plain_exception_is_described_by_its_class_and_text(bot_home):
    kit = Kit(bot_home)
    kit.handler.handle(ValueError("bad  value"), where="bar")
    (flag,) = kit.flags()
    assert flag.reason == "logic_error: LogicError (ValueError) at bar after retries: ValueError: bad value"


def test_handle_by_default_names_no_strategy_and_writes_no_order_line(bot_home):
    kit = Kit(bot_home)
    kit.handler.handle(BrokerError("refused"), where="order_submit")
    assert not kit.handler.path.exists()
    (logged,) = kit.log("error")
    assert logged["context"]["strategy"] == ""


def test_a_retry_warning_by_default_names_no_strategy(bot_home):
    kit = Kit(bot_home)
    kit.handler.retry(Failing(NetworkError("a")), what="read")
    (warning,) = kit.log("warning")
    assert warning["context"] == {"strategy": ""}


def test_a_csv_logs_context_column_is_sorted_json(bot_home):
    kit = Kit(bot_home, LOG_FORMAT="CSV")
    handler = ErrorHandler(kit.ctx, broker_code="PAPER")
    handler.record(BrokerError("a"), context={"zeta": 1, "alpha": 2}, order=True)
    row = handler.path.read_text().splitlines()[1]
    assert row.endswith('"{""alpha"": 2, ""zeta"": 1}"')
