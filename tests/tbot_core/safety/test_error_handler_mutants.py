"""The error handler in-process with real parts: a real home's settings, the hash-chained audit log, the
system log and the control folder the supervisor reads.

Each test names what must happen to a failure: how it is classified and coded, how long the handler waits
before a retry, what it retries, and what a policy row's decisive action writes (control flag, audit row).
The only stand-ins are the random source and the wait, passed into the constructor or ``retry``.
"""

from __future__ import annotations

import json

import pytest

from tbot_core.audit import AuditLog
from tbot_core.context import CoreContext, Matrix
from tbot_core.control import read_flags
from tbot_core.errors import BrokerError, ConfigError, LogicError, NetworkError, SecurityError
from tbot_core.safety.error_handler import ErrorHandler, classify, error_code, unresolved_log_result
from tbot_core.safety.escalation import Action
from tbot_core.sanitize import register_secret
from tbot_core.syslog import SystemLog

SECRET = "sk-live-Zq81mPx44k"


class HighEnd:
    """A random source that always answers the top of the range it is asked for, and records the ranges."""

    def __init__(self, pick: str = "high") -> None:
        self.pick = pick
        self.asked: list[tuple[float, float]] = []

    def uniform(self, low: float, high: float) -> float:
        self.asked.append((low, high))
        return high if self.pick == "high" else low


class Kit:
    def __init__(self, bot_home, pick: str = "high", on_suspend=None, **values: str) -> None:
        self.settings = bot_home.settings.with_values(
            {"LOG_FORMAT": "JSON", "API_RETRY_LIMIT": "3", "API_RETRY_BASE_SECONDS": "0.5", **values}
        )
        self.paths, ident = bot_home.paths, bot_home.identity
        self.syslog_path = self.paths.system_log(ident.BOT_IDENTITY, "JSON")
        self.audit = AuditLog(self.paths.audit_db)
        syslog = SystemLog(self.syslog_path, "JSON")
        self.ctx = CoreContext(self.paths, self.settings, ident, syslog, self.audit, Matrix())
        self.slept: list[float] = []
        self.rng = HighEnd(pick)
        self.handler = ErrorHandler(
            self.ctx, broker_code="PAPER", sleep=self.slept.append, on_suspend=on_suspend, rng=self.rng
        )

    def log(self, level: str | None = None) -> list[dict]:
        if not self.syslog_path.exists():
            return []
        rows = [json.loads(line) for line in self.syslog_path.read_text().splitlines()]
        return [r for r in rows if r["module"] == "error_handler" and (level is None or r["level"] == level)]

    def flags(self):
        return read_flags(self.paths)[0]

    def escalations(self) -> list[dict]:
        return [r.context_dict() for r in self.audit.tail(50, category="error_handler") if r.event == "escalated"]


class Failing:
    """``func`` for ``retry``: raises the listed exceptions in turn, then answers ``"done"``."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


# -- classify and error_code -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (NetworkError("x"), "NetworkError"),
        (ConnectionResetError("x"), "NetworkError"),
        (TimeoutError("x"), "NetworkError"),
        (BrokerError("x"), "BrokerError"),
        (ConfigError("x"), "ConfigError"),
        (SecurityError("x"), "ConfigError"),
        (LogicError("x"), "LogicError"),
        (KeyError("x"), "LogicError"),
    ],
)
def test_every_failure_falls_into_one_of_the_four_classes(exc, kind):
    assert classify(exc) == kind


class Coded(Exception):
    def __init__(self, **attrs) -> None:
        super().__init__("coded")
        for name, value in attrs.items():
            setattr(self, name, value)


class ParsesBody(Exception):
    """Like alpaca's APIError: ``code`` is a property that raises while parsing the body."""

    status_code = None

    @property
    def code(self):
        raise ValueError("body is not JSON")


def test_the_http_status_wins_over_the_code_in_the_body():
    assert error_code(Coded(status_code=429, code="40010001", errorCode=7)) == "429"


def test_the_code_is_used_when_there_is_no_status_and_the_ib_error_code_last():
    assert error_code(Coded(code=" 42210000 ")) == "42210000"
    assert error_code(Coded(errorCode=201)) == "201"


def test_booleans_blanks_and_none_are_no_code_and_the_class_name_stands_in():
    assert error_code(Coded(status_code=True, code="   ", errorCode=None)) == "Coded"
    assert error_code(Coded(status_code=False, code=False)) == "Coded"
    assert error_code(Coded(code=3.5)) == "Coded"  # neither an int nor text
    assert error_code(NetworkError("down")) == "NetworkError"
    assert error_code(NetworkError("down", code=503)) == "503"


