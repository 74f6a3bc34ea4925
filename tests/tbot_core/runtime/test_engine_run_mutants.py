"""The engine loop's safety branches in-process on real parts (``engine_mutant_kit.Kit``): how a run ends and what a failing bar escalates to.

The kit wires the replay feed over a real home's bars, the paper broker in core.db behind a wrapper that fails
the calls a test names, the kill switch, the error handler writing real control flags, the audit log and a sim
clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tbot_core.errors import LogicError, NetworkError
from tbot_core.runtime.engine import EngineState
from tests.tbot_core.runtime.engine_mutant_kit import Low, make_kit, raise_

T0, T1 = "2026-01-05T14:30:00Z", "2026-01-05T14:31:00Z"

# -- how a run ends ------------------------------------------------------------------------------------------------


def test_a_feed_that_runs_out_ends_as_feed_ended_with_every_bar_counted_and_the_cursor_saved(tmp_path):
    kit = make_kit(tmp_path, bars=4)
    kit.engine.run()
    assert kit.engine.state is EngineState.FEED_ENDED and kit.engine.view.state is EngineState.FEED_ENDED
    assert kit.engine.bars == 4 and kit.engine.view.bars == 4
    assert kit.store.cursor() == (kit.engine._ts_text, 4)
    assert kit.engine._ts_text.startswith("2026-01-05T14:33:00")
    assert kit.engine.view.bar_utc == kit.engine._ts_text
    assert kit.strategy.vixes == [18.0, 18.0, 18.0, 18.0]  # every strategy sees the bar's VIX
    assert kit.engine.busy_since is None


def test_the_engine_publishes_running_with_the_account_read_before_the_first_bar(tmp_path):
    seen: list[tuple] = []
    kit = make_kit(tmp_path, lambda i, bar: seen.append((kit.engine.view.state, kit.engine.view.account_read)))
    kit.engine.run()
    assert seen[0] == (EngineState.RUNNING, True)


def test_a_stop_asked_on_a_bar_ends_the_run_before_the_next_bar(tmp_path):
    kit = make_kit(tmp_path, lambda i, bar: kit.stop.set() if i == 1 else None, bars=4)
    kit.engine.run()
    assert kit.engine.state is EngineState.STOPPED and kit.engine.bars == 2
    assert kit.store.cursor()[1] == 2


def test_a_stop_asked_on_the_last_bar_ends_as_stopped_not_feed_ended(tmp_path):
    kit = make_kit(tmp_path, lambda i, bar: kit.stop.set() if i == 3 else None, bars=4)
    kit.engine.run()
    assert kit.engine.state is EngineState.STOPPED and kit.engine.bars == 4


def test_a_stop_while_waiting_for_the_broker_ends_as_stopped_with_no_bar(tmp_path):
    kit = make_kit(tmp_path)
    kit.broker.fail["account"] = [NetworkError("down") for _ in range(10)]
    kit.stop.on_wait = lambda n: kit.stop.set()
    kit.engine.run()
    assert kit.engine.view.state is EngineState.STOPPED and kit.engine.bars == 0
    assert kit.strategy.seen == 0


class BreaksAfter:
    """The real feed, which raises after ``n`` bars (the data API broke mid-stream)."""

    def __init__(self, inner: Any, n: int, exc: BaseException) -> None:
        self._inner, self.n, self.exc = inner, n, exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def bars(self) -> Iterator[Any]:
        for i, bar in enumerate(self._inner.bars()):
            if i == self.n:
                raise self.exc
            yield bar


def test_a_feed_that_breaks_escalates_a_feed_down_stop_and_ends_escalated(tmp_path):
    kit = make_kit(tmp_path, bars=4, feed=lambda inner: BreaksAfter(inner, 2, NetworkError("data API 503")))
    kit.engine.run()
    assert kit.engine.state is EngineState.ESCALATED and kit.engine.bars == 2
    (flag,) = kit.flags()
    assert flag.flag == "stop" and flag.reason == "feed_down: NetworkError (NetworkError) at feed: data API 503"
    (error,) = kit.log("error", "error_handler")[:1]
    assert error["context"]["context"]["bar_utc"] == kit.engine._ts_text
    assert kit.store.cursor()[1] == 2  # the bars before the break are saved


# -- a bar that fails ---------------------------------------------------------------------------------------------


def test_a_bar_that_fails_once_is_retried_and_processed_once(tmp_path):
    kit = make_kit(tmp_path, lambda i, bar: raise_(LogicError("flaky")) if i == 0 else None, bars=3)
    kit.engine.run()
    assert kit.engine.state is EngineState.FEED_ENDED and kit.engine.bars == 3 and kit.strategy.seen == 4
    assert kit.flags() == []
    (error,) = kit.log("error", "error_handler")
    assert error["context"]["context"] == {
        "bar_utc": T0.replace("Z", ".000000Z") if "." in kit.engine._ts_text else T0,
        "symbol": "SPY",
        "attempt": 0,
        "where": "bar",
        "action": "retry",
    }
    assert len(kit.stop.waits) >= 1


def test_a_bar_that_keeps_failing_is_tried_up_to_the_retry_limit_then_escalated(tmp_path):
    kit = make_kit(tmp_path, lambda i, bar: raise_(LogicError("always")), bars=3, API_RETRY_LIMIT="2")
    kit.engine.run()
    assert kit.engine.state is EngineState.ESCALATED and kit.engine.bars == 0
    assert kit.strategy.seen == 3
    (flag,) = kit.flags()
    assert flag.flag == "stop" and flag.reason.startswith("logic_error: LogicError (LogicError) at bar after retries")
    attempts = [
        e["context"]["context"]["attempt"] for e in kit.log("error", "error_handler") if "context" in e["context"]
    ]
    assert attempts == [0, 1, 2]
    assert kit.engine.busy_since is None


def test_a_failing_bar_while_stopping_is_not_retried(tmp_path):
    def decide(i, bar):
        kit.stop.set()
        raise LogicError("bug while stopping")

    kit = make_kit(tmp_path, decide, bars=3)
    kit.engine.run()
    assert kit.strategy.seen == 1 and kit.stop.waits == []
    assert kit.engine.state is EngineState.ESCALATED
    (flag,) = kit.flags()
    assert flag.reason.startswith("logic_error: LogicError (LogicError) at bar after retries")


def test_a_halt_during_the_retry_wait_stops_the_engine_naming_the_halt(tmp_path):
    kit = make_kit(tmp_path, lambda i, bar: raise_(LogicError("bug")), bars=3, API_RETRY_BASE_SECONDS="1")
    kit.stop.on_wait = lambda n: kit.kill.trigger("operator kill")
    kit.engine.run()
    assert kit.engine.state is EngineState.ESCALATED and kit.strategy.seen == 1
    (flag,) = kit.flags()
    assert flag.flag == "stop"
    assert flag.reason == (
        f"logic_error: LogicError on bar {kit.engine._ts_text} SPY; kill switch halted during the retry wait"
    )


def test_a_stop_during_the_retry_wait_ends_the_bar_without_an_escalation(tmp_path):
    kit = make_kit(tmp_path, lambda i, bar: raise_(LogicError("bug")), bars=3, API_RETRY_BASE_SECONDS="1")
    kit.stop.on_wait = lambda n: kit.stop.set()
    kit.engine.run()
    assert kit.engine.state is EngineState.ESCALATED and kit.strategy.seen == 1
    assert kit.flags() == []


def test_a_broker_down_on_a_bar_suspends_and_the_engine_goes_on_with_the_next_bar(tmp_path):
    asked: list[str] = []
    kit = make_kit(
        tmp_path,
        lambda i, bar: raise_(NetworkError("quote timeout")) if i < 2 else None,
        bars=3,
        on_suspend=asked.append,
        API_RETRY_LIMIT="1",
    )
    kit.engine.run()
    assert kit.engine.state is EngineState.FEED_ENDED and kit.engine.bars == 2
    assert asked and asked[0].startswith("broker_down: NetworkError")
    assert kit.flags() == []


def test_the_backoff_between_bar_retries_comes_from_the_error_handler(tmp_path):
    kit = make_kit(
        tmp_path, lambda i, bar: raise_(LogicError("x")) if i < 2 else None, bars=2, API_RETRY_BASE_SECONDS="2"
    )
    kit.engine.run()
    assert sum(kit.stop.waits) <= 2 + 4
    quiet = make_kit(tmp_path / "b", lambda i, bar: raise_(LogicError("x")) if i < 2 else None, bars=2, rng=Low())
    quiet.engine.run()
    assert quiet.stop.waits == [] and quiet.engine.bars == 2
