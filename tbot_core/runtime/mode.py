"""The core's mode: one pure function from facts to ``CoreMode``, and the record of each change.

The mode used to be derived in place from seven flags wherever it was needed;
now the supervisor gathers the facts once (``ModeFacts``), ``core_mode`` alone
decides, and ``ModeTracker`` alone writes the ``mode_changed`` audit row, so
the audit log's story of the core and ``state.json`` cannot disagree.  The
order of the rules is the policy: a blocked launch outranks everything, a
core that is not (or no longer) running reports starting or stopped, and a
halt outranks a suspension, which outranks defense.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tbot_core.audit import AuditLog
from tbot_core.state_schema import CoreMode

# Modes an operator must act on (or at least know of at once) are audited as critical.
CRITICAL_MODES = frozenset({CoreMode.HALTED, CoreMode.BLOCKED, CoreMode.SUSPENDED})


@dataclass(frozen=True, slots=True, kw_only=True)
class ModeFacts:
    blocked: bool = False  # the startup pipeline refused launch
    launched: bool = False  # the workers were started once
    checks_run: bool = False  # the startup pipeline produced results
    stopping: bool = False  # the core was asked to end (flag, signal, fatal stop)
    engine_alive: bool = False
    restart_pending: bool = False  # a controlled stop scheduled an engine restart
    feed_ended: bool = False  # the engine ended because its replay ran out: still "running"
    halted: bool = False  # the kill switch is triggered
    suspended: bool = False  # the watchdog suspended the broker
    defense: bool = False


def core_mode(f: ModeFacts) -> CoreMode:
    if f.blocked:
        return CoreMode.BLOCKED
    if not f.launched or f.stopping and not f.engine_alive:
        return CoreMode.STOPPED if f.launched or f.checks_run else CoreMode.STARTING
    if f.halted:
        return CoreMode.HALTED
    if f.suspended:
        return CoreMode.SUSPENDED
    if not f.engine_alive and not f.restart_pending and not f.feed_ended:
        return CoreMode.STOPPED
    return CoreMode.DEFENSE if f.defense else CoreMode.RUNNING


@dataclass(frozen=True, slots=True)
class ModeChange:
    before: CoreMode
    after: CoreMode
    why: str

    @property
    def severity(self) -> str:
        return "critical" if self.after in CRITICAL_MODES else "info"

    def audit_context(self) -> dict[str, str]:
        return {"from": self.before.value, "to": self.after.value, "why": self.why[:300]}


class ModeTracker:
    """Holds the last mode; ``observe`` audits each change once, with why it happened.

    ``why`` is asked only on a change, for the new mode: the cause lives with
    the part that caused it (kill switch, matrix row, stop request).
    """

    def __init__(self, audit: AuditLog, why: Callable[[CoreMode], str]) -> None:
        self.audit = audit
        self.why = why
        self.mode = CoreMode.STARTING

    def observe(self, facts: ModeFacts) -> CoreMode:
        mode = core_mode(facts)
        if mode != self.mode:
            change = ModeChange(self.mode, mode, self.why(mode) or "")
            self.audit.append("supervisor", "mode_changed", change.audit_context(), severity=change.severity)
            self.mode = mode
        return mode
