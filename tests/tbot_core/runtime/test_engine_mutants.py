"""The engine loop's safety branches in-process on real parts (``engine_mutant_kit.Kit``): the replay feed over a
real home's bars, the paper broker in core.db behind a wrapper that fails the calls a test names, the kill
switch, the error handler writing real control flags, the audit log, and a sim clock.

Each test names what the engine must do with a bar, a signal or a failure: how a run ends, what a failing
bar or order escalates to, which verdict a signal gets when the core is halted, suspended or stopping.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from tbot_core.brokers.base import OrderRequest
from tbot_core.errors import BrokerError, LogicError, NetworkError
from tbot_core.gate import GateDecision
from tbot_core.runtime.engine import CURSOR_FLUSH_BARS, EngineState
from tbot_core.safety.escalation import Action
from tbot_core.sanitize import register_secret
from tests.tbot_core.runtime.core_harness import make_home
from tests.tbot_core.runtime.engine_kit import AllowAll
from tests.tbot_core.runtime.engine_mutant_kit import Kit

T0, T1 = "2026-01-05T14:30:00Z", "2026-01-05T14:31:00Z"


def _kit(tmp_path, decide=lambda i, bar: None, bars: int = 4, symbols=("SPY",), **kw: Any) -> Kit:
    return Kit(make_home(tmp_path, {}, bars=bars, symbols=symbols).root, decide, **kw)


def _raise(exc: BaseException):
    raise exc


def _verdicts(kit: Kit) -> list[tuple[str, bool, str]]:
    return [(v.module, v.allow, v.reason) for v in reversed(kit.engine.journal.verdicts)]


class Low:
    """A random source that always answers the bottom of the range: every backoff is 0."""

    def uniform(self, low: float, high: float) -> float:
        return low


# -- how a run ends ------------------------------------------------------------------------------------------------


def test_a_feed_that_runs_out_ends_as_feed_ended_with_every_bar_counted_and_the_cursor_saved(tmp_path):
    kit = _kit(tmp_path, bars=4)
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
    kit = _kit(tmp_path, lambda i, bar: seen.append((kit.engine.view.state, kit.engine.view.account_read)))
    kit.engine.run()
    assert seen[0] == (EngineState.RUNNING, True)


def test_a_stop_asked_on_a_bar_ends_the_run_before_the_next_bar(tmp_path):
    kit = _kit(tmp_path, lambda i, bar: kit.stop.set() if i == 1 else None, bars=4)
    kit.engine.run()
    assert kit.engine.state is EngineState.STOPPED and kit.engine.bars == 2
    assert kit.store.cursor()[1] == 2


def test_a_stop_asked_on_the_last_bar_ends_as_stopped_not_feed_ended(tmp_path):
    kit = _kit(tmp_path, lambda i, bar: kit.stop.set() if i == 3 else None, bars=4)
    kit.engine.run()
    assert kit.engine.state is EngineState.STOPPED and kit.engine.bars == 4


def test_a_stop_while_waiting_for_the_broker_ends_as_stopped_with_no_bar(tmp_path):
    kit = _kit(tmp_path)
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
    kit = _kit(tmp_path, bars=4, feed=lambda inner: BreaksAfter(inner, 2, NetworkError("data API 503")))
    kit.engine.run()
    assert kit.engine.state is EngineState.ESCALATED and kit.engine.bars == 2
    (flag,) = kit.flags()
    assert flag.flag == "stop" and flag.reason == "feed_down: NetworkError (NetworkError) at feed: data API 503"
    (error,) = kit.log("error", "error_handler")[:1]
    assert error["context"]["context"]["bar_utc"] == kit.engine._ts_text
    assert kit.store.cursor()[1] == 2  # the bars before the break are saved


# -- a bar that fails ---------------------------------------------------------------------------------------------


def test_a_bar_that_fails_once_is_retried_and_processed_once(tmp_path):
    kit = _kit(tmp_path, lambda i, bar: _raise(LogicError("flaky")) if i == 0 else None, bars=3)
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
    kit = _kit(tmp_path, lambda i, bar: _raise(LogicError("always")), bars=3, API_RETRY_LIMIT="2")
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

    kit = _kit(tmp_path, decide, bars=3)
    kit.engine.run()
    assert kit.strategy.seen == 1 and kit.stop.waits == []
    assert kit.engine.state is EngineState.ESCALATED
    (flag,) = kit.flags()
    assert flag.reason.startswith("logic_error: LogicError (LogicError) at bar after retries")


def test_a_halt_during_the_retry_wait_stops_the_engine_naming_the_halt(tmp_path):
    kit = _kit(tmp_path, lambda i, bar: _raise(LogicError("bug")), bars=3, API_RETRY_BASE_SECONDS="1")
    kit.stop.on_wait = lambda n: kit.kill.trigger("operator kill")
    kit.engine.run()
    assert kit.engine.state is EngineState.ESCALATED and kit.strategy.seen == 1
    (flag,) = kit.flags()
    assert flag.flag == "stop"
    assert flag.reason == (
        f"logic_error: LogicError on bar {kit.engine._ts_text} SPY; kill switch halted during the retry wait"
    )


def test_a_stop_during_the_retry_wait_ends_the_bar_without_an_escalation(tmp_path):
    kit = _kit(tmp_path, lambda i, bar: _raise(LogicError("bug")), bars=3, API_RETRY_BASE_SECONDS="1")
    kit.stop.on_wait = lambda n: kit.stop.set()
    kit.engine.run()
    assert kit.engine.state is EngineState.ESCALATED and kit.strategy.seen == 1
    assert kit.flags() == []


def test_a_broker_down_on_a_bar_suspends_and_the_engine_goes_on_with_the_next_bar(tmp_path):
    asked: list[str] = []
    kit = _kit(
        tmp_path,
        lambda i, bar: _raise(NetworkError("quote timeout")) if i < 2 else None,
        bars=3,
        on_suspend=asked.append,
        API_RETRY_LIMIT="1",
    )
    kit.engine.run()
    assert kit.engine.state is EngineState.FEED_ENDED and kit.engine.bars == 2
    assert asked and asked[0].startswith("broker_down: NetworkError")
    assert kit.flags() == []


def test_the_backoff_between_bar_retries_comes_from_the_error_handler(tmp_path):
    kit = _kit(tmp_path, lambda i, bar: _raise(LogicError("x")) if i < 2 else None, bars=2, API_RETRY_BASE_SECONDS="2")
    kit.engine.run()
    assert sum(kit.stop.waits) <= 2 + 4
    quiet = _kit(tmp_path / "b", lambda i, bar: _raise(LogicError("x")) if i < 2 else None, bars=2, rng=Low())
    quiet.engine.run()
    assert quiet.stop.waits == [] and quiet.engine.bars == 2


# -- signals: gate, halt, suspension, stop, risk ----------------------------------------------------------------------


def test_a_sell_with_nothing_held_is_counted_and_judged_by_no_one(tmp_path):
    kit = _kit(tmp_path, lambda i, bar: "sell", bars=2)
    kit.engine.run()
    assert kit.engine.flat_sells == 2 and _verdicts(kit) == [] and kit.orders() == []


def test_a_buy_passes_the_risk_bot_and_is_submitted_under_an_id_derived_from_the_signal(tmp_path):
    kit = _kit(tmp_path, lambda i, bar: "buy" if i == 0 else None, bars=3)
    kit.engine.run()
    (order,) = kit.engine.journal.orders
    assert order.symbol == "SPY" and order.side == "buy" and order.strategy == "mid"
    assert order.bar_utc == kit.store.query("SELECT bar_utc FROM paper_orders")[0][0] or order.bar_utc
    client = kit.store.query("SELECT client_order_id FROM paper_orders")[0][0]
    assert client.startswith("mid-SPY-buy-2026-01-05T14:30:00")
    assert _verdicts(kit)[0][:2] == ("risk_bot", True)
    assert "SPY" in kit.engine.portfolio.positions  # filled on the next bar and read back


def test_a_fill_refreshes_the_account_and_publishes_it_before_the_bar_ends(tmp_path):
    seen: list[dict] = []

    def decide(i, bar):
        seen.append(dict(kit.engine.view.__dict__) if hasattr(kit.engine.view, "__dict__") else {})
        return "buy" if i == 0 else None

    kit = _kit(tmp_path, decide, bars=3)
    kit.engine.run()
    positions_at = [i for i, _ in enumerate(seen)]
    assert positions_at
    assert [p.symbol for p in kit.engine.view.positions] == ["SPY"]
    assert kit.engine.view.cash_cents == kit.engine.portfolio.cash_cents < 100_000_00


def test_a_signal_while_halted_gets_a_kill_switch_verdict_and_no_order(tmp_path):
    kit = _kit(tmp_path, lambda i, bar: "buy", bars=1)
    kit.kill.trigger("operator kill by ops: test")
    kit.engine.run()
    assert _verdicts(kit) == [("kill_switch", False, "halted: operator kill by ops: test")]
    assert kit.orders() == []


def test_a_signal_while_the_broker_is_suspended_gets_a_watchdog_verdict_and_no_order(tmp_path):
    kit = _kit(tmp_path, lambda i, bar: "buy", bars=1)
    kit.engine._connect()
    kit.control.suspended = True
    kit.engine.run()
    assert _verdicts(kit) == [("watchdog_bot", False, "broker suspended: no orders until it answers again")]
    assert kit.orders() == []


def _rest_a_limit_buy(kit: Kit, suspend: bool):
    def decide(i, bar):
        if i == 0:  # a resting limit buy above the market: the next bar trades through it
            kit.broker._inner.submit_order(OrderRequest("lim-1", "SPY", "buy", Decimal(1), "mid", Decimal("200")))
            kit.control.suspended = suspend

    return decide


def test_a_resting_order_fills_on_the_next_bar_and_the_fill_is_read_back_at_once(tmp_path):
    seen: list[tuple] = []
    kit = _kit(tmp_path, bars=3)
    rest = _rest_a_limit_buy(kit, suspend=False)
    kit.strategy.decide = lambda i, bar: (
        rest(i, bar),
        seen.append(tuple(p.symbol for p in kit.engine.view.positions)),
    )[0]
    kit.engine.run()
    assert kit.store.query("SELECT status FROM paper_orders")[0][0] == "filled"
    assert "SPY" in kit.engine.portfolio.positions and seen == [(), ("SPY",), ("SPY",)]


def test_a_suspended_broker_fills_nothing_on_a_bar(tmp_path):
    kit = _kit(tmp_path, bars=3)
    kit.strategy.decide = _rest_a_limit_buy(kit, suspend=True)
    kit.engine.run()
    assert kit.store.query("SELECT status FROM paper_orders")[0][0] == "accepted"
    assert kit.engine.portfolio.positions == {}


def test_a_signal_while_stopping_gets_a_supervisor_verdict_and_no_order(tmp_path):
    def decide(i, bar):
        kit.stop.set()
        return "buy"

    kit = _kit(tmp_path, decide, bars=1)
    kit.engine.run()
    assert _verdicts(kit) == [("supervisor", False, "engine stopping: no new orders")]
    assert kit.orders() == []


def test_a_risk_block_is_a_verdict_a_validation_fail_and_an_audited_trade_block(tmp_path):
    kit = _kit(tmp_path, lambda i, bar: "buy" if bar.symbol == "ZZZZ" else None, bars=2, symbols=("SPY", "ZZZZ"))
    kit.engine.run()
    ((module, allow, reason),) = _verdicts(kit)
    assert module == "risk_bot" and not allow and "not in SYMBOLS" in reason
    assert kit.ctx.matrix.state("validation_fail") == "triggered"
    (row,) = kit.audit.tail(5, category="risk")
    assert row.event == "trade_blocked"
    assert row.context_dict() == {
        "strategy": "mid",
        "symbol": "ZZZZ",
        "side": "buy",
        "reason": reason,
        "bar_utc": kit.engine._ts_text,
    }
    assert kit.orders() == []


class Blocks:
    """A gate that refuses every signal without a module verdict (the core's own refusal)."""

    def __init__(self) -> None:
        self.inner = AllowAll()

    def decide(self, signal, market):
        return GateDecision(False, "outside the session", ())

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_a_gate_refusal_without_module_verdicts_is_recorded_as_the_gates(tmp_path):
    kit = _kit(tmp_path, lambda i, bar: "buy", bars=1, gate=Blocks())
    kit.engine.run()
    assert _verdicts(kit) == [("gate", False, "outside the session")]
    assert kit.orders() == []


# -- orders that fail ------------------------------------------------------------------------------------------------


def test_a_refused_entry_is_logged_and_the_engine_goes_on(tmp_path):
    kit = _kit(tmp_path, lambda i, bar: "buy" if i == 0 else None, bars=3)
    kit.broker.fail["submit_order"] = [BrokerError("insufficient buying power", code=403)]
    kit.engine.run()
    assert kit.engine.state is EngineState.FEED_ENDED and kit.engine.bars == 3
    assert kit.orders() == [] and kit.flags() == []
    (line,) = kit.handler.path.read_text().splitlines()
    entry = json.loads(line)
    assert entry["error_code"] == "403" and entry["strategy"] == "mid"
    assert entry["context"]["client_order_id"].startswith("mid-SPY-buy-")
    assert {k: entry["context"][k] for k in ("symbol", "side", "where", "action")} == {
        "symbol": "SPY",
        "side": "buy",
        "where": "order_submit",
        "action": "log",
    }
    assert entry["context"]["qty"] > 0


def test_an_entry_that_cannot_reach_the_broker_is_retried_then_suspends(tmp_path):
    asked: list[str] = []
    kit = _kit(tmp_path, lambda i, bar: "buy" if i == 0 else None, bars=2, on_suspend=asked.append)
    kit.broker.fail["submit_order"] = [NetworkError("timeout") for _ in range(4)]
    kit.engine.run()
    assert kit.broker.calls.count("submit_order") == 4  # API_RETRY_LIMIT=3 retries
    assert asked and "order_submit after retries" in asked[0]
    assert kit.engine.state is EngineState.FEED_ENDED and kit.orders() == []


def test_a_bug_in_the_order_path_stops_the_engine(tmp_path):
    kit = _kit(tmp_path, lambda i, bar: "buy" if i == 0 else None, bars=3)
    kit.broker.fail["submit_order"] = [LogicError("bad request built")]
    kit.engine.run()
    assert kit.engine.state is EngineState.ESCALATED and kit.engine.bars == 0
    (flag,) = kit.flags()
    assert flag.flag == "stop" and flag.reason.startswith("logic_error: LogicError (LogicError) at order_submit:")


def _buy_then_sell(i, bar):
    return {0: "buy", 2: "sell"}.get(i)


def test_an_exit_that_cannot_reach_the_broker_halts_at_once_naming_the_exit(tmp_path):
    register_secret("sk-exit-Secret99")
    kit = _kit(tmp_path, _buy_then_sell, bars=4, API_RETRY_LIMIT="1")

    def fail_exits(n: int) -> None:
        pass

    kit.engine._connect()
    kit.stop.on_wait = fail_exits
    original = kit.broker.fail
    original["submit_order"] = []

    def decide(i, bar):
        if i == 2:
            original["submit_order"] = [NetworkError("timeout sk-exit-Secret99") for _ in range(2)]
        return _buy_then_sell(i, bar)

    kit.strategy.decide = decide
    kit.engine.run()
    state = kit.kill.state()
    assert state.triggered
    assert state.cause == "order_submit_exposed: NetworkError on sell SPY after retries: timeout ***"
    assert state.bar_utc == kit.engine._ts_text or state.bar_utc is not None
    assert kit.engine.state is EngineState.FEED_ENDED  # halted, not stopped: the bars go on, no order does
    (flag,) = kit.flags()
    assert flag.flag == "kill"


def test_an_order_retry_gives_up_when_the_kill_switch_halts_meanwhile(tmp_path):
    kit = _kit(tmp_path, lambda i, bar: "buy" if i == 0 else None, bars=2, API_RETRY_BASE_SECONDS="1")
    kit.broker.fail["submit_order"] = [NetworkError("timeout") for _ in range(4)]
    kit.stop.on_wait = lambda n: kit.kill.trigger("operator kill")
    kit.engine.run()
    assert kit.broker.calls.count("submit_order") == 1


def test_an_order_retry_gives_up_when_a_stop_is_asked(tmp_path):
    kit = _kit(tmp_path, lambda i, bar: "buy" if i == 0 else None, bars=2, rng=Low())
    kit.broker.fail["submit_order"] = [NetworkError("timeout") for _ in range(4)]
    kit.broker.fail["account"] = []
    calls = kit.broker.calls

    def stop_on_second_submit(*_a):
        return None

    kit.engine.run()
    assert calls.count("submit_order") == 4
    kit2 = _kit(tmp_path / "b", lambda i, bar: "buy" if i == 0 else None, bars=2, rng=Low())
    kit2.broker.fail["submit_order"] = [NetworkError("timeout") for _ in range(4)]
    kit2.broker.fail["order_status"] = []
    orig_calls = kit2.broker.calls

    class StopsOnSubmit(list):
        def append(self, name):
            super().append(name)
            if name == "submit_order":
                kit2.stop.set()

    kit2.broker.calls = StopsOnSubmit(orig_calls)
    kit2.engine.run()
    assert kit2.broker.calls.count("submit_order") == 1


# -- PnL, the day's start and the cursor ------------------------------------------------------------------------------


def test_the_first_bar_of_a_day_stores_its_start_equity_and_the_days_limit(tmp_path):
    kit = _kit(tmp_path, bars=2, DAILY_LOSS_LIMIT="500")
    kit.engine.run()
    assert kit.store.day_start_equity("2026-01-05") == 100_000
    assert kit.engine.sod_cents == 100_000_00 and kit.engine.day_limit_cents == 500_00
    assert kit.engine.view.sod_cents == 100_000_00 and kit.engine.view.day_limit_cents == 500_00


def test_a_restarted_engine_keeps_the_days_stored_start(tmp_path):
    kit = _kit(tmp_path, bars=2)
    kit.store.set_day_start_equity("2026-01-05", kit.engine.portfolio.equity() + 250_000)
    kit.engine.run()
    assert kit.engine.sod_cents == 250_000_00
    assert kit.kill.triggered  # a day that began far higher is a breach
    assert kit.kill.state().bar_utc == "2026-01-05T14:30:00.000000Z"  # the first bar judged it


def test_one_pnl_point_per_minute(tmp_path):
    kit = _kit(tmp_path, bars=6, symbols=("SPY", "AAPL"))  # 3 minutes, 2 bars each
    kit.engine.run()
    assert [p.t[:16] for p in kit.engine.journal.history] == [
        "2026-01-05T14:30",
        "2026-01-05T14:31",
        "2026-01-05T14:32",
    ]
    assert all(p.pnl == 0 for p in kit.engine.journal.history)


def test_a_held_symbol_without_a_price_halts_fail_closed(tmp_path):
    def decide(i, bar):  # the account read back a position the feed has no price for
        kit.engine.portfolio.positions["MSFT"] = (10, 100_00, "mid")

    kit = _kit(tmp_path, decide, bars=2)
    kit.engine.run()
    assert kit.kill.triggered and "no price for held MSFT" in kit.kill.state().cause


def test_the_cursor_is_saved_every_500_bars(tmp_path):
    seen: list[int] = []
    kit = _kit(
        tmp_path,
        lambda i, bar: seen.append(kit.store.cursor()[1]) if i in (CURSOR_FLUSH_BARS - 1, CURSOR_FLUSH_BARS) else None,
        bars=CURSOR_FLUSH_BARS + 1,
    )
    kit.engine.run()
    assert seen == [0, CURSOR_FLUSH_BARS]


def test_the_cursor_is_saved_when_half_a_second_has_passed(tmp_path):
    seen: list[int] = []

    def decide(i, bar):
        seen.append(kit.store.cursor()[1])
        kit.clock.now += 0.6 if i == 1 else 0.4

    kit = _kit(tmp_path, decide, bars=4)
    kit.engine.run()
    assert seen == [0, 0, 2, 2]


class FlushFails(AllowAll):
    def flush(self) -> None:
        raise OSError("disk full")


def test_a_strategy_log_that_cannot_be_written_is_recorded_and_trading_goes_on(tmp_path):
    kit = _kit(tmp_path, bars=2, gate=FlushFails())
    kit.engine.run()
    assert kit.engine.state is EngineState.FEED_ENDED
    errors = kit.log("error", "error_handler")
    assert errors and errors[-1]["context"]["context"] == {"where": "strategy log flush"}


def test_the_view_of_a_held_symbol_is_republished_once_a_second_at_most(tmp_path):
    seen: list[int] = []

    def decide(i, bar):
        seen.append(kit.engine.view.bars)
        kit.clock.now += 0.4
        return "buy" if i == 0 else None

    kit = _kit(tmp_path, decide, bars=8)
    kit.engine.run()
    assert seen == [0, 0, 0, 0, 4, 4, 4, 7]  # 0.4 s a bar: a new view after 1.2 s, not on every bar


def test_an_escalated_bar_action_is_not_a_retry():
    assert Action.SUPERVISED_STOP.stops_engine and not Action.SUSPEND.stops_engine


# -- more of the pipeline ----------------------------------------------------------------------------------------------


class Recording(AllowAll):
    """A gate that records what it was asked and answers with one module verdict of its own."""

    def __init__(self, allow: bool) -> None:
        self.allow = allow
        self.asked: list[tuple] = []
        self.flushes = 0

    def decide(self, signal, market):
        from tbot_core.enhancements.base import Verdict

        self.asked.append((signal.symbol, market.vix))
        verdict = Verdict("vix_gatekeeper", self.allow, "vix checked", {}, 1.0)
        return GateDecision(self.allow, "vix checked", (verdict,))

    def flush(self) -> None:
        self.flushes += 1


def test_the_gate_sees_the_bars_vix_and_its_module_verdicts_are_kept(tmp_path):
    gate = Recording(allow=False)
    kit = _kit(tmp_path, lambda i, bar: "buy", bars=1, gate=gate)
    kit.engine.run()
    assert gate.asked == [("SPY", 18.0)]
    assert _verdicts(kit) == [("vix_gatekeeper", False, "vix checked")]  # no extra "gate" row
    assert kit.orders() == []


def test_an_allowed_signal_keeps_the_gates_verdicts_before_the_risk_bots(tmp_path):
    kit = _kit(tmp_path, lambda i, bar: "buy" if i == 0 else None, bars=1, gate=Recording(allow=True))
    kit.engine.run()
    assert [m for m, _, _ in _verdicts(kit)] == ["vix_gatekeeper", "risk_bot"]


def test_the_gate_log_is_flushed_each_second_of_flushing_and_at_the_end(tmp_path):
    gate = Recording(allow=False)

    def decide(i, bar):
        kit.clock.now += 0.6  # every bar: the cursor is flushed, and the gate log once a second

    kit = _kit(tmp_path, decide, bars=4, gate=gate)
    kit.engine.run()
    assert gate.flushes == 3  # after bars 2 and 4 (1.2 s each), and once when the run ends


def test_a_restarted_engine_counts_on_from_the_saved_cursor_and_resumes_after_its_bar(tmp_path):
    kit = _kit(tmp_path, bars=4)
    kit.engine.run()
    again = Kit(kit.paths.root)
    assert again.engine.bars == 4 and again.engine.view.bars == 4
    assert again.engine.state is EngineState.STARTING and again.engine.view.state is EngineState.STARTING
    again.engine.run()
    assert again.engine.bars == 4 + again.strategy.seen and again.strategy.seen <= 1  # at most the last bar again


def test_defense_mode_makes_the_risk_bot_size_orders_smaller(tmp_path):
    normal = _kit(tmp_path / "a", lambda i, bar: "buy" if i == 0 else None, bars=1)
    normal.engine.run()
    defended = _kit(tmp_path / "b", lambda i, bar: "buy" if i == 0 else None, bars=1)
    defended.control.defense = True
    defended.engine.run()
    (full,), (small,) = normal.orders(), defended.orders()
    assert small[2] < full[2]


def test_a_submitted_order_is_journalled_with_the_brokers_answer(tmp_path):
    kit = _kit(tmp_path, lambda i, bar: "buy" if i == 0 else None, bars=1)
    kit.engine.run()
    (order,) = kit.engine.journal.orders
    order_id, qty, submitted = kit.store.query("SELECT order_id, qty, submitted_utc FROM paper_orders")[0]
    assert order.order_id == order_id and order.qty == qty and order.status == "filled"
    assert order.submitted_utc.endswith("Z") and order.bar_utc == kit.engine._ts_text
    assert kit.engine.view.orders == kit.engine.journal.orders


# -- other strategies' positions, the order path's arguments, the broker's answers ------------------------------------


def _hold_for(kit: Kit, strategy: str):
    """Bar 0: the account gets a SPY position opened by ``strategy``; bar 1: the scripted strategy ("mid") buys."""

    def decide(i, bar):
        if i == 0:
            kit.broker._inner.submit_order(OrderRequest("other-1", "SPY", "buy", Decimal(1), strategy))
            kit.engine.portfolio.refresh()
            return None
        return "buy" if i == 1 else None

    return decide


def test_a_symbol_held_by_another_strategy_is_refused_by_the_engine_before_the_gate(tmp_path):
    gate = Recording(allow=True)
    kit = _kit(tmp_path, bars=2, gate=gate)
    kit.strategy.decide = _hold_for(kit, "open")
    kit.engine.run()
    (row,) = kit.engine.journal.verdicts
    assert (row.module, row.allow, row.reason) == ("engine", False, "SPY is held by open")
    assert (row.strategy, row.symbol, row.side, row.ts_utc, row.latency_us) == (
        "mid",
        "SPY",
        "buy",
        kit.engine._ts_text,
        0,
    )
    assert gate.asked == [] and len(kit.orders()) == 1


def test_a_symbol_held_by_no_known_strategy_is_refused_naming_an_unknown_owner(tmp_path):
    kit = _kit(tmp_path, bars=2)
    kit.strategy.decide = _hold_for(kit, "")
    kit.engine.run()
    assert _verdicts(kit) == [("engine", False, "SPY is held by an unknown owner")]


class Counting(AllowAll):
    """A gate that allows every signal, records ``order_sent``, and shows how many signals it decided."""

    def __init__(self) -> None:
        self.decided = 0
        self.sent: list[str] = []

    def decide(self, signal, market):
        self.decided += 1
        return GateDecision(True, "ok", ())

    def order_sent(self, signal) -> None:
        self.sent.append(f"{signal.strategy} {signal.side} {signal.symbol}")

    def enhancement_status(self) -> tuple:
        return (f"decided {self.decided}, sent {len(self.sent)}",)


def test_an_order_the_broker_took_marks_its_ticker_at_the_gate(tmp_path):
    gate = Counting()
    kit = _kit(tmp_path, lambda i, bar: "buy" if i == 0 else None, bars=1, gate=gate)
    kit.engine.run()
    assert gate.sent == ["mid buy SPY"]
    assert kit.engine.view.enhancements == ("decided 1, sent 1",)  # the view shows the gate after the order


def test_a_blocked_signal_still_refreshes_the_gates_view(tmp_path):
    class Refuses(Counting):
        def decide(self, signal, market):
            self.decided += 1
            return GateDecision(False, "no", ())

    gate = Refuses()
    kit = _kit(tmp_path, lambda i, bar: "buy" if i == 1 else None, bars=2, gate=gate)
    kit.engine.run()
    assert kit.engine.view.enhancements == ("decided 1, sent 0",)


def test_an_order_the_broker_answered_rejected_or_canceled_uses_no_ticker(tmp_path):
    from dataclasses import replace

    for status in ("rejected", "canceled"):
        gate = Counting()
        kit = _kit(tmp_path / status, lambda i, bar: "buy" if i == 0 else None, bars=1, gate=gate)
        kit.broker.rewrite["submit_order"] = lambda order, status=status: replace(order, status=status)
        kit.engine.run()
        assert gate.sent == [], status
        assert kit.engine.journal.orders[0].status == status


def test_a_partial_fill_is_read_back_at_once(tmp_path):
    from dataclasses import replace

    kit = _kit(tmp_path, lambda i, bar: "buy" if i == 0 else None, bars=1)
    kit.broker.rewrite["submit_order"] = lambda order: replace(order, status="partially_filled")
    refreshes = []
    kit.broker.rewrite["account"] = lambda account: refreshes.append(1) or account
    kit.engine.run()
    assert len(refreshes) == 2  # when connecting, and after the partial fill


def test_the_journal_keeps_the_brokers_submission_time(tmp_path):
    kit = _kit(tmp_path, lambda i, bar: "buy" if i == 0 else None, bars=1)
    kit.engine.run()
    (submitted,) = kit.store.query("SELECT submitted_utc FROM paper_orders")[0]
    assert kit.engine.journal.orders[0].submitted_utc == submitted


def test_an_exit_the_broker_refuses_once_is_retried_as_open_risk(tmp_path):
    kit = _kit(tmp_path, bars=4, rng=Low())

    def decide(i, bar):
        if i == 2:
            kit.broker.fail["submit_order"] = [BrokerError("pending cancel")]
        return {0: "buy", 2: "sell"}.get(i)

    kit.strategy.decide = decide
    kit.engine.run()
    assert not kit.kill.triggered and kit.engine.portfolio.positions == {}
    (warning,) = kit.log("warning", "error_handler")
    assert warning["message"].startswith("submit mid-SPY-sell-")
    assert ": BrokerError (BrokerError); retry 1/3 in 0.00s" in warning["message"]
    assert warning["context"] == {"strategy": "mid", "symbol": "SPY"}


class HaltsOnSubmit(list):
    """The broker's call log, which halts the core (or asks it to stop) the moment an order is tried."""

    def __init__(self, act) -> None:
        super().__init__()
        self.act = act

    def append(self, name: str) -> None:
        super().append(name)
        if name == "submit_order":
            self.act()


def test_a_failed_order_is_not_retried_once_the_kill_switch_has_halted(tmp_path):
    kit = _kit(tmp_path, lambda i, bar: "buy" if i == 0 else None, bars=1, rng=Low())
    kit.broker.fail["submit_order"] = [NetworkError("timeout") for _ in range(4)]
    kit.broker.calls = HaltsOnSubmit(lambda: kit.kill.trigger("operator kill"))
    kit.engine.run()
    assert kit.broker.calls.count("submit_order") == 1
    assert kit.log("warning", "error_handler") == []  # given up before any retry was even scheduled


def test_a_failed_order_is_not_retried_once_a_stop_was_asked(tmp_path):
    kit = _kit(tmp_path, lambda i, bar: "buy" if i == 0 else None, bars=1, rng=Low())
    kit.broker.fail["submit_order"] = [NetworkError("timeout") for _ in range(4)]
    kit.broker.calls = HaltsOnSubmit(kit.stop.set)
    kit.engine.run()
    assert kit.broker.calls.count("submit_order") == 1
    assert kit.log("warning", "error_handler") == []


# -- what is published when -------------------------------------------------------------------------------------------


def test_a_refusal_by_the_engine_alone_is_published_at_the_end_of_its_bar(tmp_path):
    seen: list[tuple] = []
    kit = _kit(tmp_path, bars=3)
    hold = _hold_for(kit, "open")

    def decide(i, bar):
        seen.append(tuple(v.module for v in kit.engine.view.verdicts))
        return hold(i, bar)

    kit.strategy.decide = decide
    kit.engine.run()
    assert seen == [(), (), ("engine",)]  # the clock never moved: no quiet publish, only the change itself


def test_a_held_symbols_bar_or_a_new_pnl_point_is_published_once_a_full_second_has_passed(tmp_path):
    seen: list[int] = []

    def decide(i, bar):
        seen.append(kit.engine.view.bars)
        kit.clock.now += 1.0  # exactly the quiet interval per bar
        return "buy" if bar.symbol == "SPY" and i == 1 else None

    kit = _kit(tmp_path, decide, bars=8, symbols=("AAPL", "SPY"))
    kit.engine.run()
    # From bar 2 on only the quiet rule publishes: an AAPL bar (not held) opens a minute with a new PnL point, a
    # SPY bar (held) adds none; each is 1.0 s after the last view, so each bar is published.
    assert seen == [0, 1, 1, 3, 4, 5, 6, 7]


def test_the_engine_is_busy_from_the_clock_while_it_processes_a_bar(tmp_path):
    busy: list[float | None] = []
    kit = _kit(tmp_path, lambda i, bar: busy.append(kit.engine.busy_since), bars=2)
    kit.engine.run()
    assert busy == [1000.0, 1000.0] and kit.engine.busy_since is None
