"""One scenario per Emergency Event Matrix / Shutdown Table row, each against a real ``tbot core`` subprocess.

Rows that need filled trades through the real gate (daily loss via PnL, validation
fail, SIGKILL recovery) are in test_engine_inprocess.py and test_sigkill.py.
"""

from __future__ import annotations

import json

from tbot_core.control import write_flag
from tests.tbot_core.runtime.core_harness import (
    audit_events,
    make_home,
    matrix_row,
    start_core,
    state,
    stop_core,
    wait_for,
)


def _running(paths):
    return wait_for(lambda: state(paths).get("mode") in {"running", "defense"}, "core running")


def test_manual_shutdown_stop_flag_stops_the_core_cleanly_and_it_can_start_again(tmp_path):
    paths = make_home(tmp_path, {})
    proc = start_core(paths)
    _running(paths)
    write_flag(paths, "stop", reason="maintenance")
    assert proc.wait(20) == 0
    assert state(paths)["mode"] == "stopped"
    assert matrix_row(paths, "manual_shutdown")["state"] == "triggered"
    acks = audit_events(paths, "flag_stop_acknowledged")
    assert acks and acks[-1][2]["outcome"] == "stopping" and acks[-1][2]["reason"] == "maintenance"
    assert audit_events(paths, "core_stopped")[-1][2]["exit_code"] == 0
    proc = start_core(paths)  # Reboot: Yes
    _running(paths)
    assert stop_core(proc) == 0


def test_second_core_for_the_same_identity_names_the_holder_and_exits(tmp_path):
    paths = make_home(tmp_path, {})
    proc = start_core(paths)
    _running(paths)
    second = start_core(paths)
    out, err = second.communicate(timeout=20)
    assert second.returncode != 0
    assert f"pid {proc.pid}" in err and "Traceback" not in err
    assert stop_core(proc) == 0


def test_decryption_failure_blocks_launch_with_one_line_and_audit(tmp_path):
    paths = make_home(tmp_path, {})
    enc = paths.encrypted_config
    enc.write_bytes(b"gAAAAA-not-a-fernet-token")
    proc = start_core(paths)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 3
    assert "launch blocked" in out and "Traceback" not in out + err
    blocked = audit_events(paths, "launch_blocked")
    assert blocked and blocked[-1][2]["matrix_row"] == "decrypt_fail"
    assert matrix_row(paths, "decrypt_fail")["state"] == "triggered"
    assert state(paths)["mode"] == "blocked"


def test_system_schema_failure_aborts_launch_and_names_the_remedy(tmp_path):
    paths = make_home(tmp_path, {})
    paths.core_db.write_bytes(b"this is not a sqlite database" * 100)
    proc = start_core(paths)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 3
    assert "core_store" in out and "hint:" in out
    blocked = audit_events(paths, "launch_blocked")
    assert blocked[-1][2]["matrix_row"] == "schema_fail"
    assert matrix_row(paths, "schema_fail")["state"] == "triggered"


def test_market_data_down_controlled_stop_then_restart_with_backoff_then_gives_up(tmp_path):
    paths = make_home(tmp_path, {"WATCHDOG_FEED_TIMEOUT_SECONDS": "0.3", "RESTART_MAX_ATTEMPTS": "1"})
    proc = start_core(paths, feed_stall_after_bars=20)
    assert proc.wait(30) == 4  # gave up after the allowed restart
    events = [e[1] for e in audit_events(paths)]
    assert events.count("market_data_down") == 2
    assert "engine_restart_scheduled" in events and "engine_restarted" in events
    stops = audit_events(paths, "controlled_stop")
    assert [s[2]["matrix_row"] for s in stops] == ["feed_down", "feed_down"]
    assert audit_events(paths, "engine_not_restarted")
    assert matrix_row(paths, "feed_down")["state"] == "triggered"
    # the stop arrived as a system flag, acknowledged in the audit log (no process was killed)
    assert all(a[2]["source"] == "system" for a in audit_events(paths, "flag_stop_acknowledged"))


