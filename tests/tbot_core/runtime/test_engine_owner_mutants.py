"""The engine loop's safety branches in-process on real parts (``engine_mutant_kit.Kit``): other strategies' positions, the broker's answers, and what is published when.

The kit wires the replay feed over a real home's bars, the paper broker in core.db behind a wrapper that fails
the calls a test names, the kill switch, the error handler writing real control flags, the audit log and a sim
clock.
"""

from __future__ import annotations

from decimal import Decimal

from tbot_core.brokers.base import OrderRequest
from tbot_core.errors import BrokerError, NetworkError
from tbot_core.gate import GateDecision
from tests.tbot_core.runtime.engine_kit import AllowAll
from tests.tbot_core.runtime.engine_mutant_kit import Kit, Low, Recording, make_kit, verdicts_of

T0, T1 = "2026-01-05T14:30:00Z", "2026-01-05T14:31:00Z"

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
    kit = make_kit(tmp_path, bars=2, gate=gate)
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
    kit = make_kit(tmp_path, bars=2)
    kit.strategy.decide = _hold_for(kit, "")
    kit.engine.run()
    assert verdicts_of(kit) == [("engine", False, "SPY is held by an unknown owner")]


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
    kit = make_kit(tmp_path, lambda i, bar: "buy" if i == 0 else None, bars=1, gate=gate)
    kit.engine.run()
    assert gate.sent == ["mid buy SPY"]
    assert kit.engine.view.enhancements == ("decided 1, sent 1",)  # the view shows the gate after the order


def test_a_blocked_signal_still_refreshes_the_gates_view(tmp_path):
    class Refuses(Counting):
        def decide(self, signal, market):
            self.decided += 1
            return GateDecision(False, "no", ())

    gate = Refuses()
    kit = make_kit(tmp_path, lambda i, bar: "buy" if i == 1 else None, bars=2, gate=gate)
    kit.engine.run()
    assert kit.engine.view.enhancements == ("decided 1, sent 0",)


def test_an_order_the_broker_answered_rejected_or_canceled_uses_no_ticker(tmp_path):
    from dataclasses import replace

    for status in ("rejected", "canceled"):
        gate = Counting()
        kit = make_kit(tmp_path / status, lambda i, bar: "buy" if i == 0 else None, bars=1, gate=gate)
        kit.broker.rewrite["submit_order"] = lambda order, status=status: replace(order, status=status)
        kit.engine.run()
        assert gate.sent == [], status
        assert kit.engine.journal.orders[0].status == status


def test_a_partial_fill_is_read_back_at_once(tmp_path):
    from dataclasses import replace

    kit = make_kit(tmp_path, lambda i, bar: "buy" if i == 0 else None, bars=1)
    kit.broker.rewrite["submit_order"] = lambda order: replace(order, status="partially_filled")
    refreshes = []
    kit.broker.rewrite["account"] = lambda account: refreshes.append(1) or account
    kit.engine.run()
    assert len(refreshes) == 2  # when connecting, and after the partial fill


def test_the_journal_keeps_the_brokers_submission_time(tmp_path):
    kit = make_kit(tmp_path, lambda i, bar: "buy" if i == 0 else None, bars=1)
    kit.engine.run()
    (submitted,) = kit.store.query("SELECT submitted_utc FROM paper_orders")[0]
    assert kit.engine.journal.orders[0].submitted_utc == submitted


def test_an_exit_the_broker_refuses_once_is_retried_as_open_risk(tmp_path):
    kit = make_kit(tmp_path, bars=4, rng=Low())

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
    kit = make_kit(tmp_path, lambda i, bar: "buy" if i == 0 else None, bars=1, rng=Low())
    kit.broker.fail["submit_order"] = [NetworkError("timeout") for _ in range(4)]
    kit.broker.calls = HaltsOnSubmit(lambda: kit.kill.trigger("operator kill"))
    kit.engine.run()
    assert kit.broker.calls.count("submit_order") == 1
    assert kit.log("warning", "error_handler") == []  # given up before any retry was even scheduled


def test_a_failed_order_is_not_retried_once_a_stop_was_asked(tmp_path):
    kit = make_kit(tmp_path, lambda i, bar: "buy" if i == 0 else None, bars=1, rng=Low())
    kit.broker.fail["submit_order"] = [NetworkError("timeout") for _ in range(4)]
    kit.broker.calls = HaltsOnSubmit(kit.stop.set)
    kit.engine.run()
    assert kit.broker.calls.count("submit_order") == 1
    assert kit.log("warning", "error_handler") == []


# -- what is published when -------------------------------------------------------------------------------------------


def test_a_refusal_by_the_engine_alone_is_published_at_the_end_of_its_bar(tmp_path):
    seen: list[tuple] = []
    kit = make_kit(tmp_path, bars=3)
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

    kit = make_kit(tmp_path, decide, bars=8, symbols=("AAPL", "SPY"))
    kit.engine.run()
    # From bar 2 on only the quiet rule publishes: an AAPL bar (not held) opens a minute with a new PnL point, a
    # SPY bar (held) adds none; each is 1.0 s after the last view, so each bar is published.
    assert seen == [0, 1, 1, 3, 4, 5, 6, 7]


def test_the_engine_is_busy_from_the_clock_while_it_processes_a_bar(tmp_path):
    busy: list[float | None] = []
    kit = make_kit(tmp_path, lambda i, bar: busy.append(kit.engine.busy_since), bars=2)
    kit.engine.run()
    assert busy == [1000.0, 1000.0] and kit.engine.busy_since is None
