"""The core's safety modules are registered self-checks: `tbot self-check` lists them and the core's startup runs them."""

from __future__ import annotations

import threading

from tbot_core.core_store import CoreStore
from tbot_core.home import BotHome
from tbot_core.safety.checks import safety_checks
from tbot_core.startup import run_startup
from tests.tbot_core.runtime.core_harness import make_home, start_core, state, stop_core, wait_for

SAFETY = ["kill_switch", "watchdog_bot", "risk_bot", "error_handler", "notifier_bot"]


def test_safety_checks_are_registered_and_pass_on_a_fresh_home_without_side_effects(bot_home):
    threads = threading.active_count()
    ordered = run_startup(bot_home)
    assert [r.module for r in ordered if r.module in SAFETY] == SAFETY
    results = {r.module: r for r in ordered}
    assert all(results[name].ok for name in SAFETY), [results[n].one_line() for n in SAFETY]
    assert "armed" in results["kill_switch"].detail
    # Cheap to build: no thread (watchdog, notifier), no core.db created, no broker connection made.
    assert threading.active_count() == threads
    assert not bot_home.paths.core_db.exists()


def test_kill_switch_check_reports_a_stored_halt_and_fails_closed_on_an_unreadable_core_db(bot_home):
    store = CoreStore(bot_home.paths.core_db)
    store.set_kill_state("triggered", "2026-01-05T15:00:00Z", "daily PnL -500.00 breached DAILY_LOSS_LIMIT", None)
    store.close()
    kill = next(c for c in safety_checks(bot_home) if c.name == "kill_switch")
    result = kill.self_check()
    assert result.ok and "triggered since 2026-01-05T15:00:00Z" in result.detail and "breached" in result.detail
    bot_home.paths.core_db.write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        bot_home.paths.core_db.with_name(bot_home.paths.core_db.name + suffix).unlink(missing_ok=True)
    broken = kill.self_check()
    assert not broken.ok and "core.db" in broken.detail and broken.hint


def test_watchdog_check_fails_when_its_interval_is_not_below_the_timeouts(home_paths):
    home_paths.plaintext_env.write_text("WATCHDOG_INTERVAL_SECONDS=60\nWATCHDOG_BROKER_TIMEOUT_SECONDS=15\n")
    results = {r.module: r for r in run_startup(BotHome(str(home_paths.root)))}
    assert not results["watchdog_bot"].ok and "WATCHDOG_INTERVAL_SECONDS" in results["watchdog_bot"].detail


def test_tbot_self_check_lists_the_safety_modules(home_paths, tbot):
    result = tbot("self-check", home=home_paths.root)
    assert result.returncode == 0, result.stderr
    for name in SAFETY:
        assert name in result.stdout


STAGE_ORDER = ["home_layout", "vault_key", "config", "identity", "control_flags", "security_bot"]
STAGE_ORDER += ["ledger_schema", "ledger_coa", "ledger_books", "audit_log"]


def test_startup_runs_home_secrets_ledger_audit_modules_then_build_check(bot_home):
    names = [r.module for r in run_startup(bot_home)]
    assert names[: len(STAGE_ORDER)] == STAGE_ORDER
    assert names[-1] == "build_check" and names[-1 - len(SAFETY) : -1] == SAFETY
    assert len(names) == len(set(names))  # every check once


def test_the_core_startup_runs_the_registry_once_in_order(tmp_path):
    paths = make_home(tmp_path, {})
    proc = start_core(paths)
    try:
        checks = wait_for(lambda: state(paths).get("self_check"), "self-check results in state.json")
        names = [c["module"] for c in checks]
        assert names[: len(STAGE_ORDER)] == STAGE_ORDER and names[-1] == "build_check"
        assert [n for n in names if n in SAFETY] == SAFETY  # each once: no private second list
    finally:
        assert stop_core(proc) == 0
