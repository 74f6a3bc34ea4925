"""The engine loop's safety branches in-process on real parts (``engine_mutant_kit.Kit``): the verdict a signal gets when the core is halted, suspended or stopping, and what a failing order escalates to.

The kit wires the replay feed over a real home's bars, the paper broker in core.db behind a wrapper that fails
the calls a test names, the kill switch, the error handler writing real control flags, the audit log and a sim
clock.
"""

from __future__ import annotations

import json
from decimal import Decimal

from tbot_core.brokers.base import OrderRequest
from tbot_core.errors import BrokerError, LogicError, NetworkError
from tbot_core.gate import GateDecision
from tbot_core.runtime.engine import EngineState
from tbot_core.sanitize import register_secret
from tests.tbot_core.runtime.engine_kit import AllowAll
from tests.tbot_core.runtime.engine_mutant_kit import Kit, Low, make_kit, verdicts_of

T0, T1 = "2026-01-05T14:30:00Z", "2026-01-05T14:31:00Z"

# -- signals: gate, halt, suspension, stop, risk ----------------------------------------------------------------------


def test_a_sell_with_nothing_held_is_counted_and_judged_by_no_one(tmp_path):
    kit = make_kit(tmp_path, lambda i, bar: "sell", bars=2)
    kit.engine.run()
    assert kit.engine.flat_sells == 2 and verdicts_of(kit) == [] and kit.orders() == []


def test_a_buy_passes_the_risk_bot_and_is_submitted_under_an_id_derived_from_the_signal(tmp_path):
    kit = make_kit(tmp_path, lambda i, bar: "buy" if i == 0 else None, bars=3)
    kit.engine.run()
    (order,) = kit.engine.journal.orders
    assert order.symbol == "SPY" and order.side == "buy" and order.strategy == "mid"
    assert order.bar_utc == kit.store.query("SELECT bar_utc FROM paper_orders")[0][0] or order.bar_utc
    client = kit.store.query("SELECT client_order_id FROM paper_orders")[0][0]
    assert client.startswith("mid-SPY-buy-2026-01-05T14:30:00")
    assert verdicts_of(kit)[0][:2] == ("risk_bot", True)
    assert "SPY" in kit.engine.portfolio.positions  # filled on the next bar and read back


def test_a_fill_refreshes_the_account_and_publishes_it_before_the_bar_ends(tmp_path):
    seen: list[dict] = []

    def decide(i, bar):
        seen.append(dict(kit.engine.view.__dict__) if hasattr(kit.engine.view, "__dict__") else {})
        return "buy" if i == 0 else None

    kit = make_kit(tmp_path, decide, bars=3)
    kit.engine.run()
    positions_at = [i for i, _ in enumerate(seen)]
    assert positions_at
    assert [p.symbol for p in kit.engine.view.positions] == ["SPY"]
    assert kit.engine.view.cash_cents == kit.engine.portfolio.cash_cents < 100_000_00


def test_a_signal_while_halted_gets_a_kill_switch_verdict_and_no_order(tmp_path):
    kit = make_kit(tmp_path, lambda i, bar: "buy", bars=1)
    kit.kill.trigger("operator kill by ops: test")
    kit.engine.run()
    assert verdicts_of(kit) == [("kill_switch", False, "halted: operator kill by ops: test")]
    assert kit.orders() == []


def test_a_signal_while_the_broker_is_suspended_gets_a_watchdog_verdict_and_no_order(tmp_path):
    kit = make_kit(tmp_path, lambda i, bar: "buy", bars=1)
    kit.engine._connect()
    kit.control.suspended = True
    kit.engine.run()
    assert verdicts_of(kit) == [("watchdog_bot", False, "broker suspended: no orders until it answers again")]
    assert kit.orders() == []


def _rest_a_limit_buy(kit: Kit, suspend: bool):
    def decide(i, bar):
        if i == 0:  # a resting limit buy above the market: the next bar trades through it
            kit.broker._inner.submit_order(OrderRequest("lim-1", "SPY", "buy", Decimal(1), "mid", Decimal("200")))
            kit.control.suspended = suspend

    return decide


