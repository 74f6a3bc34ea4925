"""The kill switch in-process with real parts: core.db, the hash-chained audit log, the paper broker's resting
orders, the system log, and a real notifier posting to a real webhook receiver on 127.0.0.1.

Each test names what a halt (or a reset, or a reconcile) must do; together they pin every effect of
``trigger``: matrix row, persisted state, open orders cancelled, audit row, log line, alert.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tbot_core.audit import AuditLog
from tbot_core.bars import Bar
from tbot_core.brokers.base import OrderRequest
from tbot_core.brokers.paper import PaperBroker
from tbot_core.context import CoreContext, Matrix
from tbot_core.core_store import CoreStore
from tbot_core.safety.kill_switch import KillSwitch
from tbot_core.safety.notifier_bot import Notifier
from tbot_core.state_codec import encode
from tbot_core.syslog import SystemLog
from tests.tbot_core.safety.alert_servers import start_webhook

BAR_UTC = "2026-01-05T14:31:00.000000Z"


class Parts:
    def __init__(self, bot_home, limit: str = "500", cancel: str = "broker") -> None:
        self.server, self.hooks = start_webhook()
        url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.settings = bot_home.settings.with_values({"DAILY_LOSS_LIMIT": limit})
        self.paths, ident = bot_home.paths, bot_home.identity
        self.syslog = SystemLog(self.paths.system_log(ident.BOT_IDENTITY), "JSON")
        self.audit = AuditLog(self.paths.audit_db)
        self.ctx = CoreContext(self.paths, self.settings, ident, self.syslog, self.audit, Matrix())
        self.store = CoreStore(self.paths.core_db)
        self.broker = PaperBroker(self.store, self.settings)
        self.notifier = Notifier(
            lambda name: {"url": url} if name == "notifier_webhook" else None,
            self.syslog,
            bot_identity=ident.BOT_IDENTITY,
        )
        cancel_orders = {"broker": self.broker.cancel_all, "none": None, "broken": self._broken_cancel}[cancel]
        self.kill = KillSwitch(self.store, self.ctx, self.notifier, cancel_orders=cancel_orders)

    @staticmethod
    def _broken_cancel() -> int:
        raise ConnectionError("broker hung up")

    def fresh_kill(self) -> KillSwitch:
        """The kill switch a restarted core builds on the same files."""
        return KillSwitch(CoreStore(self.paths.core_db), self.ctx, self.notifier)

    def rest_limit_orders(self, n: int) -> None:
        """``n`` resting limit buys far below the market: open orders a halt must cancel."""
        bar = Bar(datetime(2026, 1, 5, 14, 30, tzinfo=UTC), "SPY", 100.0, 100.05, 99.95, 100.0, 1000)
        self.broker.on_bar(bar, 10000, BAR_UTC)
        for i in range(n):
            self.broker.submit_order(OrderRequest(f"mid-SPY-buy-{i}", "SPY", "buy", Decimal(1), "mid", Decimal("50")))
        assert len(self.broker.open_orders()) == n

    def events(self, event: str) -> list[tuple[str, str, dict]]:
        """The kill switch's audit rows of one event (any other category's row with that name fails the test)."""
        rows = [r for r in self.audit.iter_rows() if r.event == event]
        assert all(r.category == "kill_switch" for r in rows), [r.category for r in rows]
        return [(r.severity, r.actor, r.context_dict()) for r in rows]

    def log_lines(self) -> list[dict]:
        if not self.syslog.path.exists():
            return []
        return [json.loads(line) for line in self.syslog.path.read_text().splitlines()]

    def alerts(self, n: int) -> list[dict]:
        deadline = time.monotonic() + 10
        while len(self.hooks) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        self.notifier.close()
        return [h["body"] for h in self.hooks]

    def close(self) -> None:
        self.notifier.close()
        self.server.shutdown()


@pytest.fixture
def parts(bot_home):
    p = Parts(bot_home)
    yield p
    p.close()


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
        assert parts.kill.limit_cents(123_45) == 3_09
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
