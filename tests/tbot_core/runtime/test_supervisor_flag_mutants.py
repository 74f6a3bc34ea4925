"""The supervisor in-process on a real home: its parts built by the core's own wiring (paper broker, core.db,
audit log, kill switch, watchdog), control flags written and read through the real control folder, and
``state.json``.  Two seams from its constructor: a sim clock, and ``spawn``, which here records the engine and
watchdog threads instead of starting them (so a test sees exactly what a flag started).  Alerts go to
``RecordingNotifier`` (tests/fakes), and ``run`` is driven to its end by a stop flag written before it starts.

Each test names what the supervisor must do with a control flag.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tbot_core.control import Operator, read_flags, write_flag
from tbot_core.runtime.reconcile import Mismatch
from tbot_core.runtime.supervisor import (
    EXIT_GAVE_UP,
    EXIT_OK,
)
from tbot_core.safety.kill_switch import RESET_EVENT
from tests.tbot_core.runtime.supervisor_mutant_kit import Kit

# -- flags ----------------------------------------------------------------------------------------------------------


def test_an_operator_stop_flag_stops_the_core_and_marks_a_manual_shutdown(tmp_path):
    kit = Kit(tmp_path)
    sup = kit.open()
    sup.handle_flag(kit.flag("stop", "maintenance window"))
    assert sup.stop_requested.is_set() and sup._stop_cause == "stop flag"
    assert sup.context.matrix.state("manual_shutdown") == "triggered"
    row = next(r for r in sup.context.matrix.rows() if r.key == "manual_shutdown")
    assert row.cause == "stop flag from ops: maintenance window"
    assert kit.ack("stop")["outcome"] == "stopping" and read_flags(kit.paths)[0] == []


def test_a_stop_flag_without_a_reason_says_so(tmp_path):
    kit = Kit(tmp_path)
    sup = kit.open()
    sup.handle_flag(kit.flag("stop"))
    row = next(r for r in sup.context.matrix.rows() if r.key == "manual_shutdown")
    assert row.cause == "stop flag from ops: no reason"


def test_a_system_stop_naming_a_rebooting_row_is_a_controlled_stop_with_a_scheduled_restart(tmp_path):
    kit = Kit(tmp_path, {"RESTART_BACKOFF_SECONDS": "2"})
    sup = kit.open()
    sup.handle_flag(kit.flag("stop", "feed_down: no bar for 30s", source="system"))
    assert not sup.stop_requested.is_set() and sup.control.stop.is_set()
    assert kit.ack("stop")["outcome"] == "controlled stop"
    row = next(r for r in sup.context.matrix.rows() if r.key == "feed_down")
    assert row.state == "triggered" and row.cause == "no bar for 30s"
    (stop,) = kit.rows("supervisor", "controlled_stop")
    assert stop.context_dict() == {"matrix_row": "feed_down", "cause": "no bar for 30s", "restart": True}
    assert stop.severity == "critical"
    (scheduled,) = kit.rows("supervisor", "engine_restart_scheduled")
    assert scheduled.context_dict() == {"matrix_row": "feed_down", "delay_s": 2.0, "attempt": 1}
    assert sup._restart_at == kit.clock.now + 2.0 and sup._restart_key == "feed_down"
    assert kit.sent == [("feed_down_controlled_stop", "no bar for 30s", {"scope": "All"})]


def test_a_system_stop_from_before_this_core_started_is_superseded_and_does_nothing(tmp_path):
    kit = Kit(tmp_path)
    flag = kit.flag("stop", "feed_down: old", source="system")
    kit.sup.started_utc = "2999-01-01T00:00:00Z"  # type: ignore[assignment]
    sup = kit.open()
    sup.handle_flag(flag)
    assert kit.ack("stop")["outcome"] == "superseded: requested before this core started (2999-01-01T00:00:00Z)"
    assert not sup.control.stop.is_set() and not sup.stop_requested.is_set()
    assert sup.context.matrix.state("feed_down") == "armed"


def test_a_system_stop_requested_the_instant_this_core_started_is_acted_on(tmp_path):
    kit = Kit(tmp_path)
    flag = kit.flag("stop", "feed_down: at start", source="system")
    kit.sup.started_utc = flag.requested_utc  # only a request from before this core is someone else's
    sup = kit.open()
    sup.handle_flag(flag)
    assert kit.ack("stop")["outcome"] == "controlled stop" and sup.control.stop.is_set()


def test_an_operator_stop_from_before_the_start_still_stops(tmp_path):
    kit = Kit(tmp_path)
    flag = kit.flag("stop", "feed_down: typed by hand")
    kit.sup.started_utc = "2999-01-01T00:00:00Z"  # type: ignore[assignment]
    sup = kit.open()
    sup.handle_flag(flag)
    assert sup.stop_requested.is_set() and kit.ack("stop")["outcome"] == "stopping"


def test_a_system_stop_with_an_unknown_row_is_an_ordinary_stop(tmp_path):
    kit = Kit(tmp_path)
    sup = kit.open()
    sup.handle_flag(kit.flag("stop", "no_such_row: something", source="system"))
    assert sup.stop_requested.is_set() and kit.ack("stop")["outcome"] == "stopping"


def test_a_system_stop_whose_row_says_no_reboot_ends_the_core(tmp_path):
    kit = Kit(tmp_path)
    sup = kit.open()
    sup.handle_flag(kit.flag("stop", "validation_fail: key revoked", source="system"))
    assert sup.stop_requested.is_set() and sup.exit_code == EXIT_GAVE_UP and sup._restart_at is None
    assert sup._stop_cause == "key revoked" and sup.control.stop.is_set()
    (stop,) = kit.rows("supervisor", "controlled_stop")
    assert stop.context_dict() == {"matrix_row": "validation_fail", "cause": "key revoked", "restart": False}
    assert stop.severity == "critical"
    (refused,) = kit.rows("supervisor", "engine_not_restarted")
    assert refused.severity == "critical"
    assert refused.context_dict() == {
        "matrix_row": "validation_fail",
        "attempts": 0,
        "reason": "no reboot for this event (Emergency Event Matrix)",
    }
    assert sup.context.matrix.state("validation_fail") == "triggered"
    assert kit.sent == [("validation_fail_controlled_stop", "key revoked", {"scope": "All"})]


def test_restarts_beyond_the_budget_end_the_core(tmp_path):
    kit = Kit(tmp_path, {"RESTART_MAX_ATTEMPTS": "1"})
    sup = kit.open()
    sup.controlled_stop("feed_down", "first")
    assert not sup.stop_requested.is_set()
    sup.controlled_stop("feed_down", "second")
    assert sup.stop_requested.is_set() and sup.exit_code == EXIT_GAVE_UP
    (refused,) = kit.rows("supervisor", "engine_not_restarted")
    assert refused.context_dict()["reason"].startswith("restart budget exhausted: 1 restarts")


def test_the_restart_budget_is_per_window_so_an_old_restart_no_longer_counts(tmp_path):
    kit = Kit(tmp_path, {"RESTART_MAX_ATTEMPTS": "1", "RESTART_WINDOW_SECONDS": "10"})
    sup = kit.open()
    sup.controlled_stop("feed_down", "first")
    kit.clock.now += 10.5
    sup.controlled_stop("feed_down", "second, much later")
    assert not sup.stop_requested.is_set() and sup.exit_code == EXIT_OK
    assert len(kit.rows("supervisor", "engine_restart_scheduled")) == 2


def test_a_system_stop_naming_only_its_row_uses_the_row_as_the_cause(tmp_path):
    kit = Kit(tmp_path)
    sup = kit.open()
    sup.handle_flag(kit.flag("stop", "feed_down", source="system"))
    (stop,) = kit.rows("supervisor", "controlled_stop")
    assert stop.context_dict()["cause"] == "feed_down"


def test_a_fatal_stop_by_default_names_a_second_worker_failure(tmp_path):
    kit = Kit(tmp_path)
    sup = kit.open()
    sup._restart_at = 5.0
    sup.fatal_stop("logic_error", "engine failed again")
    (refused,) = kit.rows("supervisor", "engine_not_restarted")
    assert refused.context_dict()["reason"] == "no restart after a second worker failure"
    assert sup._restart_at is None


@pytest.mark.parametrize(("stop", "row"), [("fatal_stop", "logic_error"), ("controlled_stop", "feed_down")])
def test_a_stop_whose_engine_ignores_it_audits_the_cause_and_ends_the_process(tmp_path, stop, row):
    kit = Kit(tmp_path)
    sup = kit.open()
    sup.start_engine()
    kit.threads[0].alive = True  # an engine thread that does not end when told to
    getattr(sup, stop)(row, "engine wedged")
    (exit_row,) = kit.rows("supervisor", "engine_unresponsive_exit")
    assert exit_row.context_dict()["cause"] == "engine wedged" and kit.exits == [5]


def test_a_garbled_flag_file_is_quarantined_and_audited_by_the_flag_pass(tmp_path):
    kit = Kit(tmp_path)
    sup = kit.open()
    (kit.paths.control_dir / "stop.flag").write_bytes(b"\x00 not a flag")
    sup._handle_flags()
    (row,) = kit.rows("control", "flag_quarantined")
    assert row.context_dict()["file"] == "stop.flag" and row.severity == "warning"
    assert not (kit.paths.control_dir / "stop.flag").exists() and not sup.stop_requested.is_set()


def test_a_start_flag_starts_a_stopped_engine_and_cancels_a_pending_restart(tmp_path):
    kit = Kit(tmp_path)
    sup = kit.open()
    sup._restart_at = 99.0
    sup.control.stop.set()
    sup.handle_flag(kit.flag("start"))
    assert kit.ack("start")["outcome"] == "engine started"
    assert kit.names() == ["engine"] and sup._restart_at is None and not sup.control.stop.is_set()
    (started,) = kit.rows("supervisor", "engine_started")
    assert started.context_dict() == {"resume_after_bar": None, "broker": "PAPER"}


def test_a_start_flag_for_a_running_engine_changes_nothing(tmp_path):
    kit = Kit(tmp_path)
    sup = kit.open()
    sup.start_engine()
    kit.threads[0].alive = True
    sup.handle_flag(kit.flag("start"))
    assert kit.ack("start")["outcome"] == "already running" and kit.names() == ["engine"]


def test_a_start_flag_while_halted_is_refused(tmp_path):
    kit = Kit(tmp_path)
    sup = kit.open()
    assert sup.kill is not None
    sup.kill.trigger("operator kill")
    sup.handle_flag(kit.flag("start"))
    assert kit.ack("start")["outcome"] == "refused: kill switch is triggered; reset it first"
    assert kit.threads == []


def test_a_system_kill_flag_halts_as_an_escalation(tmp_path):
    kit = Kit(tmp_path)
    sup = kit.open()
    sup.handle_flag(kit.flag("kill", "daily_loss: exit refused", source="system"))
    assert sup.kill is not None and sup.kill.triggered
    assert sup.kill.state().cause == "escalated by the error handler: daily_loss: exit refused"
    ack = kit.ack("kill")
    assert ack["outcome"] == "halted"
    (halt,) = kit.rows("kill_switch", "kill_switch_triggered")
    assert halt.actor == "system"


def test_an_operator_kill_flag_halts_in_the_operators_name(tmp_path):
    kit = Kit(tmp_path)
    sup = kit.open()
    sup.handle_flag(kit.flag("kill", "fat finger", user="alice"))
    assert sup.kill is not None and sup.kill.state().cause == "operator kill by alice: fat finger"
    (halt,) = kit.rows("kill_switch", "kill_switch_triggered")
    assert halt.actor == "operator"
    assert kit.ack("kill")["outcome"] == "halted"


def test_a_reset_flag_rearms_a_halted_switch_and_says_when_there_was_nothing_to_reset(tmp_path):
    kit = Kit(tmp_path)
    sup = kit.open()
    sup.handle_flag(kit.flag("reset", "checked"))
    assert kit.ack("reset")["outcome"] == "not halted; nothing to reset"
    assert sup.kill is not None
    sup.kill.trigger("operator kill")
    sup.handle_flag(kit.flag("reset", "checked the fills", user="bob"))
    outcomes = [r.context_dict()["outcome"] for r in kit.rows("control", "flag_reset_acknowledged")]
    assert outcomes == ["not halted; nothing to reset", "kill switch re-armed"]
    assert not sup.kill.triggered
    (reset,) = kit.rows("kill_switch", RESET_EVENT)  # who re-armed it, and why, for the next audit
    assert reset.context_dict()["operator"] == "bob" and reset.context_dict()["reason"] == "checked the fills"


def test_defense_flags_switch_defense_mode_on_and_off_with_the_matrix_row_and_an_audit_row(tmp_path):
    kit = Kit(tmp_path)
    sup = kit.open()
    sup.handle_flag(kit.flag("defense_on", "volatile", user="carol"))
    assert sup.control.defense is True and sup.context.matrix.state("defense_mode") == "triggered"
    assert kit.ack("defense_on")["outcome"] == "done"
    sup.handle_flag(kit.flag("defense_off", "calm", user="carol"))
    assert sup.control.defense is False and sup.context.matrix.state("defense_mode") == "cleared"
    on, off = kit.rows("risk")
    assert (on.event, off.event) == ("defense_mode_on", "defense_mode_off")
    assert on.severity == "warning"
    factor = str(sup.settings.defense_mode_factor)
    assert on.context_dict() == {"cause": "defense_on flag from carol", "factor": factor}
    assert off.context_dict() == {"cause": "defense_off flag from carol", "factor": factor}


def test_an_ack_mismatch_flag_lets_entries_through_again_in_the_operators_name(tmp_path):
    kit = Kit(tmp_path)
    sup = kit.open()
    sup.handle_flag(kit.flag("ack_mismatch", "nothing to accept"))
    assert kit.ack("ack_mismatch")["outcome"] == "no broker mismatch to acknowledge"
    found = Mismatch("position", "SPY", Decimal(5), Decimal(0), "broker holds 5, books 0")
    sup.control.mismatch.report([found], "engine start", kit.audit)
    assert sup.control.mismatch.blocking
    sup.handle_flag(kit.flag("ack_mismatch", "the 5 SPY are mine", user="dana"))
    assert not sup.control.mismatch.blocking
    outcomes = [r.context_dict()["outcome"] for r in kit.rows("control", "flag_ack_mismatch_acknowledged")]
    assert outcomes[-1] == "acknowledged 1 broker mismatch(es); new entries allowed"
    (accepted,) = kit.rows("engine", "broker_mismatch_acknowledged")
    assert accepted.context_dict()["operator"] == "dana" and accepted.context_dict()["reason"] == "the 5 SPY are mine"


def test_every_pending_flag_is_handled_in_one_pass(tmp_path):
    kit = Kit(tmp_path)
    sup = kit.open()
    write_flag(kit.paths, "defense_on", reason="a", operator=Operator("ops", None))
    write_flag(kit.paths, "stop", reason="b", operator=Operator("ops", None))
    sup._handle_flags()
    assert sup.control.defense and sup.stop_requested.is_set() and read_flags(kit.paths)[0] == []