def test_a_resting_order_fills_on_the_next_bar_and_the_fill_is_read_back_at_once(tmp_path):
    seen: list[tuple] = []
    kit = make_kit(tmp_path, bars=3)
    rest = _rest_a_limit_buy(kit, suspend=False)
    kit.strategy.decide = lambda i, bar: (
        rest(i, bar),
        seen.append(tuple(p.symbol for p in kit.engine.view.positions)),
    )[0]
    kit.engine.run()
    assert kit.store.query("SELECT status FROM paper_orders")[0][0] == "filled"
    assert "SPY" in kit.engine.portfolio.positions and seen == [(), ("SPY",), ("SPY",)]


def test_a_suspended_broker_fills_nothing_on_a_bar(tmp_path):
    kit = make_kit(tmp_path, bars=3)
    kit.strategy.decide = _rest_a_limit_buy(kit, suspend=True)
    kit.engine.run()
    assert kit.store.query("SELECT status FROM paper_orders")[0][0] == "accepted"
    assert kit.engine.portfolio.positions == {}


def test_a_signal_while_stopping_gets_a_supervisor_verdict_and_no_order(tmp_path):
    def decide(i, bar):
        kit.stop.set()
        return "buy"

    kit = make_kit(tmp_path, decide, bars=1)
    kit.engine.run()
    assert verdicts_of(kit) == [("supervisor", False, "engine stopping: no new orders")]
    assert kit.orders() == []


def test_a_risk_block_is_a_verdict_a_validation_fail_and_an_audited_trade_block(tmp_path):
    kit = make_kit(tmp_path, lambda i, bar: "buy" if bar.symbol == "ZZZZ" else None, bars=2, symbols=("SPY", "ZZZZ"))
    kit.engine.run()
    ((module, allow, reason),) = verdicts_of(kit)
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
    kit = make_kit(tmp_path, lambda i, bar: "buy", bars=1, gate=Blocks())
    kit.engine.run()
    assert verdicts_of(kit) == [("gate", False, "outside the session")]
    assert kit.orders() == []


# -- orders that fail ------------------------------------------------------------------------------------------------


def test_a_refused_entry_is_logged_and_the_engine_goes_on(tmp_path):
    kit = make_kit(tmp_path, lambda i, bar: "buy" if i == 0 else None, bars=3)
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
    kit = make_kit(tmp_path, lambda i, bar: "buy" if i == 0 else None, bars=2, on_suspend=asked.append)
    kit.broker.fail["submit_order"] = [NetworkError("timeout") for _ in range(4)]
    kit.engine.run()
    assert kit.broker.calls.count("submit_order") == 4  # API_RETRY_LIMIT=3 retries
    assert asked and "order_submit after retries" in asked[0]
    assert kit.engine.state is EngineState.FEED_ENDED and kit.orders() == []


def test_a_bug_in_the_order_path_stops_the_engine(tmp_path):
    kit = make_kit(tmp_path, lambda i, bar: "buy" if i == 0 else None, bars=3)
    kit.broker.fail["submit_order"] = [LogicError("bad request built")]
    kit.engine.run()
    assert kit.engine.state is EngineState.ESCALATED and kit.engine.bars == 0
    (flag,) = kit.flags()
    assert flag.flag == "stop" and flag.reason.startswith("logic_error: LogicError (LogicError) at order_submit:")


def _buy_then_sell(i, bar):
    return {0: "buy", 2: "sell"}.get(i)


def test_an_exit_that_cannot_reach_the_broker_halts_at_once_naming_the_exit(tmp_path):
    register_secret("sk-exit-Secret99")
    kit = make_kit(tmp_path, _buy_then_sell, bars=4, API_RETRY_LIMIT="1")

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
    kit = make_kit(tmp_path, lambda i, bar: "buy" if i == 0 else None, bars=2, API_RETRY_BASE_SECONDS="1")
    kit.broker.fail["submit_order"] = [NetworkError("timeout") for _ in range(4)]
    kit.stop.on_wait = lambda n: kit.kill.trigger("operator kill")
    kit.engine.run()
    assert kit.broker.calls.count("submit_order") == 1


def test_an_order_retry_gives_up_when_a_stop_is_asked(tmp_path):
    kit = make_kit(tmp_path, lambda i, bar: "buy" if i == 0 else None, bars=2, rng=Low())
    kit.broker.fail["submit_order"] = [NetworkError("timeout") for _ in range(4)]
    kit.broker.fail["account"] = []
    calls = kit.broker.calls

    def stop_on_second_submit(*_a):
        return None

    kit.engine.run()
    assert calls.count("submit_order") == 4
    kit2 = make_kit(tmp_path / "b", lambda i, bar: "buy" if i == 0 else None, bars=2, rng=Low())
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
