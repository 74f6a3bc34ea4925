"""The kill switch: ``DAILY_LOSS_LIMIT`` on realized + unrealized PnL since the UTC day start.

PnL is equity now minus the equity recorded at the first bar of the UTC day,
so realized and unrealized moves (and fees) all count.  A breach cancels open
orders, refuses every new order, writes an immutable audit event and alerts.
The state is stored in ``core.db`` so a restart stays halted; only an operator
reset flag (with a reason, audited) re-arms it.  If PnL cannot be computed
(no start-of-day equity, a position without a price) the switch trips: a
safety check that cannot decide blocks.

The state lives in two places so that losing or corrupting one file never
re-arms the switch: ``core.db`` and the hash-chained audit log, which records
every trigger and every reset.  At start ``reconcile`` compares them and takes
the stricter; a disagreement is itself a critical audit row and an alert.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import ROUND_DOWN
from typing import Any

from tbot_core.config import Settings
from tbot_core.context import CoreContext
from tbot_core.core_store import CoreStore, KillState
from tbot_core.money import Cents, Money, from_cents, round_to_cents
from tbot_core.safety.notifier_bot import Notifier
from tbot_core.selfcheck import CheckResult
from tbot_core.state_schema import KillSwitchState, KillSwitchView
from tbot_core.timeutil import iso_z

TRIGGERED_EVENT, RESET_EVENT = "kill_switch_triggered", "kill_switch_reset"


class KillSwitch:
    name = "kill_switch"

    def __init__(
        self, store: CoreStore, ctx: CoreContext, notifier: Notifier, cancel_orders: Callable[[], int] | None = None
    ) -> None:
        self.store = store
        self.ctx = ctx
        self.settings: Settings = ctx.settings
        self.notifier = notifier
        self.cancel_orders = cancel_orders
        self._lock = threading.Lock()
        self._state = store.kill_state()
        # Kept in cents: ``evaluate`` runs on every bar, the Decimal views only when someone reads them.
        self.last_pnl_cents: int | None = None
        self.last_limit_cents: int | None = None

    @property
    def last_pnl(self) -> Money | None:
        return None if self.last_pnl_cents is None else from_cents(self.last_pnl_cents)

    @property
    def last_limit(self) -> Money | None:
        return None if self.last_limit_cents is None else from_cents(self.last_limit_cents)

    @property
    def triggered(self) -> bool:
        return self._state.triggered

    def state(self) -> KillState:
        return self._state

    def limit_cents(self, start_of_day_equity_cents: int) -> Cents:
        """Cents of the limit, truncated: an operator's sub-cent limit never grows into a looser one."""
        limit = self.settings.daily_loss_limit.amount(from_cents(start_of_day_equity_cents))
        return round_to_cents(limit, ROUND_DOWN)

    def evaluate(self, pnl_cents: int | None, limit_cents: int | None, bar_utc: str, problem: str = "") -> bool:
        """Check one PnL reading; trips on a breach or when PnL is unknown. Returns True when halted."""
        if pnl_cents is not None:
            self.last_pnl_cents = pnl_cents
        if limit_cents is not None:
            self.last_limit_cents = limit_cents
        if self._state.triggered:
            return True
        if pnl_cents is None or limit_cents is None:
            self.trigger(f"cannot compute daily PnL: {problem or 'unknown'} (fail closed)", bar_utc=bar_utc)
        elif -pnl_cents > limit_cents:
            self.trigger(
                f"daily PnL {from_cents(pnl_cents)} breached DAILY_LOSS_LIMIT {self.settings.daily_loss_limit} "
                f"(limit {from_cents(limit_cents)})",
                bar_utc=bar_utc,
            )
        else:
            return False  # within the limit (the common case, every bar): armed as it was
        return self._state.triggered

    def trigger(self, cause: str, *, bar_utc: str | None = None, actor: str = "system", **detail: Any) -> None:
        with self._lock:
            if self._state.triggered:
                return
            since = iso_z()
            self.ctx.matrix.trigger("daily_loss", cause)  # matrix before mode: see Matrix
            # Halt in memory next: if persisting the state fails, this process still refuses every order.
            self._state = KillState("triggered", since, cause, bar_utc)
            persist_error = self._persist("triggered", since, cause, bar_utc)
        # Cancel, audit and alert whatever the file did: the audit row is also the halt's second copy,
        # which ``reconcile`` takes at the next start if core.db lost it.
        cancelled = self._cancel_all()
        context = {
            "cause": cause,
            "bar_utc": bar_utc,
            "limit": str(self.settings.daily_loss_limit),
            "daily_pnl": str(self.last_pnl) if self.last_pnl is not None else None,
            "orders_cancelled": cancelled,
            "persisted": not persist_error,
            **detail,
        }
        if persist_error:
            context["persist_error"] = persist_error
        try:
            self.ctx.audit.append("kill_switch", TRIGGERED_EVENT, context, severity="critical", actor=actor)
        except Exception as exc:
            context["audit_error"] = f"{type(exc).__name__}: {exc}"[:200]
        self.ctx.syslog.error("kill_switch", f"HALT: {cause}", **context)
        self.notifier.notify("kill_switch_triggered", cause, scope="Broker", bar_utc=bar_utc)

    def _persist(self, state: str, since: str | None, cause: str | None, bar_utc: str | None) -> str:
        """Write the halt to core.db; on failure return why (the halt stands in memory and in the audit log)."""
        try:
            self.store.set_kill_state(state, since, cause, bar_utc)
        except Exception as exc:
            self.ctx.syslog.error("kill_switch", f"could not persist the halt to core.db: {type(exc).__name__}")
            return f"{type(exc).__name__}: {exc}"[:200]
        return ""

    def reconcile(self) -> str:
        """Compare ``core.db`` with the audit log's last trigger/reset; the stricter wins. Returns the disagreement."""
        row = self.ctx.audit.latest("kill_switch", (TRIGGERED_EVENT, RESET_EVENT))
        audit_says = "triggered" if row is not None and row.event == TRIGGERED_EVENT else "armed"
        stored = self._state.state
        if audit_says == stored:
            return ""
        where = f"audit seq {row.seq} at {row.ts_utc}" if row is not None else "no trigger or reset in the audit log"
        if audit_says == "triggered":
            logged = row.context_dict() if row is not None else {}
            cause = (
                f"core.db says armed but the audit log's last kill switch event ({where}) is a trigger with no "
                f"audited reset: {logged.get('cause') or 'unknown cause'}"
            )
            with self._lock:
                self.ctx.matrix.trigger("daily_loss", cause)  # matrix before mode: see Matrix
                self._state = KillState(
                    "triggered", row.ts_utc if row is not None else iso_z(), cause, logged.get("bar_utc")
                )
            self._persist("triggered", self._state.since_utc, cause, self._state.bar_utc)  # halted in memory regardless
        else:
            cause = f"core.db says triggered but the audit log says armed ({where}); staying halted"
        detail = {
            "core_db": stored,
            "audit_log": audit_says,
            "audit_seq": row.seq if row is not None else None,
            "taken": "triggered",
            "cause": cause,
        }
        self.ctx.audit.append("kill_switch", "kill_switch_state_disagreement", detail, severity="critical")
        self.ctx.syslog.error("kill_switch", f"state disagreement: {cause}")
        self.notifier.notify("kill_switch_state_disagreement", cause, scope="Broker")
        return cause

    def reset(self, reason: str, operator: str) -> bool:
        with self._lock:
            if not self._state.triggered:
                return False
            previous = self._state
            self.store.set_kill_state("armed", None, None, None)  # persisted first: a failed write leaves it halted
            self.ctx.matrix.clear("daily_loss", f"reset by {operator}: {reason}")  # matrix before mode: see Matrix
            self._state = self.store.kill_state()
        self.ctx.audit.append(
            "kill_switch",
            RESET_EVENT,
            {"reason": reason, "operator": operator, "was_cause": previous.cause, "was_since_utc": previous.since_utc},
            severity="warning",
            actor="operator",
        )
        return True

    def snapshot(self) -> KillSwitchView:
        """A frozen value for ``state.json``: the state is swapped whole under the lock, so one read is consistent."""
        state = self._state
        return KillSwitchView(
            state=KillSwitchState(state.state),
            since_utc=state.since_utc,
            cause=state.cause,
            limit=self.last_limit,
            daily_pnl=self.last_pnl,
        )

    def self_check(self) -> CheckResult:
        return kill_switch_result(self.store.kill_state(), self.settings)

    def _cancel_all(self) -> int:
        if self.cancel_orders is None:
            return 0
        try:
            return self.cancel_orders()
        except Exception as exc:
            self.ctx.syslog.error("kill_switch", f"cancel open orders failed: {type(exc).__name__}: {exc}")
            return -1


def kill_switch_result(state: KillState, settings: Settings) -> CheckResult:
    """The kill switch's self-check verdict on a stored state (a halted switch still lets the core start halted)."""
    detail = f"state {state.state}" + (f" since {state.since_utc}: {state.cause}" if state.triggered else "")
    return CheckResult.passed(KillSwitch.name, f"{detail}; limit {settings.daily_loss_limit}")
