"""The engine pipeline after the gate: kill switch under load, risk blocks, restart resumes the paper account."""

from __future__ import annotations

import json
from decimal import Decimal

from tbot_core.gate import Gate
from tests.tbot_core.runtime.core_harness import make_home
from tests.tbot_core.runtime.engine_kit import build_engine


def _crash_after(n: int, low: float):
    return lambda i: 100.0 if i < n else low


def test_kill_switch_under_load_no_order_after_breach_tick_and_still_halted_after_restart(tmp_path):
    paths = make_home(
        tmp_path, {}, bars=10_000, symbols=("SPY", "AAPL", "MSFT", "NVDA"), price=_crash_after(6000, 70.0)
    )
    engine, store, kill, _ = build_engine(paths.root, 7, DAILY_LOSS_LIMIT="500")
    engine.run()
    assert engine.bars == 10_000
    state = kill.state()
    assert state.triggered and "DAILY_LOSS_LIMIT" in state.cause
    breach_bar = state.bar_utc
    orders_before = store.query("SELECT count(*) FROM paper_orders WHERE submitted_utc < ?", (state.since_utc,))[0][0]
    after = store.query(
        "SELECT count(*) FROM paper_orders WHERE submitted_utc >= ? OR bar_utc > ?", (state.since_utc, breach_bar)
    )[0][0]
    assert orders_before > 10 and after == 0
    assert any(v.module == "kill_switch" and not v.allow for v in engine.view.verdicts)
    store.close()
    # restart: a fresh engine on the same core.db stays halted and places nothing
    engine2, store2, kill2, ctx2 = build_engine(paths.root, 7, DAILY_LOSS_LIMIT="500")
    assert kill2.triggered
    engine2.run()
    assert store2.query("SELECT count(*) FROM paper_orders WHERE submitted_utc >= ?", (state.since_utc,))[0][0] == 0
    assert kill2.reset("reviewed", "ops") and not kill2.triggered
    assert ctx2.matrix.state("daily_loss") == "cleared"


def test_unknown_pnl_trips_the_kill_switch_fail_closed(tmp_path):
    paths = make_home(tmp_path, {}, bars=10)
    engine, store, kill, _ = build_engine(paths.root, 1000)
    assert kill.evaluate(None, 100, "2026-01-05T14:30:00Z", "no price for held SPY") is True
    assert "fail closed" in kill.state().cause


def test_risk_block_is_logged_audited_and_marks_validation_fail(tmp_path):
    paths = make_home(tmp_path, {}, bars=400, symbols=("SPY", "ZZZZ"))
    engine, store, kill, ctx = build_engine(paths.root, 3)
    engine.run()
    blocked = [v for v in engine.view.verdicts if v.module == "risk_bot" and not v.allow]
    assert any("not in SYMBOLS" in v.reason for v in blocked)
    assert ctx.matrix.state("validation_fail") == "triggered"
    assert store.query("SELECT count(*) FROM paper_orders WHERE symbol = 'ZZZZ'")[0][0] == 0


def test_restart_resumes_cash_and_positions_from_core_db(tmp_path):
    paths = make_home(tmp_path, {}, bars=151, symbols=("SPY",))
    engine, store, _, _ = build_engine(paths.root, 50)
    engine.run()
    cash, positions = engine.portfolio.cash_cents, dict(engine.portfolio.positions)
    assert positions  # every=50 over 151 bars: buy at 50, sell at 100, buy at 150
    store.close()
    engine2, store2, _, _ = build_engine(paths.root, 50)
    engine2.portfolio.refresh()  # what the engine does when it connects
    assert engine2.portfolio.cash_cents == cash and engine2.portfolio.positions == positions
    fills = store2.query("SELECT side, qty, price_cents, fee_cents FROM paper_fills")
    spent = sum((q * p + f) if s == "buy" else -(q * p - f) for s, q, p, f in fills)
    assert Decimal(100_000_00 - spent) == Decimal(cash)


def test_the_engine_writes_the_gates_buffered_strategy_log_by_the_end_of_a_run(tmp_path):
    """The gate only buffers verdicts; the engine must flush them (on its beat and when the run ends)."""
    paths = make_home(tmp_path, {}, bars=200)
    engine, store, _, ctx = build_engine(paths.root, 10)
    engine.gate = Gate(ctx.settings, ctx.identity, ctx.paths, audit=ctx.audit, broker_code="PAPER")
    engine.run()
    store.close()
    lines = paths.strategy_log(ctx.identity.BOT_IDENTITY, "JSON").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) >= 20  # 20 scripted signals, at least one verdict each
    assert {r["strategy"] for r in records} == {"mid"}


