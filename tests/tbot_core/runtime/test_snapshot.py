"""state.json is built only from published views, exactly (no float), and a real core's file is the schema."""

from __future__ import annotations

import json
import os
import types
from decimal import Decimal

from tbot_core.config import Settings
from tbot_core.errors import ConfigError
from tbot_core.home import BotHome
from tbot_core.identity import Identity
from tbot_core.runtime.engine_view import EngineState, EngineView, PositionView
from tbot_core.runtime.snapshot import CoreViews, build_state
from tbot_core.runtime.supervisor import EXIT_BLOCKED, blocked_before_launch
from tbot_core.safety.risk_bot import RiskBot
from tbot_core.state import empty_matrix, read_state
from tbot_core.state_schema import CoreMode, CoreState, MatrixRowState, RestartWindow
from tests.tbot_core.runtime.core_harness import audit_events, make_home, start_core, state, stop_core, wait_for

IDENTITY = Identity(BOT_IDENTITY="TBOT_PAPER_01", JURISDICTION_CODE="US", BROKER_CODE="PAPER")
# 2**53 + 1 cents: the first amount a float cannot hold, so any trip through float shows here.
HUGE = 2**53 + 1


def views(engine: EngineView | None, settings: Settings) -> CoreViews:
    return CoreViews(
        mode=CoreMode.RUNNING,
        started_utc="2026-01-05T14:30:00.000000Z",
        restart_window=RestartWindow(restarts=0, max=3, window_s=3600.0),
        matrix=empty_matrix(),
        limits=RiskBot(settings).limits(False),
        engine=engine,
    )


def test_amounts_are_summed_in_cents_and_leave_as_exact_decimals():
    settings = Settings()
    position = PositionView(symbol="SPY", qty=1, avg_cents=100, mark_cents=HUGE + 100, strategy="mid")
    engine = EngineView(
        state=EngineState.RUNNING,
        account_read=True,
        cash_cents=5,
        equity_cents=HUGE + 105,
        sod_cents=2_00,
        day_limit_cents=HUGE,
        positions=(position,),
    )
    built = build_state(views(engine, settings), settings, IDENTITY)
    assert built.pnl.unrealized == Decimal("90071992547409.93")
    assert built.pnl.daily == Decimal("90071992547408.98")
    assert built.pnl.realized == built.pnl.daily - built.pnl.unrealized == Decimal("-0.95")
    assert built.positions[0].market_value == Decimal("90071992547410.93")
    assert built.pnl.used_fraction is None or built.pnl.used_fraction == Decimal(0)
    assert json.loads(json.dumps(built.to_json()))["pnl"]["realized"] == "-0.95"


def test_before_the_broker_answered_there_is_no_account_and_a_held_symbol_without_a_price_shows_its_cost():
    settings = Settings()
    bare = build_state(views(EngineView(), settings), settings, IDENTITY)
    assert bare.account is None and bare.pnl is None and bare.positions is None and bare.tuning is None
    unpriced = PositionView(symbol="SPY", qty=2, avg_cents=10_00, mark_cents=None, strategy="open")
    engine = EngineView(account_read=True, cash_cents=0, positions=(unpriced,))
    built = build_state(views(engine, settings), settings, IDENTITY)
    assert built.account.equity is None and built.pnl.daily is None and built.pnl.realized is None
    assert built.positions[0].last_price == Decimal("10.00") and built.exposure.gross == Decimal("20.00")
    assert built.exposure.allocations["open"].used == Decimal("20.00")


def test_tuning_is_left_out_until_the_tracker_has_stats():
    settings = Settings()
    engine = EngineView(account_read=True, tuning=types.MappingProxyType({}))
    assert "tuning" not in build_state(views(engine, settings), settings, IDENTITY).to_json()


def test_a_real_cores_state_json_is_exactly_the_schema_while_running_and_after_it_stopped(tmp_path):
    paths = make_home(tmp_path, {}, bars=300)
    proc = start_core(paths, scripted_signal_every=5)
    try:
        # The scripted signals meet the real gate, so verdicts and tuning stats appear with the account.
        wait_for(lambda: {"account", "tuning", "verdicts", "orders"} <= set(state(paths)), "a trading core", 60)
        running = CoreState.from_json(state(paths), strict=True)
        assert running.mode in (CoreMode.RUNNING, CoreMode.DEFENSE)
        assert running.core.pid == proc.pid and running.tuning["mid"].blocks is not None
        assert running.kill_switch is not None and running.watchdog is not None and running.workers is not None
        assert len(running.emergency_matrix) == len(empty_matrix()) and running.config
    finally:
        assert stop_core(proc) == 0
    stopped = CoreState.from_json(state(paths), strict=True)
    assert stopped.mode is CoreMode.STOPPED and read_state(paths.state_file).status == "ok"
    moves = [(c["from"], c["to"]) for _cat, _ev, c in audit_events(paths, "mode_changed")]
    assert moves[0] == ("starting", "running") and moves[-1][1] == "stopped"


def test_a_core_that_cannot_read_its_config_publishes_a_blocked_state_of_the_schema(tmp_path, capsys):
    paths = make_home(tmp_path, {})
    home = BotHome(str(paths.root))
    assert blocked_before_launch(home, ConfigError(".env_bot: cannot decrypt")) == EXIT_BLOCKED
    blocked = CoreState.from_json(json.loads(paths.state_file.read_text()), strict=True)
    assert blocked.mode is CoreMode.BLOCKED and blocked.blocked_reason.startswith("security_bot: ")
    assert blocked.core.pid == os.getpid()
    [row] = [r for r in blocked.emergency_matrix if r.state is MatrixRowState.TRIGGERED]
    assert row.key == "decrypt_fail" and "cannot decrypt" in row.cause
    assert "launch blocked" in capsys.readouterr().out
