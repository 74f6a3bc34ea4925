"""The error handler in-process with real parts (``error_handler_kit``).

Each test names what must happen to a failure: how it is classified and coded, what is logged, how long the handler waits before a retry and what it retries.
"""

from __future__ import annotations

import json

import pytest

from tbot_core.errors import BrokerError, ConfigError, LogicError, NetworkError, SecurityError
from tbot_core.safety.error_handler import classify, error_code
from tbot_core.sanitize import register_secret
from tests.tbot_core.safety.error_handler_kit import SECRET, Failing, Kit

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


def test_a_cap_below_one_second_is_kept(bot_home):
    kit = Kit(bot_home, API_RETRY_BASE_SECONDS="0.5", API_RETRY_MAX_SECONDS="0.5")
    assert kit.handler.backoff(3) == 0.5 and kit.rng.asked[-1] == (0.0, 0.5)


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