def test_an_attribute_that_raises_while_read_counts_as_absent():
    assert error_code(ParsesBody()) == "ParsesBody"


def test_a_code_is_scrubbed_and_cut_to_32_characters():
    register_secret(SECRET)
    assert error_code(Coded(code=f"E{SECRET}")) == "E***"
    assert error_code(Coded(code="9" * 40)) == "9" * 32


# -- record ----------------------------------------------------------------------------------------------------


def test_an_order_error_goes_to_the_unresolved_log_and_the_system_log_with_the_same_fields(bot_home):
    register_secret(SECRET)
    kit = Kit(bot_home)
    entry = kit.handler.record(
        BrokerError(f"refused {SECRET}", code=422),
        strategy="mid",
        context={"symbol": "SPY", "password": "hunter2-hunter2"},
        order=True,
    )
    assert entry["strategy"] == "mid" and entry["broker"] == "PAPER" and entry["error_type"] == "BrokerError"
    assert entry["error_code"] == "422" and entry["timestamp_utc"].endswith("Z")
    assert entry["exception_repr"] == "BrokerError('refused ***')"
    assert entry["context"]["symbol"] == "SPY" and entry["context"]["password"] != "hunter2-hunter2"
    (line,) = kit.handler.path.read_text().splitlines()
    assert json.loads(line) == json.loads(json.dumps(entry, default=str))
    (logged,) = kit.log("error")
    assert logged["message"] == "BrokerError: BrokerError('refused ***')"
    assert logged["context"] == {k: entry[k] for k in ("strategy", "broker", "error_type", "error_code")} | {
        "exception_repr": entry["exception_repr"],
        "context": entry["context"],
    }
    assert kit.handler.counts == {"BrokerError": 1}


def test_an_error_that_is_no_order_goes_to_the_system_log_only_and_is_counted_by_class(bot_home):
    kit = Kit(bot_home)
    entry = kit.handler.record(ValueError("x" * 900))
    kit.handler.record(KeyError("k"))
    kit.handler.record(NetworkError("n"))
    assert not kit.handler.path.exists()
    assert entry["context"] == {} and entry["strategy"] == "" and len(entry["exception_repr"]) == 500
    assert kit.handler.counts == {"LogicError": 2, "NetworkError": 1}
    assert len(kit.log("error")) == 3


# -- backoff ---------------------------------------------------------------------------------------------------


