"""The named invariants the simulator checks, after every step, at each order, when a life ends, and at the end.

Each reads the real thing: the audit log (through its own read-only
connection, as the console does), ``core.db`` and ``ledger.db`` through fresh
read-only connections, ``state.json``, the alerts the recording notifier saw,
and the core's own objects at the instant an order reaches the broker.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tbot_core.audit import AuditLog
from tbot_core.db import connect
from tbot_core.ledger.checks import ledger_findings
from tbot_core.ledger.coa import current_mapping
from tbot_core.ledger.conn import open_ledger
from tbot_core.safety.kill_switch import RESET_EVENT, TRIGGERED_EVENT
from tests.sim.schedules import FATAL, HARD

if TYPE_CHECKING:
    from tests.sim.simulator import Life, Sim

KILL_BLOCKS = "no_order_after_kill_until_audited_reset"
NO_ORDER_SUSPENDED = "no_order_while_suspended_stopped_halted_or_blocked"
NO_REARM = "kill_switch_never_rearmed_without_audited_reset"
BOOKS = "books_balance_ledger_equals_broker_and_state"
CHAINS = "audit_and_ledger_chains_verify_no_partial_batch"
MATRIX = "every_triggered_matrix_row_audited_and_notified"
TRANSIENT = "core_never_exits_for_a_transient_fault"
FATAL_EXITS = "core_exits_or_blocks_for_a_fatal_fault"
SECRETS = "no_secret_in_home_logs_or_output"
UTC_DAYS = "days_are_utc_dates_whatever_the_host_zone"
ALL = (KILL_BLOCKS, NO_ORDER_SUSPENDED, NO_REARM, BOOKS, CHAINS, MATRIX, TRANSIENT, FATAL_EXITS, SECRETS, UTC_DAYS)

MATRIX_GRACE_S = 12.0  # a controlled stop audits after it has joined the engine (up to the stop grace)
# Row -> (audit events that explain it, alerts that announce it; None: the matrix asks for no alert).
EVIDENCE: dict[str, tuple[set[str], set[str] | None]] = {
    "daily_loss": (
        {TRIGGERED_EVENT, "kill_switch_state_disagreement"},
        {"kill_switch_triggered", "kill_switch_state_disagreement"},
    ),
    "broker_down": ({"broker_suspended"}, {"broker_suspended"}),
    "feed_down": ({"controlled_stop"}, {"feed_down_controlled_stop"}),
    "logic_error": ({"controlled_stop"}, {"logic_error_controlled_stop"}),
    "decrypt_fail": ({"launch_blocked"}, {"launch_blocked"}),
    "schema_fail": ({"launch_blocked"}, {"launch_blocked"}),
    "validation_fail": ({"trade_blocked"}, None),  # "Block trade; log"
    "defense_mode": ({"defense_mode_on"}, None),
    "manual_shutdown": ({"flag_stop_acknowledged"}, None),
}


@dataclass(frozen=True)
class Violation:
    name: str
    step: int
    detail: str

    def __str__(self) -> str:
        return f"{self.name} at step {self.step}: {self.detail}"


class Checker:
    def __init__(self, sim: Sim) -> None:
        self.sim = sim
        self._audit: Any = None
        self._seq = 0
        self.events: set[str] = set()
        self.kill_event = ""  # the newest kill switch trigger/reset in the audit log
        self.trace = hashlib.sha256()  # every audit row's (seq, category, event): one seed, one run
        self.halt_seen = False  # a running core was seen halted, with no audited reset since (across lives)
        self.budget_spent = False  # the restart budget ran out: ending the core is then the designed response
        self._first_seen: dict[tuple[int, str], float] = {}
        self._reported: set[tuple[str, str]] = set()

    def fail(self, name: str, detail: str) -> None:
        key = (name, detail[:80])
        if key not in self._reported:
            self._reported.add(key)
            self.sim.violations.append(Violation(name, self.sim.step, detail))

    # -- the audit log, read as the console reads it ---------------------------------------
    def _read_audit(self) -> None:
        if self._audit is None:  # the checker is not the core: it reads past the injected disk faults
            self._audit = connect(self.sim.root / "db" / "audit.db", readonly=True, vfs="unix")
        rows = self._audit.execute(
            "SELECT seq, category, event, context FROM audit_log WHERE seq > ? ORDER BY seq", (self._seq,)
        )
        for seq, category, event, context in rows.fetchall():
            self._seq = seq
            self.trace.update(f"{seq}|{category}|{event}\n".encode())
            self.events.add(event)
            if event == "engine_not_restarted" and "restart budget exhausted" in context:
                self.budget_spent = True
            if category == "kill_switch" and event in (TRIGGERED_EVENT, RESET_EVENT):
                self.kill_event = event
                self.halt_seen = self.halt_seen and event != RESET_EVENT

    def close(self) -> None:
        if self._audit is not None:
            self._audit.close()
            self._audit = None

    # -- at each order ----------------------------------------------------------------------
    def before_order(self, request: Any) -> None:
        sup = self.sim.life.sup
        self._read_audit()
        what = f"{request.side} {request.symbol} ({request.client_order_id})"
        if self.kill_event == TRIGGERED_EVENT or (sup.kill is not None and sup.kill.triggered):
            self.fail(KILL_BLOCKS, f"order {what} sent while the kill switch is triggered")
        elif self.halt_seen:
            self.fail(KILL_BLOCKS, f"order {what} sent after the core was seen halted, with no audited reset since")
        state = {
            "suspended": sup.control.suspended or sup.watchdog.broker_suspended(),
            "engine stop requested": sup.control.stop.is_set(),
            "core stopping": sup.stop_requested.is_set(),
            "blocked": bool(sup.blocked_reason),
        }
        bad = [name for name, on in state.items() if on]
        if bad:
            self.fail(NO_ORDER_SUSPENDED, f"order {what} sent while {', '.join(bad)}")

    # -- every step ------------------------------------------------------------------------------
    def each_step(self) -> None:
        self._read_audit()
        life = self.sim.life
        sup = life.sup
        if life.exit_code is not None or life.killed or sup.ctx is None:
            return
        self.halt_seen = self.halt_seen or (sup.kill is not None and sup.kill.triggered)
        if self.kill_event == TRIGGERED_EVENT and sup.kill is not None and not sup.kill.triggered:
            self.fail(NO_REARM, "the audit log's last kill switch event is a trigger but the running core is armed")
        sent = {event for event, _cause, _kw in self.sim.sent}
        now = self.sim.now()
        for row in sup.ctx.matrix.rows():
            key = (life.number, row.key)
            if row.state != "triggered":
                self._first_seen.pop(key, None)
                continue
            first = self._first_seen.setdefault(key, now)
            audit_needs, alert_needs = EVIDENCE.get(row.key, (set(), None))
            missing = []
            if audit_needs and not audit_needs & self.events and not self.sim.audit_refused():
                missing.append(f"audit row ({'/'.join(sorted(audit_needs))})")
            if alert_needs and not alert_needs & sent and not alert_needs & self.sim.broken_alerts():
                missing.append(f"notification ({'/'.join(sorted(alert_needs))})")
            if missing and now - first > MATRIX_GRACE_S:
                self.fail(MATRIX, f"row {row.key} triggered ({row.cause}) with no {' and no '.join(missing)}")

    # -- when a life ends, and at the end -----------------------------------------------------------
    def life_ended(self, life: Life) -> None:
        self.files()
        if life.killed or life.exit_code is None:
            return
        self._read_audit()
        fired = self.sim.fired
        excused = (
            fired & (FATAL | HARD)
            or ("operator_stop" in fired and life.exit_code == 0)
            or (self.budget_spent and life.exit_code == 4)
        )  # RESTART_MAX_ATTEMPTS per window, by design
        if not excused:
            self.fail(
                TRANSIENT,
                f"core life {life.number} exited with code {life.exit_code} after only "
                f"transient faults ({', '.join(sorted(fired)) or 'none'})",
            )

    def at_end(self) -> None:
        self._read_audit()
        life, fired = self.sim.life, self.sim.fired
        running = life.exit_code is None and not life.killed
        if running and life.sup.ctx is not None:
            life.sup.publish(force=True)  # what the supervisor would publish now
            mode = life.sup.mode()
            if fired & FATAL and self.sim.fatal_life == life.number and mode in {"running", "defense", "suspended"}:
                self.fail(
                    FATAL_EXITS, f"fatal fault(s) {', '.join(sorted(fired & FATAL))} fired but the core is {mode}"
                )
            if not fired & (FATAL | HARD) and mode in {"stopped", "blocked"} and "operator_stop" not in fired:
                self.fail(
                    TRANSIENT, f"core is {mode} after only transient faults ({', '.join(sorted(fired)) or 'none'})"
                )
        elif fired & FATAL and life.killed:
            pass  # killed by the schedule after the fault: nothing to judge
        self.files(state=running and life.sup.engine is not None)
        self.secrets()
        self.close()

    def files(self, *, state: bool = False) -> None:
        root = self.sim.root
        try:
            with AuditLog(root / "db" / "audit.db", readonly=True) as log:
                log.verify()
        except Exception as exc:
            self.fail(CHAINS, f"audit log: {exc}")
        try:
            bad = [f"{f.name}: {f.detail}" for f in ledger_findings(root / "db" / "ledger.db") if not f.ok]
        except Exception as exc:
            bad = [f"ledger unreadable: {exc}"]
        if bad:
            self.fail(CHAINS, "ledger check: " + "; ".join(bad))
            return
        self.books(root, state)

    def books(self, root: Path, with_state: bool) -> None:
        if not (root / "db" / "core.db").exists():
            return  # no core ever opened its store (launch blocked before): nothing booked, nothing to compare
        core = connect(root / "db" / "core.db", readonly=True, vfs="unix")
        try:
            if not core.execute("SELECT 1 FROM sqlite_master WHERE name = 'paper_account'").fetchone():
                return
            cash = core.execute("SELECT cash_cents, opening_cash_cents, opened_utc FROM paper_account").fetchone()
            positions = dict(core.execute("SELECT symbol, qty FROM paper_positions"))
            days = {day for (day,) in core.execute("SELECT day FROM day_start")}
            pending = core.execute(
                "SELECT side, qty, price_cents, fee_cents, symbol, fitid FROM paper_fills WHERE ledger_posted = 0"
            ).fetchall()
        finally:
            core.close()
        if days - self.sim.bar_days:
            self.fail(
                UTC_DAYS,
                f"core.db starts a day on {sorted(days - self.sim.bar_days)}; the bars' UTC dates are "
                f"{sorted(self.sim.bar_days)} (host zone {self.sim.zone or 'UTC'})",
            )
        if cash is None:
            return
        expect_cash, expect_pos = cash[0], dict(positions)
        ledger = open_ledger(root / "db" / "ledger.db", readonly=True)
        try:
            # A fill booked but not yet marked posted (the mark failed, or a crash came between) is in the ledger.
            pending = [
                p for p in pending if not ledger.execute("SELECT 1 FROM groups WHERE fitid = ?", (p[5],)).fetchone()
            ]
            for side, qty, price, fee, symbol, _fitid in pending:
                expect_cash += qty * price + fee if side == "buy" else -(qty * price - fee)
                expect_pos[symbol] = expect_pos.get(symbol, 0) + (-qty if side == "buy" else qty)
            account = current_mapping(ledger)["cash"]
            booked = ledger.execute(
                "SELECT coalesce(sum(debit_cents) - sum(credit_cents), 0) FROM legs WHERE account_code = ?", (account,)
            ).fetchone()[0]
            opened = ledger.execute("SELECT count(*) FROM groups WHERE fitid LIKE 'PAPER-OPENING-%'").fetchone()[0]
            lots = ledger.execute("SELECT symbol, qty FROM lots").fetchall()
            reliefs = ledger.execute(
                "SELECT l.symbol, r.qty FROM lot_reliefs r JOIN lots l ON l.lot_id = r.lot_id"
            ).fetchall()
        finally:
            ledger.close()
        if not opened:
            expect_cash -= cash[1]
        held: dict[str, Decimal] = {}
        for symbol, qty in lots:
            held[symbol] = held.get(symbol, Decimal(0)) + Decimal(qty)
        for symbol, qty in reliefs:
            held[symbol] -= Decimal(qty)
        ledger_pos = {s: int(q) for s, q in held.items() if q}
        expect_pos = {s: q for s, q in expect_pos.items() if q}
        if booked != expect_cash or ledger_pos != expect_pos:
            self.fail(
                BOOKS,
                f"ledger cash {booked} / positions {ledger_pos} != core.db cash {cash[0]} / positions "
                f"{positions} less {len(pending)} unposted fill(s)",
            )
        if with_state:
            self._state_matches(root, cash[0], positions)

    def _state_matches(self, root: Path, cash_cents: int, positions: dict[str, int]) -> None:
        state = json.loads((root / "run" / "state.json").read_text())
        if "account" not in state:
            return
        shown = {p["symbol"]: int(Decimal(p["qty"])) for p in state.get("positions", [])}
        if Decimal(state["account"]["cash"]) * 100 != cash_cents or shown != positions:
            self.fail(
                BOOKS,
                f"state.json cash {state['account']['cash']} / positions {shown} != core.db cash "
                f"{Decimal(cash_cents) / 100} / positions {positions}",
            )

    def secrets(self) -> None:
        values = [v.encode() for v in self.sim.template.secret_values()]
        root = self.sim.root
        for path in root.rglob("*"):
            rel = path.relative_to(root)
            if rel.parts[0] in {"vault", "backups"} or not path.is_file():
                continue
            data = path.read_bytes()
            for value in values:
                if value in data:
                    self.fail(SECRETS, f"a secret value appears in {rel}")
        out = self.sim.out.getvalue().encode()
        if any(value in out for value in values):
            self.fail(SECRETS, "a secret value appears in the core's output")