class SellsOnly:
    """A strategy that only ever says sell: with no position held there is nothing to close."""

    name = "mid"

    def on_bar(self, bar, vix):
        from tbot_core.signals import Signal

        return [Signal(bar.ts, "mid", bar.symbol, "sell", Decimal(repr(bar.close)), "test exit")]


def test_a_sell_with_no_position_is_no_trade_no_verdict_and_no_validation_failure(tmp_path):
    """Long only: a sell closes a position; with none held it is dropped before the gate."""
    paths = make_home(tmp_path, {}, bars=40, symbols=("SPY",))
    engine, store, _, ctx = build_engine(paths.root, 1000)
    engine.strategies = [SellsOnly()]
    engine.run()
    assert engine.flat_sells == 40
    assert engine.view.verdicts == ()
    assert ctx.matrix.state("validation_fail") == "armed"
    assert store.query("SELECT count(*) FROM paper_orders")[0][0] == 0


def test_a_kill_switch_whose_database_write_fails_still_halts_cancels_audits_and_alerts(tmp_path):
    """Fail closed: the breach halts this process even when core.db refuses the write, and the cancel, the
    audit row (the halt's second copy, which the next start reconciles from) and the alert still happen."""
    paths = make_home(tmp_path, {}, bars=10, symbols=("SPY",))
    _engine, store, kill, ctx = build_engine(paths.root, 1000)
    cancels: list[str] = []
    alerts: list[str] = []
    kill.cancel_orders = lambda: cancels.append("cancel") or 2
    kill.notifier.notify = lambda event, cause, **_: alerts.append(event)
    store.close()  # every later write to core.db raises
    assert kill.evaluate(-10_000_00, 100_00, "2026-01-05T14:31:00.000000Z")
    assert kill.triggered and cancels == ["cancel"] and alerts == ["kill_switch_triggered"]
    row = ctx.audit.latest("kill_switch", ("kill_switch_triggered",))
    assert row is not None and row.context_dict()["persisted"] is False and row.context_dict()["orders_cancelled"] == 2
    assert row.context_dict()["persist_error"].startswith("ConnectionClosedError: ")


def test_a_kill_switch_whose_audit_log_refuses_the_row_still_alerts_and_logs_why(tmp_path):
    """The audit row is one copy of the halt; when audit.db refuses it the alert and the system log still carry it."""
    import json

    paths = make_home(tmp_path, {}, bars=10, symbols=("SPY",))
    _engine, _store, kill, ctx = build_engine(paths.root, 1000)
    alerts: list[str] = []
    kill.notifier.notify = lambda event, cause, **_: alerts.append(event)
    ctx.audit.close()  # every later append raises
    assert kill.evaluate(-10_000_00, 100_00, "2026-01-05T14:31:00.000000Z")
    assert kill.triggered and alerts == ["kill_switch_triggered"]
    halts = [
        json.loads(line)
        for line in paths.system_log(ctx.identity.BOT_IDENTITY).read_text().splitlines()
        if '"HALT: ' in line
    ]
    assert halts and halts[-1]["context"]["audit_error"].startswith("ConnectionClosedError: ")


def test_the_daily_loss_row_changes_before_the_mode_it_explains(tmp_path):
    """state.json reads the mode before the matrix: when the kill switch trips, the matrix row must already say
    triggered; when it is reset, the row must already be cleared while the mode still reads halted."""
    paths = make_home(tmp_path, {}, bars=10, symbols=("SPY",))
    _engine, _store, kill, ctx = build_engine(paths.root, 1000)
    seen: list[tuple[str, bool]] = []
    record = ctx.matrix._set

    def spy(key: str, state: str, cause: str) -> None:
        if key == "daily_loss":
            seen.append((state, kill.triggered))
        record(key, state, cause)

    ctx.matrix._set = spy
    kill.evaluate(-10_000_00, 100_00, "2026-01-05T14:31:00.000000Z")
    assert kill.triggered and ctx.matrix.state("daily_loss") == "triggered"
    assert kill.reset("checked the fills", "ops")
    assert not kill.triggered and ctx.matrix.state("daily_loss") == "cleared"
    assert seen == [("triggered", False), ("cleared", True)]
