"""Broker against books at engine start: the paper broker in a real home, the ledger it books into, a real core."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from tbot_core.brokers.base import Order, Position
from tbot_core.runtime.engine import EngineControl
from tbot_core.runtime.reconcile import MismatchGuard, book_positions, find_mismatches, unreadable
from tests.conftest import run_tbot
from tests.tbot_core.runtime.core_harness import (
    audit_events,
    make_home,
    start_core,
    state,
    stop_core,
    wait_for,
    write_bars,
)
from tests.tbot_core.runtime.engine_kit import build_engine

T = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
FOREIGN = ("AAPL", 10, 150_000)  # 10 shares bought by hand at the broker: nothing in the books


def _order(coid: str, side: str = "buy", symbol: str = "SPY") -> Order:
    return Order("O-1", coid, symbol, side, Decimal(5), "accepted", T)


def _hold_by_hand(store, symbol: str, qty: int, cost_cents: int) -> None:
    """A position at the (paper) broker that no fill of this core made, so the ledger has no lot for it."""
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO paper_positions (symbol, qty, cost_cents, strategy) VALUES (?, ?, ?, '')",
            (symbol, qty, cost_cents),
        )


def _entries(engine, allowed: bool) -> list:
    return [v for v in engine.view.verdicts if v.side == "buy" and v.module == "engine" and v.allow is allowed]


# -- the comparison ---------------------------------------------------------------------------------------
def test_find_mismatches_names_each_symbol_with_both_quantities_and_foreign_open_orders() -> None:
    positions = [Position("SPY", Decimal(10), Decimal(100)), Position("AAPL", Decimal(3), Decimal(150))]
    books = {"SPY": Decimal(10), "MSFT": Decimal(2), "AAPL": Decimal(5)}
    orders = [_order("mid-SPY-buy-2026-01-05T14:30:00Z"), _order("by-hand-42", "sell", "NVDA")]
    found = find_mismatches(positions, books, orders, {"open", "mid", "close"})
    assert [(m.kind, m.symbol, m.broker_qty, m.book_qty) for m in found] == [
        ("position", "AAPL", Decimal(3), Decimal(5)),
        ("position", "MSFT", Decimal(0), Decimal(2)),
        ("open_order", "NVDA", Decimal(5), None),
    ]
    assert "not placed by this core" in found[2].detail
    assert find_mismatches(positions[:1], {"SPY": Decimal(10)}, orders[:1], {"mid"}) == []


def test_an_order_id_with_a_known_prefix_but_the_wrong_side_is_foreign() -> None:
    found = find_mismatches([], {}, [_order("mid-SPY-buy-2026", side="sell")], {"mid"})
    assert [m.kind for m in found] == ["open_order"]


def test_the_guard_blocks_alerts_and_audits_then_an_acknowledgement_lifts_it_for_that_picture(bot_home) -> None:
    alerts: list[tuple[str, str]] = []
    guard = MismatchGuard()
    guard.notify = lambda event, cause: alerts.append((event, cause))
    rows = find_mismatches([Position("AAPL", Decimal(10), Decimal(150))], {}, [], {"mid"})
    with bot_home.audit() as audit:
        assert guard.report(rows, "engine start", audit) and guard.blocking
        assert "AAPL" in guard.reason and "tbot control ack-mismatch" in guard.reason
        assert alerts and alerts[0][0] == "broker_mismatch" and "AAPL" in alerts[0][1]
        view = guard.view()
        assert view is not None and view.blocking and view.rows[0].broker_qty == Decimal(10)
        assert guard.acknowledge("ops", "bought by hand on purpose", audit).startswith("acknowledged 1")
        assert not guard.blocking and guard.view().acknowledged_by == "ops"
        assert not guard.report(rows, "broker resumed", audit)  # the same picture again: accepted already
        bigger = find_mismatches([Position("AAPL", Decimal(20), Decimal(150))], {}, [], {"mid"})
        assert guard.report(bigger, "broker resumed", audit)  # a different one blocks again
        assert guard.acknowledge("ops", "", audit).startswith("acknowledged")
        assert guard.acknowledge("ops", "", audit) == "no broker mismatch to acknowledge"
        assert not guard.report([], "broker resumed", audit) and guard.view() is None  # they agree again
        events = [(r.event, r.severity) for r in audit.iter_rows() if r.event.startswith("broker_mismatch")]
    assert events == [
        ("broker_mismatch", "critical"),
        ("broker_mismatch_acknowledged", "warning"),
        ("broker_mismatch", "critical"),
        ("broker_mismatch_acknowledged", "warning"),
    ]


def test_a_comparison_that_cannot_be_made_blocks_and_lifts_by_itself_once_one_succeeds(bot_home) -> None:
    guard = MismatchGuard()
    with bot_home.audit() as audit:
        assert guard.report([unreadable("the broker", "NetworkError: timed out")], "broker resumed", audit)
        assert "could not compare" in guard.reason
        real = find_mismatches([Position("AAPL", Decimal(1), Decimal(1))], {}, [], {"mid"})
        assert guard.report(real, "broker resumed", audit)
        assert not guard.report([], "broker resumed", audit) and guard.blocking  # a real one waits for the operator
        guard.acknowledge("ops", "", audit)
        assert guard.report([unreadable("the broker", "NetworkError: timed out")], "broker resumed", audit)
        assert not guard.report([], "broker resumed", audit) and not guard.blocking and guard.view() is None


# -- the paper broker and its ledger, in-process ---------------------------------------------------------------
def test_matching_books_write_no_mismatch_and_a_restart_holding_a_position_trades_on(tmp_path) -> None:
    paths = make_home(tmp_path, {}, bars=151, symbols=("SPY",))
    engine, store, _, ctx = build_engine(paths.root, 50)
    engine.run()
    assert engine.portfolio.positions  # buy at 50, sell at 100, buy at 150: one position held and booked
    assert book_positions(paths.ledger_db, "PAPER") == {"SPY": Decimal(engine.portfolio.positions["SPY"][0])}
    store.close()
    write_bars(paths, 300, ("SPY",), lambda i: 100.0)  # the same day goes on: bars 152..300 are new
    engine2, store2, _, _ = build_engine(paths.root, 20)
    engine2.run()
    assert not audit_events(paths, "broker_mismatch") and engine2.control.mismatch.view() is None
    assert store2.query("SELECT count(*) FROM paper_orders")[0][0] > 3  # the restarted engine kept trading


def test_a_position_at_the_broker_not_in_the_books_blocks_entries_but_not_exits_until_acknowledged(tmp_path) -> None:
    paths = make_home(tmp_path, {}, bars=100, symbols=("SPY", "AAPL"))
    engine, store, _, _ = build_engine(paths.root, 99)
    engine.run()  # bar 99 is an SPY bar: the scripted strategy buys SPY, and the fill is booked
    assert list(engine.portfolio.positions) == ["SPY"]
    _hold_by_hand(store, *FOREIGN)
    store.close()

    write_bars(paths, 300, ("SPY", "AAPL"), lambda i: 100.0)
    # Every bar signals: SPY buy (an entry), AAPL buy (held by no strategy), SPY sell (the exit of the held SPY) ...
    engine2, store2, _, _ = build_engine(paths.root, 1)
    alerts: list[str] = []
    engine2.control.mismatch.notify = lambda event, cause: alerts.append(f"{event}: {cause}")
    engine2.run()
    (row,) = audit_events(paths, "broker_mismatch")
    (mismatch,) = row[2]["mismatches"]
    assert (mismatch["kind"], mismatch["symbol"], mismatch["broker_qty"], mismatch["book_qty"]) == (
        "position",
        "AAPL",
        "10",
        "0",
    )
    assert row[2]["cause"] == "engine start" and alerts and alerts[0].startswith("broker_mismatch: engine start: AAPL")
    blocked = [v for v in _entries(engine2, allowed=False) if v.symbol == "SPY"]
    assert blocked and all("broker mismatch" in v.reason and "ack-mismatch" in v.reason for v in blocked)
    sides = dict(store2.query("SELECT side, count(*) FROM paper_orders GROUP BY side"))
    assert sides == {"buy": 1, "sell": 1}  # the held SPY was sold (an exit); no entry since the first run
    assert (shown := engine2.control.mismatch.view()) is not None and shown.blocking
    store2.close()

    # The operator acknowledges (the supervisor keeps this control across engine restarts): entries trade again.
    engine2.control.mismatch.acknowledge("ops", "AAPL was bought by hand", engine2.ctx.audit)
    write_bars(paths, 500, ("SPY", "AAPL"), lambda i: 100.0)
    engine3, store3, _, _ = build_engine(paths.root, 1)
    engine3.control = engine2.control
    engine3.run()
    assert store3.query("SELECT count(*) FROM paper_orders WHERE side = 'buy'")[0][0] > 1
    assert not [v for v in engine3.view.verdicts if "broker mismatch" in v.reason]
    assert len(audit_events(paths, "broker_mismatch")) == 1 and audit_events(paths, "broker_mismatch_acknowledged")


def test_engine_control_starts_with_no_mismatch_and_no_reconcile_due() -> None:
    control = EngineControl()
    assert not control.mismatch.blocking and not control.reconcile_due and control.mismatch.view() is None


# -- a real core: state.json, the audit row, the operator's command ------------------------------------------------
def test_a_real_core_shows_the_mismatch_in_state_and_tbot_control_ack_mismatch_lifts_it(tmp_path) -> None:
    paths = make_home(tmp_path, {"REPLAY_SPEED": "0"}, bars=40, symbols=("SPY", "AAPL"))
    from tbot_core.core_store import CoreStore

    store = CoreStore(paths.core_db)
    _hold_by_hand(store, *FOREIGN)
    store.close()
    proc = start_core(paths)
    try:
        shown = wait_for(lambda: state(paths).get("broker_mismatch"), "the mismatch in state.json")
        assert shown["blocking"] is True and shown["cause"] == "engine start"
        assert [(r["kind"], r["symbol"], r["broker_qty"], r["book_qty"]) for r in shown["rows"]] == [
            ("position", "AAPL", "10", "0")
        ]
        result = run_tbot("control", "ack-mismatch", "--reason", "mine, bought by hand", home=paths.root)
        assert result.returncode == 0, result.stdout + result.stderr
        wait_for(lambda: state(paths).get("broker_mismatch", {}).get("blocking") is False, "the acknowledgement")
        acked = audit_events(paths, "flag_ack_mismatch_acknowledged")
        assert acked and acked[0][2]["outcome"].startswith("acknowledged 1")
        (ack,) = audit_events(paths, "broker_mismatch_acknowledged")
        assert ack[2]["reason"] == "mine, bought by hand" and ack[2]["mismatches"][0]["symbol"] == "AAPL"
        assert state(paths)["broker_mismatch"]["acknowledged_by"]
    finally:
        stop_core(proc)
    (row,) = audit_events(paths, "broker_mismatch")
    assert row[2]["mismatches"][0]["broker_qty"] == "10"


def test_after_a_broker_resume_the_engine_compares_again_and_a_new_difference_blocks(tmp_path) -> None:
    paths = make_home(tmp_path, {"WATCHDOG_BROKER_TIMEOUT_SECONDS": "0.2", "REPLAY_SPEED": "20"}, bars=400)
    proc = start_core(paths, broker_outage_after_bars=10, broker_outage_seconds=2.0)
    try:
        wait_for(lambda: state(paths).get("mode") == "suspended", "the broker suspended")
        assert not audit_events(paths, "broker_mismatch")  # the start's comparison found the books right
        from tbot_core.core_store import CoreStore

        store = CoreStore(paths.core_db)
        _hold_by_hand(store, *FOREIGN)  # while the broker was away, someone bought AAPL by hand
        store.close()
        (row,) = wait_for(lambda: audit_events(paths, "broker_mismatch"), "the comparison after the resume")
        assert row[2]["cause"] == "broker resumed" and row[2]["mismatches"][0]["symbol"] == "AAPL"
        assert audit_events(paths, "broker_resumed")
        shown = wait_for(lambda: state(paths).get("broker_mismatch"), "the mismatch in state.json")
        assert shown["cause"] == "broker resumed" and shown["blocking"] is True
    finally:
        assert stop_core(proc) == 0
