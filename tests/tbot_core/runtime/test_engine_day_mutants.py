"""The engine's day and minute bookkeeping on real parts (``engine_mutant_kit.Kit``): a day whose start cannot be
known halts fail closed, PnL points per minute carry the PnL of their minute, a new day is published at once,
and the heartbeat and the cursor follow the bars.
"""

from __future__ import annotations

from decimal import Decimal

from tbot_core.brokers.base import Position
from tbot_core.errors import BrokerError
from tbot_core.runtime.engine import EngineState
from tests.tbot_core.runtime.core_harness import audit_events
from tests.tbot_core.runtime.engine_mutant_kit import Kit, make_kit, raise_, verdicts_of


def write_rows(kit: Kit, stamps: list[str], symbol: str = "SPY") -> None:
    """Replace the home's bars with one bar of ``symbol`` at each UTC time given (VIX 18 at each)."""
    kit.paths.sample_ohlcv.write_text(
        "timestamp_utc,symbol,open,high,low,close,volume\n"
        + "".join(f"{ts},{symbol},100.00,100.05,99.95,100.00,1000\n" for ts in stamps)
    )
    kit.paths.sample_vix.write_text("timestamp_utc,vix\n" + "".join(f"{ts},18.00\n" for ts in stamps))


def test_a_held_symbol_without_a_price_at_the_days_first_bar_halts_and_stores_no_start(tmp_path):
    unpriced = Position("MSFT", Decimal(10), Decimal(100), None)
    kit = make_kit(tmp_path, bars=2)
    kit.broker.rewrite["positions"] = lambda held: [*held, unpriced]
    kit.engine.run()
    assert kit.kill.triggered
    assert kit.kill.state().cause == "cannot compute daily PnL: no price for held MSFT (fail closed)"
    assert kit.kill.state().bar_utc == "2026-01-05T14:30:00.000000Z"
    assert kit.store.day_start_equity("2026-01-05") is None  # an unknown equity is never stored as the day's start
    assert kit.engine.sod_cents is None and kit.engine.day_limit_cents is None
    assert kit.engine.state is EngineState.FEED_ENDED  # a halt, not a crashed bar


def test_a_day_start_the_store_cannot_give_back_halts_naming_it(tmp_path):
    kit = make_kit(tmp_path, bars=2)
    kit.store.day_start_equity = lambda day: None  # type: ignore[method-assign]  # core.db loses the row it wrote
    kit.engine.run()
    assert kit.kill.triggered
    assert kit.kill.state().cause == "cannot compute daily PnL: no start-of-day equity (fail closed)"


def test_each_minutes_pnl_point_carries_that_minutes_pnl(tmp_path):
    def decide(i, bar):
        kit.engine.portfolio.cash_cents += 100  # one dollar more after every bar

    kit = make_kit(tmp_path, decide, bars=3)
    kit.engine.run()
    assert [p.pnl for p in kit.engine.journal.history] == [Decimal("0.00"), Decimal("1.00"), Decimal("2.00")]


def test_bars_thirty_seconds_apart_give_one_pnl_point_per_minute(tmp_path):
    kit = make_kit(tmp_path, bars=4)
    stamps = ["2026-01-05T14:30:00Z", "2026-01-05T14:30:30Z", "2026-01-05T14:31:00Z", "2026-01-05T14:31:30Z"]
    write_rows(kit, stamps)
    kit.engine.run()
    assert kit.engine.bars == 4
    assert [p.t for p in kit.engine.journal.history] == ["2026-01-05T14:30:00.000000Z", "2026-01-05T14:31:00.000000Z"]


def test_the_days_start_is_published_at_the_end_of_its_first_bar(tmp_path):
    seen: list[int | None] = []
    kit = make_kit(tmp_path, lambda i, bar: seen.append(kit.engine.view.sod_cents), bars=2)
    kit.engine.run()
    assert seen == [None, 100_000_00]


def test_a_new_days_start_is_published_at_once_even_when_its_limit_is_the_same(tmp_path):
    seen: list[int | None] = []

    def decide(i, bar):
        seen.append(kit.engine.view.sod_cents)
        if i == 0:
            kit.engine.portfolio.cash_cents += 100  # the second day starts one dollar higher

    kit = make_kit(tmp_path, decide, bars=3, DAILY_LOSS_LIMIT="500")  # a fixed limit: the same on both days
    write_rows(kit, ["2026-01-05T14:30:00Z", "2026-01-06T14:30:00Z", "2026-01-06T14:31:00Z"])
    kit.engine.run()
    assert kit.engine.day_limit_cents == 500_00
    assert seen == [None, 100_000_00, 100_001_00]