def test_broker_api_down_suspends_then_resumes_without_restart(tmp_path):
    paths = make_home(tmp_path, {"WATCHDOG_BROKER_TIMEOUT_SECONDS": "0.2"})
    proc = start_core(paths, broker_outage_after_bars=10, broker_outage_seconds=1.5)
    wait_for(lambda: state(paths).get("mode") == "suspended", "suspended")
    assert matrix_row(paths, "broker_down")["state"] == "triggered"
    assert state(paths)["watchdog"]["broker"]["state"] == "suspended"
    wait_for(lambda: audit_events(paths, "broker_resumed"), "resume")
    wait_for(lambda: state(paths).get("mode") == "running", "running again")
    assert matrix_row(paths, "broker_down")["state"] == "cleared"
    assert proc.poll() is None  # Reboot: No — the core never went down
    assert not audit_events(paths, "engine_restarted")
    assert stop_core(proc) == 0


def test_logic_error_is_retried_then_escalated_to_supervised_stop_and_restart(tmp_path):
    paths = make_home(tmp_path, {"API_RETRY_LIMIT": "2", "RESTART_MAX_ATTEMPTS": "1"})
    proc = start_core(paths, engine_fault_at_bar=5)
    assert proc.wait(30) == 4
    escalations = audit_events(paths, "escalated")
    assert len(escalations) == 2 and escalations[0][2]["matrix_row"] == "logic_error"
    assert "engine_restarted" in [e[1] for e in audit_events(paths)]
    log = paths.system_log("TBOT_PAPER_01").read_text().splitlines()
    errors = [json.loads(line) for line in log if '"error_handler"' in line and "LogicError" in line]
    assert len(errors) >= 6  # (1 try + 2 retries) x 2 runs
    assert matrix_row(paths, "logic_error")["state"] == "triggered"


def test_defense_mode_flag_compresses_limits_and_is_audited(tmp_path):
    paths = make_home(tmp_path, {"DEFENSE_MODE_FACTOR": "0.5"})
    proc = start_core(paths)
    _running(paths)
    gross_before = wait_for(lambda: state(paths).get("exposure", {}).get("gross_limit"), "exposure")
    write_flag(paths, "defense_on", reason="volatile")
    wait_for(lambda: state(paths).get("mode") == "defense", "defense mode")
    s = state(paths)
    assert s["defense_mode"]["active"] is True
    assert float(s["exposure"]["gross_limit"]) == float(gross_before) / 2
    assert matrix_row(paths, "defense_mode")["state"] == "triggered"
    assert audit_events(paths, "defense_mode_on")
    write_flag(paths, "defense_off")
    wait_for(lambda: state(paths).get("mode") == "running", "running")
    assert matrix_row(paths, "defense_mode")["state"] == "cleared"
    assert stop_core(proc) == 0


def test_operator_kill_halts_survives_restart_and_only_reset_flag_clears(tmp_path):
    paths = make_home(tmp_path, {})
    proc = start_core(paths)
    _running(paths)
    write_flag(paths, "kill", reason="drill")
    wait_for(lambda: state(paths).get("mode") == "halted", "halted")
    assert state(paths)["kill_switch"]["state"] == "triggered"
    assert audit_events(paths, "kill_switch_triggered")[-1][2]["cause"].endswith("drill")
    write_flag(paths, "start")
    wait_for(lambda: audit_events(paths, "flag_start_acknowledged"), "start ack")
    assert audit_events(paths, "flag_start_acknowledged")[-1][2]["outcome"].startswith("refused")
    assert stop_core(proc) == 0
    proc = start_core(paths)
    wait_for(lambda: state(paths).get("mode") == "halted", "still halted after restart")
    write_flag(paths, "reset", reason="reviewed")
    wait_for(lambda: state(paths).get("mode") == "running", "re-armed")
    reset = audit_events(paths, "kill_switch_reset")[-1][2]
    assert reset["reason"] == "reviewed"
    assert stop_core(proc) == 0
