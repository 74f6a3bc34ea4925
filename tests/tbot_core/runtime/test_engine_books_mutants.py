"""The engine loop's safety branches in-process on real parts (``engine_mutant_kit.Kit``): the day's start, PnL points, the cursor, the gate's inputs and the journal.

The kit wires the replay feed over a real home's bars, the paper broker in core.db behind a wrapper that fails
the calls a test names, the kill switch, the error handler writing real control flags, the audit log and a sim
clock.
"""

from __future__ import annotations

from tbot_core.runtime.engine import CURSOR_FLUSH_BARS, EngineState
from tbot_core.safety.escalation import Action
from tests.tbot_core.runtime.engine_kit import AllowAll
from tests.tbot_core.runtime.engine_mutant_kit import Kit, Recording, make_kit, verdicts_of

T0, T1 = "2026-01-05T14:30:00Z", "2026-01-05T14:31:00Z"

# -- PnL, the day's start and the cursor ------------------------------------------------------------------------------


def test_the_first_bar_of_a_day_stores_its_start_equity_and_the_days_limit(tmp_path):
    kit = make_kit(tmp_path, bars=2, DAILY_LOSS_LIMIT="500")
    kit.engine.run()
    assert kit.store.day_start_equity("2026-01-05") == 100_000
    assert kit.engine.sod_cents == 100_000_00 and kit.engine.day_limit_cents == 500_00
    assert kit.engine.view.sod_cents == 100_000_00 and kit.engine.view.day_limit_cents == 500_00


def test_a_restarted_engine_keeps_the_days_stored_start(tmp_path):
    kit = make_kit(tmp_path, bars=2)
    kit.store.set_day_start_equity("2026-01-05", kit.engine.portfolio.equity() + 250_000)
    kit.engine.run()
    assert kit.engine.sod_cents == 250_000_00
    assert kit.kill.triggered  # a day that began far higher is a breach
    assert kit.kill.state().bar_utc == "2026-01-05T14:30:00.000000Z"  # the first bar judged it


def test_one_pnl_point_per_minute(tmp_path):
    kit = make_kit(tmp_path, bars=6, symbols=("SPY", "AAPL"))  # 3 minutes, 2 bars each
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

    kit = make_kit(tmp_path, decide, bars=2)
    kit.engine.run()
    assert kit.kill.triggered and "no price for held MSFT" in kit.kill.state().cause


def test_the_cursor_is_saved_every_500_bars(tmp_path):
    seen: list[int] = []
    kit = make_kit(
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

    kit = make_kit(tmp_path, decide, bars=4)
    kit.engine.run()
    assert seen == [0, 0, 2, 2]


class FlushFails(AllowAll):
    def flush(self) -> None:
        raise OSError("disk full")


def test_a_strategy_log_that_cannot_be_written_is_recorded_and_trading_goes_on(tmp_path):
    kit = make_kit(tmp_path, bars=2, gate=FlushFails())
    kit.engine.run()
    assert kit.engine.state is EngineState.FEED_ENDED
    errors = kit.log("error", "error_handler")
    assert errors and errors[-1]["context"]["context"] == {"where": "strategy log flush"}
    assert "disk full" in str(errors[-1]), "the error itself is recorded, not only where it happened"


def test_the_view_of_a_held_symbol_is_republished_once_a_second_at_most(tmp_path):
    seen: list[int] = []

    def decide(i, bar):
        seen.append(kit.engine.view.bars)
        kit.clock.now += 0.4
        return "buy" if i == 0 else None

    kit = make_kit(tmp_path, decide, bars=8)
    kit.engine.run()
    assert seen == [0, 0, 0, 0, 4, 4, 4, 7]  # 0.4 s a bar: a new view after 1.2 s, not on every bar


def test_an_escalated_bar_action_is_not_a_retry():
    assert Action.SUPERVISED_STOP.stops_engine and not Action.SUSPEND.stops_engine


# -- more of the pipeline ----------------------------------------------------------------------------------------------


def test_the_gate_sees_the_bars_vix_and_its_module_verdicts_are_kept(tmp_path):
    gate = Recording(allow=False)
    kit = make_kit(tmp_path, lambda i, bar: "buy", bars=1, gate=gate)
    kit.engine.run()
    assert gate.asked == [("SPY", 18.0)]
    assert verdicts_of(kit) == [("vix_gatekeeper", False, "vix checked")]  # no extra "gate" row
    assert kit.orders() == []


def test_an_allowed_signal_keeps_the_gates_verdicts_before_the_risk_bots(tmp_path):
    kit = make_kit(tmp_path, lambda i, bar: "buy" if i == 0 else None, bars=1, gate=Recording(allow=True))
    kit.engine.run()
    assert [m for m, _, _ in verdicts_of(kit)] == ["vix_gatekeeper", "risk_bot"]


def test_the_gate_log_is_flushed_each_second_of_flushing_and_at_the_end(tmp_path):
    gate = Recording(allow=False)

    def decide(i, bar):
        kit.clock.now += 0.6  # every bar: the cursor is flushed, and the gate log once a second

    kit = make_kit(tmp_path, decide, bars=4, gate=gate)
    kit.engine.run()
    assert gate.flushes == 3  # after bars 2 and 4 (1.2 s each), and once when the run ends


def test_a_restarted_engine_counts_on_from_the_saved_cursor_and_resumes_after_its_bar(tmp_path):
    kit = make_kit(tmp_path, bars=4)
    kit.engine.run()
    again = Kit(kit.paths.root)
    assert again.engine.bars == 4 and again.engine.view.bars == 4
    assert again.engine.state is EngineState.STARTING and again.engine.view.state is EngineState.STARTING
    again.engine.run()
    assert again.engine.bars == 4 + again.strategy.seen and again.strategy.seen <= 1  # at most the last bar again


def test_defense_mode_makes_the_risk_bot_size_orders_smaller(tmp_path):
    normal = make_kit(tmp_path / "a", lambda i, bar: "buy" if i == 0 else None, bars=1)
    normal.engine.run()
    defended = make_kit(tmp_path / "b", lambda i, bar: "buy" if i == 0 else None, bars=1)
    defended.control.defense = True
    defended.engine.run()
    (full,), (small,) = normal.orders(), defended.orders()
    assert small[2] < full[2]


def test_a_submitted_order_is_journalled_with_the_brokers_answer(tmp_path):
    kit = make_kit(tmp_path, lambda i, bar: "buy" if i == 0 else None, bars=1)
    kit.engine.run()
    (order,) = kit.engine.journal.orders
    order_id, qty, submitted = kit.store.query("SELECT order_id, qty, submitted_utc FROM paper_orders")[0]
    assert order.order_id == order_id and order.qty == qty and order.status == "filled"
    assert order.submitted_utc.endswith("Z") and order.bar_utc == kit.engine._ts_text
    assert kit.engine.view.orders == kit.engine.journal.orders
