"""The core fails closed under the failures operators meet: each test drives a real core subprocess.

Faults come from ``tests/fakes`` through the core's one wiring function
(``start_core(paths, fault=...)`` runs ``python -m tests.fakes.core_main``);
nothing here sets a key an operator could set.
"""

from __future__ import annotations

import time

from tbot_core.audit import AuditLog
from tbot_core.control import Operator, write_flag
from tests.tbot_core.runtime.core_harness import (
    audit_events,
    make_home,
    matrix_row,
    start_core,
    state,
    stop_core,
    wait_for,
)

SYSTEM = Operator("tbot-core", None)


def _mode(paths, *modes):
    return wait_for(lambda: state(paths).get("mode") in modes, f"mode in {modes}")


def _severity(paths, event):
    with AuditLog(paths.audit_db, readonly=True) as log:
        return [r.severity for r in log.iter_rows() if r.event == event]


# -- item 1: broker down at start -----------------------------------------------------------------
def test_broker_down_at_start_suspends_keeps_probing_and_resumes_by_itself(tmp_path):
    paths = make_home(tmp_path, {"WATCHDOG_BROKER_TIMEOUT_SECONDS": "0.5"})
    up = tmp_path / "broker_is_up"
    proc = start_core(paths, broker_up_when=up)
    _mode(paths, "suspended")
    assert matrix_row(paths, "broker_down")["state"] == "triggered"
    assert audit_events(paths, "broker_suspended")
    assert "broker unreachable at engine start" in audit_events(paths, "broker_suspended")[0][2]["cause"]
    time.sleep(1.0)  # several probe periods: still suspended, still alive, no account shown
    assert proc.poll() is None and state(paths)["mode"] == "suspended" and "account" not in state(paths)
    up.touch()
    wait_for(lambda: audit_events(paths, "broker_resumed"), "the watchdog resumes the broker")
    _mode(paths, "running")
    assert matrix_row(paths, "broker_down")["state"] == "cleared"
    wait_for(lambda: "account" in state(paths), "the account is read once the broker answers")
    assert stop_core(proc) == 0
    assert not audit_events(paths, "core_crashed")


# -- item 2: the kill switch survives the loss of one file ---------------------------------------------
def _halt_and_stop(paths):
    proc = start_core(paths)
    _mode(paths, "running", "defense")
    write_flag(paths, "kill", reason="operator halt for the test")
    _mode(paths, "halted")
    assert stop_core(proc) == 0


def test_kill_switch_stays_halted_when_core_db_is_moved_aside(tmp_path):
    paths = make_home(tmp_path, {})
    _halt_and_stop(paths)
    for suffix in ("", "-wal", "-shm"):
        moved = paths.core_db.with_name(paths.core_db.name + suffix)
        if moved.exists():
            moved.rename(tmp_path / f"core.db.aside{suffix}")
    proc = start_core(paths)
    _mode(paths, "halted")
    disagreement = audit_events(paths, "kill_switch_state_disagreement")
    assert (
        disagreement and disagreement[-1][2]["core_db"] == "armed" and disagreement[-1][2]["audit_log"] == "triggered"
    )
    assert _severity(paths, "kill_switch_state_disagreement") == ["critical"]
    assert matrix_row(paths, "daily_loss")["state"] == "triggered"
    write_flag(paths, "reset", reason="checked the account")
    _mode(paths, "running", "defense")
    assert stop_core(proc) == 0
    proc = start_core(paths)  # the audited reset is now the newest event: no second disagreement
    _mode(paths, "running", "defense")
    assert stop_core(proc) == 0
    assert len(audit_events(paths, "kill_switch_state_disagreement")) == 1


def test_kill_switch_stays_halted_when_the_audit_log_is_lost_and_says_so(tmp_path):
    paths = make_home(tmp_path, {})
    _halt_and_stop(paths)
    for path in (
        paths.audit_db,
        paths.audit_db.with_name(paths.audit_db.name + "-wal"),
        paths.audit_db.with_name(paths.audit_db.name + "-shm"),
        paths.audit_db.with_name(paths.audit_db.name + ".head"),
    ):
        path.unlink(missing_ok=True)
    proc = start_core(paths)
    _mode(paths, "halted")
    disagreement = audit_events(paths, "kill_switch_state_disagreement")
    assert (
        disagreement and disagreement[-1][2]["core_db"] == "triggered" and disagreement[-1][2]["taken"] == "triggered"
    )
    assert stop_core(proc) == 0


