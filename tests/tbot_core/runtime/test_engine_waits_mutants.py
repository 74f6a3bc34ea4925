"""How the engine waits (``engine_waits.py``), on a real engine: the paper broker behind a wrapper that fails
the calls a test names, core.db, the kill switch and a sim clock that the engine's stop event advances, so
every slice of a wait is seen and nothing sleeps.
"""

from __future__ import annotations

from tbot_core.errors import LogicError, NetworkError
from tbot_core.runtime.engine_waits import WAIT_SLICE_SECONDS
from tests.tbot_core.runtime.core_harness import make_home
from tests.tbot_core.runtime.engine_mutant_kit import Kit

DAY = "2026-01-05"


def _kit(tmp_path, **kw) -> Kit:
    return Kit(make_home(tmp_path, {}, bars=4, symbols=("SPY",)).root, **kw)


# -- _wait ---------------------------------------------------------------------------------------------------------


def test_a_wait_that_runs_out_sleeps_in_quarter_second_slices_and_answers_empty(tmp_path):
    kit = _kit(tmp_path)
    assert WAIT_SLICE_SECONDS == 0.25
    assert kit.engine._wait(1.0) == ""
    assert kit.stop.waits == [0.25, 0.25, 0.25, 0.25]


def test_the_last_slice_is_only_what_is_left(tmp_path):
    kit = _kit(tmp_path)
    assert kit.engine._wait(0.625) == ""
    assert kit.stop.waits == [0.25, 0.25, 0.125]


def test_every_slice_beats_the_engines_heartbeat(tmp_path):
    kit = _kit(tmp_path)
    kit.engine.beat = 0.0
    kit.engine._wait(0.5)
    assert kit.engine.beat == kit.clock.now == 1000.5


def test_a_stop_cuts_the_wait_at_once(tmp_path):
    kit = _kit(tmp_path)
    kit.stop.set()
    assert kit.engine._wait(5.0) == "stop"
    assert kit.stop.waits == [] and kit.engine.beat == kit.clock.now


def test_a_stop_asked_during_the_wait_cuts_it_at_the_next_slice(tmp_path):
    kit = _kit(tmp_path)
    kit.stop.on_wait = lambda n: kit.stop.set() if n == 2 else None
    assert kit.engine._wait(5.0) == "stop"
    assert kit.stop.waits == [0.25, 0.25]


def test_a_halt_cuts_a_retry_wait(tmp_path):
    kit = _kit(tmp_path)
    kit.stop.on_wait = lambda n: kit.kill.trigger("operator kill") if n == 3 else None
    assert kit.engine._wait(5.0) == "halted"
    assert kit.stop.waits == [0.25, 0.25, 0.25]


def test_a_wait_for_the_broker_is_not_cut_by_a_halt(tmp_path):
    kit = _kit(tmp_path)
    kit.kill.trigger("operator kill")
    assert kit.engine._wait(0.5, halt_ends=False) == ""
    assert kit.stop.waits == [0.25, 0.25]


def test_the_kill_switch_judges_the_latest_marks_during_a_wait(tmp_path):
    kit = _kit(tmp_path, DAILY_LOSS_LIMIT="500")
    kit.engine.portfolio.refresh()  # 100,000.00 cash
    kit.store.set_day_start_equity(DAY, kit.engine.portfolio.equity() + 1000)  # the day began 1,000 higher
    kit.engine._ts_text = f"{DAY}T15:00:00Z"  # type: ignore[assignment]
    assert kit.engine._wait(5.0) == "halted"
    assert kit.stop.waits == [] and kit.kill.triggered and "DAILY_LOSS_LIMIT" in kit.kill.state().cause


def test_before_the_first_bar_a_wait_judges_nothing(tmp_path):
    kit = _kit(tmp_path, DAILY_LOSS_LIMIT="500")
    kit.engine.portfolio.refresh()
    kit.store.set_day_start_equity(DAY, kit.engine.portfolio.equity() + 1000)
    assert kit.engine._wait(0.25) == ""
    assert not kit.kill.triggered


def test_the_retry_wait_gives_up_on_a_stop_or_a_halt_and_goes_on_when_it_ran_out(tmp_path):
    kit = _kit(tmp_path)
    assert kit.engine._retry_wait(0.5) is False
    kit.kill.trigger("operator kill")
    assert kit.engine._retry_wait(0.5) is True
    other = _kit(tmp_path / "b")
    other.stop.set()
    assert other.engine._retry_wait(0.5) is True


# -- _connect ------------------------------------------------------------------------------------------------------


def test_a_broker_that_answers_is_read_once_and_the_engine_is_not_busy_after(tmp_path):
    kit = _kit(tmp_path)
    assert kit.engine._connect() is True
    assert kit.engine.portfolio.refreshed and kit.broker.calls.count("account") == 1
    assert kit.engine.busy_since is None and kit.engine.beat == kit.clock.now
    assert kit.stop.waits == [] and not kit.control.suspended


def test_a_stop_before_connecting_reads_nothing(tmp_path):
    kit = _kit(tmp_path)
    kit.stop.set()
    kit.engine.busy_since = 5.0
    assert kit.engine._connect() is False
    assert "account" not in kit.broker.calls and kit.engine.busy_since is None