def test_the_backoff_doubles_from_the_base_with_full_jitter_from_zero(bot_home):
    kit = Kit(bot_home, API_RETRY_BASE_SECONDS="0.5", API_RETRY_MAX_SECONDS="30")
    assert [kit.handler.backoff(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert kit.rng.asked == [(0.0, 0.5), (0.0, 1.0), (0.0, 2.0), (0.0, 4.0)]


def test_an_attempt_below_one_waits_like_the_first(bot_home):
    kit = Kit(bot_home, API_RETRY_BASE_SECONDS="0.5")
    assert kit.handler.backoff(0) == kit.handler.backoff(-3) == 0.5


def test_the_backoff_never_exceeds_the_cap_however_many_attempts(bot_home):
    kit = Kit(bot_home, API_RETRY_BASE_SECONDS="0.5", API_RETRY_MAX_SECONDS="3")
    assert kit.handler.backoff(3) == 2.0 and kit.handler.backoff(4) == 3.0
    assert kit.handler.backoff(10_000) == 3.0  # 2**9999 would overflow a float: the exponent is bounded
    assert kit.rng.asked[-1] == (0.0, 3.0)


def test_the_jitter_may_be_zero(bot_home):
    kit = Kit(bot_home, pick="low")
    assert kit.handler.backoff(2) == 0.0


class OverCap:
    """A broken random source that answers above the range: the cap still holds."""

    def uniform(self, low: float, high: float) -> float:
        return high * 10


def test_the_cap_holds_even_when_the_random_source_answers_above_the_range(bot_home):
    kit = Kit(bot_home, API_RETRY_BASE_SECONDS="0.5", API_RETRY_MAX_SECONDS="30")
    kit.handler._rng = OverCap()  # type: ignore[assignment]  # a deliberately broken source
    assert kit.handler.backoff(1) == 5.0
    assert kit.handler.backoff(4) == 30.0


# -- retry -----------------------------------------------------------------------------------------------------


def test_a_call_that_succeeds_is_not_retried_and_nothing_is_logged(bot_home):
    kit = Kit(bot_home)
    func = Failing()
    assert kit.handler.retry(func, what="read") == "done"
    assert func.calls == 1 and kit.slept == [] and kit.log() == []


def test_network_errors_are_retried_up_to_the_limit_with_growing_waits_then_re_raised(bot_home):
    kit = Kit(bot_home, API_RETRY_LIMIT="3")
    errors = [NetworkError(f"down {n}", code=503) for n in range(4)]
    func = Failing(*errors)
    with pytest.raises(NetworkError) as raised:
        kit.handler.retry(func, what="read account", strategy="open", context={"symbol": "SPY"})
    assert raised.value is errors[3]
    assert func.calls == 4 and kit.slept == [0.5, 1.0, 2.0]
    warnings = kit.log("warning")
    assert [w["message"] for w in warnings] == [
        "read account: NetworkError (503); retry 1/3 in 0.50s",
        "read account: NetworkError (503); retry 2/3 in 1.00s",
        "read account: NetworkError (503); retry 3/3 in 2.00s",
    ]
    assert warnings[0]["context"] == {"strategy": "open", "symbol": "SPY"}


def test_a_network_error_that_clears_within_the_limit_returns_the_answer(bot_home):
    kit = Kit(bot_home, API_RETRY_LIMIT="3")
    func = Failing(NetworkError("a"), NetworkError("b"), NetworkError("c"))
    assert kit.handler.retry(func, what="read") == "done"
    assert func.calls == 4


def test_a_limit_of_zero_means_no_retry(bot_home):
    kit = Kit(bot_home, API_RETRY_LIMIT="0")
    func = Failing(NetworkError("a"))
    with pytest.raises(NetworkError):
        kit.handler.retry(func, what="read")
    assert func.calls == 1 and kit.slept == []


def test_without_a_place_only_network_errors_are_retried(bot_home):
    kit = Kit(bot_home)
    func = Failing(BrokerError("refused"))
    with pytest.raises(BrokerError):
        kit.handler.retry(func, what="submit")
    assert func.calls == 1 and kit.log("warning") == []


def test_with_a_place_the_policy_row_decides_what_is_retried(bot_home):
    kit = Kit(bot_home)
    exposed = Failing(BrokerError("pending cancel"))
    assert kit.handler.retry(exposed, what="exit", where="order_submit_exposed") == "done"
    assert exposed.calls == 2
    entry = Failing(BrokerError("refused"))
    with pytest.raises(BrokerError):
        kit.handler.retry(entry, what="entry", where="order_submit")
    assert entry.calls == 1
    feed = Failing(NetworkError("feed down"))
    with pytest.raises(NetworkError):
        kit.handler.retry(feed, what="feed", where="feed")  # the feed row stops at once: no retry
    assert feed.calls == 1


def test_an_abort_asked_before_a_retry_re_raises_without_waiting(bot_home):
    kit = Kit(bot_home)
    func = Failing(NetworkError("a"), NetworkError("b"))
    with pytest.raises(NetworkError):
        kit.handler.retry(func, what="submit", should_abort=lambda: True)
    assert func.calls == 1 and kit.slept == []


def test_an_abort_asked_during_the_wait_re_raises_after_it(bot_home):
    kit = Kit(bot_home)
    answers = iter([False, True])
    func = Failing(NetworkError("a"), NetworkError("b"))
    with pytest.raises(NetworkError):
        kit.handler.retry(func, what="submit", should_abort=lambda: next(answers))
    assert func.calls == 1 and kit.slept == [0.5]


def test_a_wait_that_was_cut_short_gives_up_and_the_sleep_is_not_used(bot_home):
    kit = Kit(bot_home)
    waited: list[float] = []

    def cut(delay: float) -> bool:
        waited.append(delay)
        return True

    func = Failing(NetworkError("a"), NetworkError("b"))
    with pytest.raises(NetworkError):
        kit.handler.retry(func, what="submit", wait=cut)
    assert func.calls == 1 and waited == [0.5] and kit.slept == []


def test_a_wait_that_ran_out_goes_on_retrying(bot_home):
    kit = Kit(bot_home)
    waited: list[float] = []

    def ran_out(delay: float) -> bool:
        waited.append(delay)
        return False

    func = Failing(NetworkError("a"), NetworkError("b"))
    assert kit.handler.retry(func, what="submit", wait=ran_out, should_abort=lambda: False) == "done"
    assert waited == [0.5, 1.0] and kit.slept == []


# -- handle: the policy row's decisive action --------------------------------------------------------------------


def test_a_refused_entry_is_logged_only_and_nothing_is_escalated(bot_home):
    kit = Kit(bot_home)
    action = kit.handler.handle(BrokerError("refused", code=422), where="order_submit", strategy="mid", order=True)
    assert action is Action.LOG
    assert kit.flags() == [] and kit.escalations() == []
    (line,) = kit.handler.path.read_text().splitlines()
    entry = json.loads(line)
    assert entry["context"] == {"where": "order_submit", "action": "log"} and entry["strategy"] == "mid"


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