# -- item 3: every worker is supervised -------------------------------------------------------------------
def test_a_dead_watchdog_is_restarted_once_and_a_second_death_stops_the_core(tmp_path):
    paths = make_home(tmp_path, {"WATCHDOG_BROKER_TIMEOUT_SECONDS": "0.2"})
    proc = start_core(
        paths, broker_outage_after_bars=10, broker_outage_seconds=1.0, notifier_raises="broker_suspended,broker_resumed"
    )
    assert proc.wait(30) == 4
    restarted = audit_events(paths, "worker_restarted")
    assert [r[2]["worker"] for r in restarted] == ["watchdog"]
    assert "watchdog thread died" in restarted[0][2]["cause"]
    again = audit_events(paths, "worker_failed_again")
    assert again and again[0][2]["worker"] == "watchdog"
    assert [s[2]["restart"] for s in audit_events(paths, "controlled_stop")] == [False]
    assert state(paths)["mode"] == "stopped"
    assert audit_events(paths, "core_stopped")[-1][2]["exit_code"] == 4


def test_a_stalled_engine_is_restarted_once_then_the_core_stops(tmp_path):
    paths = make_home(tmp_path, {"WORKER_STALL_SECONDS": "0.5", "SUPERVISOR_STOP_GRACE_SECONDS": "10"})
    proc = start_core(paths, hang_at_bar="30:1.5")
    assert proc.wait(40) == 4
    restarted = audit_events(paths, "worker_restarted")
    assert [r[2]["worker"] for r in restarted] == ["engine"] and "without progress" in restarted[0][2]["cause"]
    assert audit_events(paths, "worker_failed_again")[0][2]["worker"] == "engine"


# -- item 4 is in tests/tbot_core/test_audit_concurrency.py --------------------------------------------------


# -- item 6: every start failure goes through the startup pipeline ---------------------------------------
def test_missing_broker_secret_blocks_launch_with_module_hint_audit_and_state(tmp_path):
    paths = make_home(tmp_path, {"BROKER": "alpaca"})
    proc = start_core(paths)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, out + err
    assert "launch blocked" in out and "broker" in out and "Traceback" not in out + err
    blocked = audit_events(paths, "launch_blocked")
    assert any(b[2]["module"] == "broker" and b[2]["hint"] for b in blocked)
    s = state(paths)
    assert s["mode"] == "blocked" and "broker" in s["blocked_reason"]
    assert matrix_row(paths, "schema_fail")["state"] == "triggered"
    assert audit_events(paths, "core_stopped")[-1][2]["exit_code"] == 3


# -- item 7: exits and restarts tell the truth -------------------------------------------------------------
def test_a_crash_that_leaves_the_supervisor_is_audited_as_a_crash_not_exit_0(tmp_path):
    paths = make_home(tmp_path, {"BROKER": "alpaca"})
    proc = start_core(paths, notifier_raises="launch_blocked")  # the alert path itself raises: a real crash
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 6, out + err
    assert "core crashed" in err and "Traceback" not in out + err
    assert audit_events(paths, "core_crashed")
    assert audit_events(paths, "core_stopped")[-1][2]["exit_code"] == 6


def test_restart_budget_is_per_time_window_so_spaced_outages_never_end_the_core(tmp_path):
    paths = make_home(
        tmp_path,
        {
            "WATCHDOG_FEED_TIMEOUT_SECONDS": "1.2",
            "RESTART_MAX_ATTEMPTS": "1",
            "RESTART_WINDOW_SECONDS": "1",
            "RESTART_BACKOFF_SECONDS": "0.05",
        },
    )
    proc = start_core(paths, feed_stall_after_bars=20)
    wait_for(lambda: len(audit_events(paths, "engine_restarted")) >= 3, "three restarts, each in its own window", 40)
    assert proc.poll() is None and not audit_events(paths, "engine_not_restarted")
    assert stop_core(proc) == 0


def test_an_exhausted_restart_budget_says_so(tmp_path):
    paths = make_home(tmp_path, {"WATCHDOG_FEED_TIMEOUT_SECONDS": "0.3", "RESTART_MAX_ATTEMPTS": "1"})
    proc = start_core(paths, feed_stall_after_bars=20)
    assert proc.wait(30) == 4
    reason = audit_events(paths, "engine_not_restarted")[-1][2]["reason"]
    assert reason.startswith("restart budget exhausted") and "no reboot" not in reason


def test_retry_backoff_is_capped_by_api_retry_max_seconds(tmp_path):
    # Uncapped, the first wait would be 60 s and the second 120 s: the escalation would never come in time.
    paths = make_home(
        tmp_path,
        {
            "API_RETRY_LIMIT": "2",
            "API_RETRY_BASE_SECONDS": "60",
            "API_RETRY_MAX_SECONDS": "0.1",
            "RESTART_MAX_ATTEMPTS": "0",
        },
    )
    proc = start_core(paths, engine_fault_at_bar=5)
    assert proc.wait(30) == 4
    assert audit_events(paths, "escalated")[0][2]["matrix_row"] == "logic_error"


