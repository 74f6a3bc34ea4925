"""The kill switch's reconcile at start (core.db against the audit log) and its self-check, with real parts.

A halt must survive the loss or corruption of either file: each test names which source wins and what is audited.
"""

from __future__ import annotations

import pytest

from tbot_core.core_store import CoreStore
from tbot_core.safety.kill_switch import KillSwitch

from .kill_switch_kit import BAR_UTC, parts

__all__ = ["parts"]  # fixture


# -- reconcile: core.db against the audit log ------------------------------------------------------------------------
def test_reconcile_with_both_armed_reports_nothing(parts):
    assert parts.kill.reconcile() == ""
    assert parts.events("kill_switch_state_disagreement") == [] and not parts.kill.triggered


def test_reconcile_halts_when_the_audit_log_shows_a_trigger_that_core_db_lost(parts):
    parts.kill.evaluate(-600_00, 500_00, BAR_UTC)
    [trigger_row] = [r for r in parts.audit.iter_rows() if r.event == "kill_switch_triggered"]
    parts.store.set_kill_state("armed", None, None, None)  # core.db replaced by an older copy
    fresh = parts.fresh_kill()
    assert not fresh.triggered
    cause = fresh.reconcile()
    assert cause == (
        "core.db says armed but the audit log's last kill switch event "
        f"(audit seq {trigger_row.seq} at {trigger_row.ts_utc}) is a trigger with no audited reset: "
        "daily PnL -600.00 breached DAILY_LOSS_LIMIT 500 (limit 500.00)"
    )
    state = fresh.state()
    assert fresh.triggered and (state.since_utc, state.cause, state.bar_utc) == (trigger_row.ts_utc, cause, BAR_UTC)
    stored = CoreStore(parts.paths.core_db).kill_state()
    assert (stored.state, stored.since_utc, stored.cause, stored.bar_utc) == (
        "triggered",
        trigger_row.ts_utc,
        cause,
        BAR_UTC,
    )
    assert parts.ctx.matrix.state("daily_loss") == "triggered"
    [(severity, _actor, detail)] = parts.events("kill_switch_state_disagreement")
    assert severity == "critical"
    assert detail == {
        "core_db": "armed",
        "audit_log": "triggered",
        "audit_seq": trigger_row.seq,
        "taken": "triggered",
        "cause": cause,
    }
    assert {"module": "kill_switch", "level": "error", "message": f"state disagreement: {cause}"}.items() <= next(
        r for r in parts.log_lines() if r["message"].startswith("state disagreement")
    ).items()
    alerts = parts.alerts(2)
    assert [a["event"] for a in alerts] == ["kill_switch_triggered", "kill_switch_state_disagreement"]
    assert alerts[1]["cause"] == cause and alerts[1]["context"] == {"scope": "Broker"}


def test_reconcile_names_an_unknown_cause_when_the_audited_trigger_has_none(parts):
    parts.audit.append("kill_switch", "kill_switch_triggered", {"bar_utc": None}, severity="critical")
    cause = parts.kill.reconcile()
    assert cause.endswith("is a trigger with no audited reset: unknown cause") and parts.kill.triggered


def test_reconcile_stays_halted_when_core_db_says_halted_and_the_audit_log_was_lost(parts):
    parts.store.set_kill_state("triggered", "2026-01-05T15:00:00Z", "operator halt", None)
    fresh = parts.fresh_kill()
    cause = fresh.reconcile()
    assert cause == (
        "core.db says triggered but the audit log says armed (no trigger or reset in the audit log); staying halted"
    )
    assert fresh.triggered and fresh.state().cause == "operator halt"
    [(_, _, detail)] = parts.events("kill_switch_state_disagreement")
    assert detail == {
        "core_db": "triggered",
        "audit_log": "armed",
        "audit_seq": None,
        "taken": "triggered",
        "cause": cause,
    }
    assert parts.alerts(1)[0]["event"] == "kill_switch_state_disagreement"


def test_reconcile_names_the_audited_reset_when_core_db_is_halted_after_it(parts):
    parts.kill.evaluate(-600_00, 500_00, BAR_UTC)
    parts.kill.reset("checked", "ops")
    [reset_row] = [r for r in parts.audit.iter_rows() if r.event == "kill_switch_reset"]
    parts.store.set_kill_state("triggered", "2026-01-05T15:00:00Z", "restored from backup", None)
    cause = parts.fresh_kill().reconcile()
    assert cause == (
        f"core.db says triggered but the audit log says armed (audit seq {reset_row.seq} at "
        f"{reset_row.ts_utc}); staying halted"
    )
    assert parts.events("kill_switch_state_disagreement")[0][2]["audit_seq"] == reset_row.seq


def test_reconcile_stays_halted_in_memory_when_core_db_cannot_be_written(parts):
    parts.audit.append(
        "kill_switch", "kill_switch_triggered", {"cause": "earlier halt", "bar_utc": BAR_UTC}, severity="critical"
    )
    store = CoreStore(parts.paths.core_db)
    fresh = KillSwitch(store, parts.ctx, parts.notifier)
    store.close()  # every write to core.db now raises
    with pytest.raises(Exception) as raised:
        store.set_kill_state("triggered", None, None, None)
    closed_error = raised.value
    cause = fresh.reconcile()
    assert fresh.triggered and cause.endswith("earlier halt")
    [line] = [r for r in parts.log_lines() if r["message"].startswith("could not persist the halt to core.db: ")]
    assert line["module"] == "kill_switch" and line["level"] == "error"
    assert line["message"] == f"could not persist the halt to core.db: {type(closed_error).__name__}"
    assert parts.events("kill_switch_state_disagreement")


# -- self-check ------------------------------------------------------------------------------------------------------
def test_self_check_reports_the_stored_state_and_the_limit(parts):
    armed = parts.kill.self_check()
    assert armed.ok and armed.module == "kill_switch" and armed.detail == "state armed; limit 500"
    parts.kill.trigger("operator halt")
    halted = parts.kill.self_check()
    since = parts.kill.state().since_utc
    assert halted.ok and halted.detail == f"state triggered since {since}: operator halt; limit 500"
