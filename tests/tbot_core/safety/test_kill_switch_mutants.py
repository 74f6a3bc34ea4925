"""The kill switch in-process with real parts: core.db, the hash-chained audit log, the paper broker's resting
orders, the system log, and a real notifier posting to a real webhook receiver on 127.0.0.1.

Each test names what a halt (or a reset, or a reconcile) must do; together they pin every effect of
``trigger``: matrix row, persisted state, open orders cancelled, audit row, log line, alert.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tbot_core.state_codec import encode

from .kill_switch_kit import BAR_UTC, Parts, parts

__all__ = ["parts"]  # fixture


# -- evaluate -------------------------------------------------------------------------------------------------
def test_a_loss_of_exactly_the_limit_does_not_halt_and_is_remembered(parts):
    assert parts.kill.last_pnl is None and parts.kill.last_limit is None
    assert encode(parts.kill.snapshot()) == {
        "state": "armed",
        "since_utc": None,
        "cause": None,
        "limit": None,
        "daily_pnl": None,
    }
    assert parts.kill.evaluate(-500_00, 500_00, BAR_UTC) is False
    assert not parts.kill.triggered and parts.kill.state().state == "armed"
    assert parts.kill.last_pnl == Decimal("-500.00") and parts.kill.last_limit == Decimal("500.00")
    assert encode(parts.kill.snapshot()) == {
        "state": "armed",
        "since_utc": None,
        "cause": None,
        "limit": "500.00",
        "daily_pnl": "-500.00",
    }
    assert parts.events("kill_switch_triggered") == [] and parts.ctx.matrix.state("daily_loss") == "armed"


def test_a_gain_never_halts(parts):
    assert parts.kill.evaluate(10_000_00, 500_00, BAR_UTC) is False
    assert parts.kill.evaluate(0, 0, BAR_UTC) is False
    assert not parts.kill.triggered


def test_a_loss_one_cent_over_the_limit_halts_with_the_numbers_in_the_cause(parts):
    assert parts.kill.evaluate(-500_01, 500_00, BAR_UTC) is True
    state = parts.kill.state()
    assert state.triggered and state.bar_utc == BAR_UTC
    assert state.since_utc and state.since_utc.startswith("20") and state.since_utc.endswith("Z")
    assert state.cause == "daily PnL -500.01 breached DAILY_LOSS_LIMIT 500 (limit 500.00)"
    assert encode(parts.kill.snapshot()) == {
        "state": "triggered",
        "since_utc": state.since_utc,
        "cause": state.cause,
        "limit": "500.00",
        "daily_pnl": "-500.01",
    }


@pytest.mark.parametrize("pnl,limit", [(None, 500_00), (-1_00, None), (None, None)])
def test_an_unknown_pnl_or_limit_halts_fail_closed_naming_the_problem(parts, pnl, limit):
    assert parts.kill.evaluate(pnl, limit, BAR_UTC, "no price for held SPY") is True
    assert parts.kill.state().cause == "cannot compute daily PnL: no price for held SPY (fail closed)"
    assert parts.kill.state().bar_utc == BAR_UTC and parts.events("kill_switch_triggered")[0][2]["bar_utc"] == BAR_UTC


def test_an_unknown_pnl_without_a_stated_problem_still_halts_as_unknown(parts):
    assert parts.kill.evaluate(None, 500_00, BAR_UTC) is True
    assert parts.kill.state().cause == "cannot compute daily PnL: unknown (fail closed)"


def test_an_unknown_reading_keeps_the_last_known_pnl_and_limit(parts):
    parts.kill.evaluate(-100_00, 500_00, BAR_UTC)
    parts.kill.evaluate(None, None, BAR_UTC, "feed gap")
    assert parts.kill.last_pnl == Decimal("-100.00") and parts.kill.last_limit == Decimal("500.00")
    [(_, _, context)] = parts.events("kill_switch_triggered")
    assert context["daily_pnl"] == "-100.00"


def test_once_halted_every_later_reading_reports_halted_even_a_gain_and_nothing_is_repeated(parts):
    parts.rest_limit_orders(1)
    parts.kill.evaluate(-600_00, 500_00, BAR_UTC)
    assert parts.kill.evaluate(1_000_00, 500_00, "2026-01-05T14:32:00.000000Z") is True
    assert parts.kill.evaluate(None, None, "2026-01-05T14:33:00.000000Z") is True
    assert parts.kill.last_pnl == Decimal("1000.00")  # still recorded for the console
    assert len(parts.events("kill_switch_triggered")) == 1
    assert parts.kill.state().bar_utc == BAR_UTC


# -- what a halt does ------------------------------------------------------------------------------------------
def test_a_halt_cancels_every_open_order_at_the_broker_and_audits_how_many(parts):
    parts.rest_limit_orders(3)
    parts.kill.evaluate(-600_00, 500_00, BAR_UTC)
    assert parts.broker.open_orders() == []
    statuses = parts.store.query("SELECT status FROM paper_orders")
    assert [s for (s,) in statuses] == ["canceled"] * 3
    [(severity, actor, context)] = parts.events("kill_switch_triggered")
    assert context["orders_cancelled"] == 3
    assert (severity, actor) == ("critical", "system")


def test_a_halt_is_audited_with_its_cause_bar_limit_and_pnl(parts):
    parts.kill.evaluate(-600_00, 500_00, BAR_UTC)
    [(severity, actor, context)] = parts.events("kill_switch_triggered")
    assert context == {
        "cause": "daily PnL -600.00 breached DAILY_LOSS_LIMIT 500 (limit 500.00)",
        "bar_utc": BAR_UTC,
        "limit": "500",
        "daily_pnl": "-600.00",
        "orders_cancelled": 0,
        "persisted": True,
    }


def test_a_halt_is_persisted_so_a_restarted_core_is_still_halted(parts):
    parts.kill.evaluate(-600_00, 500_00, BAR_UTC)
    since = parts.kill.state().since_utc
    again = parts.fresh_kill()
    assert again.triggered
    stored = again.state()
    assert (stored.state, stored.since_utc, stored.bar_utc) == ("triggered", since, BAR_UTC)
    assert stored.cause == "daily PnL -600.00 breached DAILY_LOSS_LIMIT 500 (limit 500.00)"
    assert again.reconcile() == ""  # core.db and the audit log agree: nothing to report


def test_a_halt_sets_the_daily_loss_matrix_row_with_the_cause(parts):
    parts.kill.evaluate(-600_00, 500_00, BAR_UTC)
    [row] = [r for r in parts.ctx.matrix.rows() if r.key == "daily_loss"]
    assert row.state == "triggered" and row.cause == parts.kill.state().cause


def test_a_halt_writes_an_error_line_to_the_system_log(parts):
    parts.kill.evaluate(-600_00, 500_00, BAR_UTC)
    [line] = [r for r in parts.log_lines() if r["module"] == "kill_switch"]
    assert line["level"] == "error" and line["message"] == "HALT: " + parts.kill.state().cause
    assert line["context"]["orders_cancelled"] == 0 and line["context"]["bar_utc"] == BAR_UTC


def test_a_halt_sends_a_critical_broker_scope_alert(parts):
    parts.kill.evaluate(-600_00, 500_00, BAR_UTC)
    [alert] = parts.alerts(1)
    assert alert["event"] == "kill_switch_triggered" and alert["severity"] == "critical"
    assert alert["cause"] == "daily PnL -600.00 breached DAILY_LOSS_LIMIT 500 (limit 500.00)"
    assert alert["context"] == {"scope": "Broker", "bar_utc": BAR_UTC}


def test_a_manual_trigger_records_its_actor_and_detail_and_a_second_trigger_is_ignored(parts):
    parts.rest_limit_orders(2)
    parts.kill.trigger("operator halt", actor="operator", flag="kill")
    parts.kill.trigger("second halt", actor="operator")
    [(severity, actor, context)] = parts.events("kill_switch_triggered")
    assert actor == "operator" and context["flag"] == "kill" and context["cause"] == "operator halt"
    assert context["bar_utc"] is None and context["daily_pnl"] is None and context["orders_cancelled"] == 2
    assert parts.kill.state().cause == "operator halt"
    assert len(parts.alerts(1)) == 1


def test_a_cancel_that_fails_still_halts_and_is_audited_as_unknown(bot_home):
    parts = Parts(bot_home, cancel="broken")
    try:
        parts.kill.evaluate(-600_00, 500_00, BAR_UTC)
        assert parts.kill.triggered and parts.fresh_kill().triggered
        [(_, _, context)] = parts.events("kill_switch_triggered")
        assert context["orders_cancelled"] == -1
        failed = [r for r in parts.log_lines() if r["message"].startswith("cancel open orders failed")]
        assert [(r["module"], r["level"], r["message"]) for r in failed] == [
            ("kill_switch", "error", "cancel open orders failed: ConnectionError: broker hung up")
        ]
        assert parts.alerts(1)[0]["event"] == "kill_switch_triggered"
    finally:
        parts.close()


def test_a_kill_switch_without_a_broker_to_cancel_still_halts(bot_home):
    parts = Parts(bot_home, cancel="none")
    try:
        parts.kill.evaluate(-600_00, 500_00, BAR_UTC)
        assert parts.kill.triggered and parts.events("kill_switch_triggered")[0][2]["orders_cancelled"] == 0
    finally:
        parts.close()


# -- limits --------------------------------------------------------------------------------------------------------
def test_an_amount_limit_is_that_amount_in_cents_whatever_the_equity(parts):
    assert parts.kill.limit_cents(100_000_00) == 500_00
    assert parts.kill.limit_cents(1_00) == 500_00


def test_a_percent_limit_is_that_share_of_start_of_day_equity_in_cents(bot_home):
    parts = Parts(bot_home, limit="2.5%")
    try:
        assert parts.kill.limit_cents(100_000_00) == 2_500_00
        assert parts.kill.limit_cents(123_45) == 3_08  # 3.08625 truncated: rounded, 3.09 would let a 3.09 loss pass
    finally:
        parts.close()


# -- reset ------------------------------------------------------------------------------------------------------------
def test_reset_of_an_armed_switch_does_nothing(parts):
    assert parts.kill.reset("nothing to reset", "ops") is False
    assert parts.events("kill_switch_reset") == [] and parts.ctx.matrix.state("daily_loss") == "armed"


def test_reset_rearms_persists_clears_the_row_and_audits_who_and_why(parts):
    parts.kill.evaluate(-600_00, 500_00, BAR_UTC)
    was = parts.kill.state()
    assert parts.kill.reset("checked the fills", "ops") is True
    assert not parts.kill.triggered and parts.kill.state().state == "armed" and parts.kill.state().cause is None
    assert not parts.fresh_kill().triggered
    [row] = [r for r in parts.ctx.matrix.rows() if r.key == "daily_loss"]
    assert row.state == "cleared" and row.cause == "reset by ops: checked the fills"
    [(severity, actor, context)] = parts.events("kill_switch_reset")
    assert (severity, actor) == ("warning", "operator")
    assert context == {
        "reason": "checked the fills",
        "operator": "ops",
        "was_cause": was.cause,
        "was_since_utc": was.since_utc,
    }
    assert parts.kill.evaluate(-100_00, 500_00, BAR_UTC) is False  # armed again: only a new breach halts
    assert parts.kill.evaluate(-500_01, 500_00, BAR_UTC) is True