def test_a_kill_flag_during_a_retry_wait_halts_at_once(tmp_path):
    paths = make_home(tmp_path, {"API_RETRY_LIMIT": "3", "API_RETRY_BASE_SECONDS": "60", "API_RETRY_MAX_SECONDS": "60"})
    proc = start_core(paths, engine_fault_at_bar=5)
    wait_for(
        lambda: (
            len([e for e in audit_events(paths) if e[1] == "engine_started"])
            and paths.system_log("TBOT_PAPER_01").exists()
            and "LogicError" in paths.system_log("TBOT_PAPER_01").read_text()
        ),
        "the engine is in its retry wait",
    )
    write_flag(paths, "kill", reason="halt during the wait")
    _mode(paths, "halted")
    cause = wait_for(lambda: audit_events(paths, "escalated"), "the wait ends and escalates")[0][2]["cause"]
    assert "kill switch halted during the retry wait" in cause
    assert stop_core(proc) in (0, 4)


# -- item 8: control requests never overwrite each other ----------------------------------------------------
def test_a_system_stop_and_an_operator_stop_in_one_poll_both_act_and_the_operator_wins(tmp_path):
    paths = make_home(tmp_path, {"REPLAY_SPEED": "5"})
    proc = start_core(paths)
    _mode(paths, "running", "defense")
    write_flag(paths, "stop", reason="logic_error: injected by the test", source="system", operator=SYSTEM)
    write_flag(paths, "stop", reason="operator shutdown")
    assert proc.wait(30) == 0
    acks = audit_events(paths, "flag_stop_acknowledged")
    assert [a[2]["reason"] for a in acks] == ["logic_error: injected by the test", "operator shutdown"]
    assert matrix_row(paths, "manual_shutdown")["state"] == "triggered"


def test_a_system_stop_left_by_an_earlier_core_is_acknowledged_as_superseded_not_acted_on(tmp_path):
    paths = make_home(tmp_path, {"REPLAY_SPEED": "5"})
    write_flag(paths, "stop", reason="logic_error: from a core that is gone", source="system", operator=SYSTEM)
    time.sleep(0.01)  # the core's start time is strictly later than the request
    proc = start_core(paths)
    wait_for(lambda: audit_events(paths, "flag_stop_acknowledged"), "the stale request is acknowledged")
    assert audit_events(paths, "flag_stop_acknowledged")[0][2]["outcome"].startswith("superseded")
    _mode(paths, "running", "defense")
    assert not audit_events(paths, "controlled_stop") and proc.poll() is None
    assert stop_core(proc) == 0


def test_an_engine_restart_while_the_broker_is_down_waits_suspended_instead_of_exiting(tmp_path):
    paths = make_home(
        tmp_path,
        {"WATCHDOG_BROKER_TIMEOUT_SECONDS": "0.2", "WATCHDOG_FEED_TIMEOUT_SECONDS": "0.5", "RESTART_MAX_ATTEMPTS": "5"},
    )
    proc = start_core(paths, broker_outage_after_bars=15, broker_outage_seconds=4, feed_stall_after_bars=20)
    wait_for(lambda: audit_events(paths, "broker_resumed"), "the broker comes back", 40)
    events = [e[1] for e in audit_events(paths)]
    restarted = events.index("engine_restarted")
    assert events.index("broker_suspended") < restarted < events.index("broker_resumed")
    assert proc.poll() is None and "core_crashed" not in events
    wait_for(lambda: "account" in state(paths), "the restarted engine read the account")
    assert stop_core(proc) == 0


def test_every_mode_change_is_one_audit_row_with_its_reason(tmp_path):
    paths = make_home(tmp_path, {"REPLAY_SPEED": "5"})
    proc = start_core(paths)
    _mode(paths, "running")
    write_flag(paths, "kill", reason="mode audit test")
    _mode(paths, "halted")
    write_flag(paths, "reset", reason="done")
    _mode(paths, "running")
    assert stop_core(proc) == 0
    changes = [(c["from"], c["to"]) for _cat, _ev, c in audit_events(paths, "mode_changed")]
    assert changes == [("starting", "running"), ("running", "halted"), ("halted", "running"), ("running", "stopped")]
    halted = [c for _cat, _ev, c in audit_events(paths, "mode_changed") if c["to"] == "halted"][0]
    assert "mode audit test" in halted["why"]