def test_a_broker_that_answers_with_a_bug_is_raised_not_waited_for(tmp_path):
    kit = _kit(tmp_path)
    kit.broker.fail["account"] = [LogicError("bad account payload")]
    try:
        kit.engine._connect()
    except LogicError:
        pass
    else:
        raise AssertionError("a LogicError while reading the account must propagate")
    assert kit.stop.waits == [] and not kit.control.suspended


def test_a_broker_down_at_start_is_reported_once_and_the_engine_waits_suspended_until_it_answers(tmp_path):
    reports: list[str] = []
    kit = _kit(tmp_path, on_broker_down=lambda cause: (reports.append(cause), setattr(kit.control, "suspended", True)))
    kit.broker.fail["account"] = [NetworkError("PAPER: connection refused")]

    def watchdog(n: int) -> None:  # the watchdog resumes the broker after a few probes
        if n % 4 == 0:
            kit.control.suspended = False

    kit.stop.on_wait = watchdog
    assert kit.engine._connect() is True
    assert reports == ["broker unreachable at engine start: PAPER: connection refused"]
    assert kit.broker.calls.count("account") == 2 and len(kit.stop.waits) == 4
    assert set(kit.stop.waits) == {WAIT_SLICE_SECONDS}
    errors = kit.log("error", "error_handler")
    assert len(errors) == 1 and errors[0]["context"]["context"] == {"where": "engine start: reading the account"}
    assert kit.engine.busy_since is None


def test_without_a_watchdog_the_engine_suspends_itself_while_the_broker_is_down(tmp_path):
    kit = _kit(tmp_path)
    kit.broker.fail["account"] = [NetworkError("down")]
    seen: list[bool] = []

    def resume(n: int) -> None:
        seen.append(kit.control.suspended)
        kit.control.suspended = False

    kit.stop.on_wait = resume
    assert kit.engine._connect() is True
    assert seen == [True] and kit.broker.calls.count("account") == 2


def test_a_halt_does_not_end_the_wait_for_the_broker(tmp_path):
    kit = _kit(tmp_path)
    kit.kill.trigger("operator kill")
    kit.broker.fail["account"] = [NetworkError("down")]
    kit.stop.on_wait = lambda n: setattr(kit.control, "suspended", n < 3)
    assert kit.engine._connect() is True
    assert len(kit.stop.waits) == 3


def test_a_stop_while_waiting_for_the_broker_ends_the_connect_without_an_account(tmp_path):
    kit = _kit(tmp_path)
    kit.broker.fail["account"] = [NetworkError("down") for _ in range(100)]
    kit.stop.on_wait = lambda n: kit.stop.set() if n == 2 else None
    assert kit.engine._connect() is False
    assert not kit.engine.portfolio.refreshed and kit.engine.busy_since is None
    assert kit.broker.calls.count("account") == 1


def test_the_engine_is_busy_from_the_clock_while_it_tries_the_broker(tmp_path):
    kit = _kit(tmp_path)
    kit.broker.fail["account"] = [NetworkError("down")]
    busy: list[float | None] = []

    def look(n: int) -> None:
        busy.append(kit.engine.busy_since)
        kit.control.suspended = False

    kit.stop.on_wait = look
    kit.engine._connect()
    assert busy == [1000.0]


def test_a_broker_still_down_after_the_watchdog_resumed_it_is_not_reported_again_and_is_retried_a_slice_later(tmp_path):
    """The watchdog owns the outage once told; the engine still never calls a failing broker in a tight loop."""
    reports: list[str] = []

    def down(cause: str) -> None:
        reports.append(cause)
        kit.control.suspended = True

    kit = _kit(tmp_path, on_broker_down=down)
    kit.broker.fail["account"] = [NetworkError("refused"), NetworkError("still refused")]
    kit.stop.on_wait = lambda n: setattr(kit.control, "suspended", False) if n == 4 else None
    assert kit.engine._connect() is True
    assert reports == ["broker unreachable at engine start: refused"]  # the watchdog owns it from here
    assert kit.broker.calls.count("account") == 3 and kit.stop.waits == [WAIT_SLICE_SECONDS] * 5
    (error,) = kit.log("error", "error_handler")
    assert error["context"]["error_type"] == "NetworkError" and "refused" in error["context"]["exception_repr"]


def test_a_halt_does_not_cut_the_pause_before_retrying_a_broker_the_watchdog_resumed(tmp_path):
    """Halted (a loss limit, say) and the broker still refusing after the watchdog resumed it: a slice apart, not a hot loop."""

    def down(cause: str) -> None:
        kit.control.suspended = True

    kit = _kit(tmp_path, on_broker_down=down)
    kit.kill.trigger("operator kill")
    kit.broker.fail["account"] = [NetworkError("refused"), NetworkError("still refused")]
    kit.stop.on_wait = lambda n: setattr(kit.control, "suspended", False) if n == 1 else None
    assert kit.engine._connect() is True
    assert kit.broker.calls.count("account") == 3 and kit.stop.waits == [WAIT_SLICE_SECONDS] * 2