def test_the_heartbeat_moves_when_a_bar_is_done(tmp_path):
    def decide(i, bar):
        kit.clock.now += 2.0  # the bar takes two (sim) seconds

    kit = make_kit(tmp_path, decide, bars=1)
    kit.engine.run()
    assert kit.engine.beat == kit.clock.now  # the watchdog sees progress at the bar's end, not its start
    assert kit.engine.busy_since is None


def test_the_cursor_is_not_saved_at_exactly_half_a_second(tmp_path):
    seen: list[int] = []

    def decide(i, bar):
        seen.append(kit.store.cursor()[1])
        kit.clock.now += 0.5

    kit = make_kit(tmp_path, decide, bars=3)
    kit.engine.run()
    assert seen == [0, 0, 2]  # saved after the second bar (1.0 s since the start), not after the first (0.5 s)


def test_a_halt_during_the_retry_wait_names_the_errors_class(tmp_path):
    kit = make_kit(tmp_path, lambda i, bar: raise_(BrokerError("odd answer")), bars=3, API_RETRY_BASE_SECONDS="1")
    kit.stop.on_wait = lambda n: kit.kill.trigger("operator kill")
    kit.engine.run()
    (flag,) = kit.flags()
    assert flag.reason == (
        f"logic_error: BrokerError on bar {kit.engine._ts_text} SPY; kill switch halted during the retry wait"
    )


# -- broker against books, as the engine runs it ------------------------------------------------------------------------
FOREIGN = Position("AAPL", Decimal(10), Decimal(100), Decimal(100))  # at the broker, in no book


def test_a_mismatch_found_at_start_refuses_entries_with_an_engine_verdict_naming_it(tmp_path):
    kit = make_kit(tmp_path, lambda i, bar: "buy" if i == 0 else None, bars=2)
    kit.broker.rewrite["positions"] = lambda held: [*held, FOREIGN]
    kit.engine.run()
    (row,) = audit_events(kit.paths, "broker_mismatch")
    assert row[2]["cause"] == "engine start"
    reason = kit.control.mismatch.reason
    assert "AAPL" in reason
    assert verdicts_of(kit) == [("engine", False, reason)]
    assert kit.orders() == []


def test_a_mismatch_found_after_a_resume_refuses_no_exit(tmp_path):
    def decide(i, bar):
        if i == 1:  # as after a broker resume: the books are compared again before the next bar
            kit.control.reconcile_due = True
            kit.broker.rewrite["positions"] = lambda held: [*held, FOREIGN]
        return {0: "buy", 2: "sell"}.get(i)

    kit = make_kit(tmp_path, decide, bars=3)
    kit.engine.run()
    (row,) = audit_events(kit.paths, "broker_mismatch")
    assert row[2]["cause"] == "broker resumed" and kit.control.mismatch.blocking
    assert [side for _, side, _ in kit.orders()] == ["buy", "sell"]  # the exit still went out


# -- what the engine keeps -----------------------------------------------------------------------------------------------
def test_the_journal_keeps_only_the_configured_number_of_verdicts_and_orders(tmp_path):
    kit = make_kit(
        tmp_path,
        lambda i, bar: ("buy", "buy", "sell")[i],  # SPY bought, AAPL bought, SPY sold
        bars=3,
        symbols=("SPY", "AAPL"),
        STATE_VERDICTS_KEPT="2",
        ENGINE_ORDERS_KEPT="2",
    )
    kit.engine.run()
    assert [(symbol, side) for symbol, side, _ in kit.orders()] == [("SPY", "buy"), ("AAPL", "buy"), ("SPY", "sell")]
    assert [(o.symbol, o.side) for o in kit.engine.journal.orders] == [("SPY", "sell"), ("AAPL", "buy")]  # newest two
    assert [(v.symbol, v.module) for v in kit.engine.journal.verdicts] == [("SPY", "risk_bot"), ("AAPL", "risk_bot")]


def test_an_engine_that_saw_no_bar_saves_no_cursor(tmp_path):
    kit = make_kit(tmp_path, bars=1)
    write_rows(kit, [])
    kit.engine.run()
    assert kit.engine.state is EngineState.FEED_ENDED and kit.engine.bars == 0
    assert kit.store.cursor() == (None, 0)  # the next start replays from the first bar
