"""The supervisor's outward face: the core's mode and ``state.json``.

Kept apart from the lifecycle and the flag handling so each file holds one
responsibility.  The mode is decided in one place (``mode.py``) from facts
gathered here; ``state.json`` is built only from values each part published
(engine view, kill switch and watchdog snapshots, matrix rows), gathered
after the mode so a "halted" or "suspended" file always carries the matrix
row that explains it (see ``Matrix``).
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable
from dataclasses import replace

from tbot_core.config import Settings
from tbot_core.context import CoreContext
from tbot_core.identity import Identity
from tbot_core.runtime.engine import Engine, EngineControl
from tbot_core.runtime.engine_view import EngineState
from tbot_core.runtime.mode import ModeFacts, ModeTracker, core_mode
from tbot_core.runtime.restart import RestartPolicy
from tbot_core.runtime.snapshot import CoreViews, build_state, core_info
from tbot_core.safety.kill_switch import KillSwitch
from tbot_core.safety.risk_bot import RiskBot
from tbot_core.safety.watchdog_bot import Watchdog
from tbot_core.selfcheck import CheckResult
from tbot_core.state import CoreState, StateWriter, empty_matrix
from tbot_core.state_schema import CoreMode, MatrixRowState, RestartWindow
from tbot_core.timeutil import UtcTime, iso_z

# The matrix row whose cause explains each mode that has one.
MODE_ROWS = {CoreMode.SUSPENDED: "broker_down", CoreMode.DEFENSE: "defense_mode"}


class Publisher:
    """Mixin for ``Supervisor``: expects the attributes listed at the end."""

    _modes: ModeTracker | None = None

    def mode_facts(self) -> ModeFacts:
        engine = self.engine
        return ModeFacts(
            blocked=bool(self.blocked_reason),
            launched=self._launched,
            checks_run=bool(self.checks),
            stopping=self.stop_requested.is_set(),
            engine_alive=self.engine_alive(),
            restart_pending=self._restart_at is not None,
            feed_ended=engine is not None and engine.view.state is EngineState.FEED_ENDED,
            halted=self.kill is not None and self.kill.triggered,
            suspended=self.control.suspended,
            defense=self.control.defense,
        )

    def mode(self) -> CoreMode:
        return core_mode(self.mode_facts())

    def publish(self, *, force: bool = False) -> None:
        """Note the mode (one audit row per change), then write ``state.json`` when a write is due."""
        if self.ctx is None:
            return
        if self._modes is None:
            self._modes = ModeTracker(self.ctx.audit, self._mode_cause)
        mode = self._modes.observe(self.mode_facts())
        if not (force or self.state.due()):
            return
        self.state.write(build_state(self.views(mode), self.settings, self.identity), force=force)

    def views(self, mode: CoreMode) -> CoreViews:
        """Each part's published value, read after ``mode`` was decided."""
        defense = self.control.defense
        risk, ctx = self.risk, self.ctx
        assert ctx is not None  # read only by ``publish``, which returns early without a context
        return CoreViews(
            mode=mode,
            started_utc=self.started_utc,
            blocked_reason=self.blocked_reason,
            checks=tuple(self.checks),
            worker_restarts=types.MappingProxyType(dict(self.worker_restarts)),
            restart_window=RestartWindow(
                restarts=self.restart.attempts, max=self.restart.max_attempts, window_s=self.restart.window_s
            ),
            matrix=ctx.matrix.rows(),
            defense=defense,
            limits=None if risk is None else risk.limits(defense),
            kill=None if self.kill is None else self.kill.snapshot(),
            watchdog=None if self.watchdog is None else self.watchdog.snapshot(),
            engine=None if self.engine is None else self.engine.view,
            mismatch=self.control.mismatch.view(),
        )

    def _mode_cause(self, mode: CoreMode) -> str:
        """Why the core is now in ``mode``, from the part that put it there (for the audit row)."""
        if mode is CoreMode.HALTED and self.kill is not None:
            return self.kill.state().cause or ""
        if mode is CoreMode.BLOCKED:
            return self.blocked_reason
        if mode is CoreMode.STOPPED:
            return self._stop_cause
        row = MODE_ROWS.get(mode)
        assert self.ctx is not None  # asked only by ``publish``, which returns early without a context
        return next((r.cause or "" for r in self.ctx.matrix.rows() if r.key == row), "")

    # provided by Supervisor
    blocked_reason: str
    checks: list[CheckResult]
    _launched: bool
    _restart_at: float | None
    _stop_cause: str
    started_utc: UtcTime
    stop_requested: threading.Event
    state: StateWriter
    ctx: CoreContext | None
    settings: Settings
    identity: Identity
    restart: RestartPolicy
    control: EngineControl
    engine: Engine | None
    kill: KillSwitch | None
    risk: RiskBot | None
    watchdog: Watchdog | None
    worker_restarts: dict[str, int]
    engine_alive: Callable[[], bool]


def blocked_state(module: str, detail: str) -> CoreState:
    """``state.json`` of a core that could not even read its config: blocked, with the matrix row that says why."""
    matrix = tuple(
        replace(row, state=MatrixRowState.TRIGGERED, last_utc=iso_z(), cause=detail)
        if row.key == "decrypt_fail"
        else row
        for row in empty_matrix()
    )
    return CoreState(
        mode=CoreMode.BLOCKED, blocked_reason=f"{module}: {detail}", core=core_info(iso_z()), emergency_matrix=matrix
    )
