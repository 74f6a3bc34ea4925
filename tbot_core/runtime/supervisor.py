"""The supervisor: the one long-lived core process for a bot identity.

It holds the core lock, runs the startup pipeline (``tbot_core/startup.py``:
its stages in order; any failure blocks launch with UTC, module and hint),
then launches the engine worker and the watchdog and
loops: act on control flags (acknowledging each in the audit log), watch its
workers, apply the restart policy of the emergency matrix, publish
``state.json``.  Nothing else ends a worker: escalations arrive as flags.  If
a worker ignores a stop for ``SUPERVISOR_STOP_GRACE_SECONDS`` the supervisor
audits that and ends its own process (the workers are its threads).  It runs
with no terminal and logs to files; SIGTERM and SIGINT mean an orderly stop.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from tbot_core import __version__
from tbot_core.audit import AuditLog
from tbot_core.context import CoreContext, Matrix
from tbot_core.control import ControlFlag, acknowledge, read_flags
from tbot_core.core_store import CoreStore
from tbot_core.emergency import MATRIX_KEYS
from tbot_core.errors import TbotError
from tbot_core.home import BotHome
from tbot_core.runtime.lock import CoreLock
from tbot_core.runtime.publishing import Publisher, blocked_state
from tbot_core.runtime.restart import RestartPolicy
from tbot_core.runtime.wiring import Fakes, PartBuildError, build_notifier
from tbot_core.runtime.workers import Workers
from tbot_core.safety.watchdog_bot import start_daemon
from tbot_core.sanitize import scrub
from tbot_core.selfcheck import CheckResult
from tbot_core.startup import run_startup
from tbot_core.state import StateWriter
from tbot_core.syslog import SystemLog
from tbot_core.timeutil import iso_z

POLL_SECONDS = 0.05
EXIT_OK, EXIT_BLOCKED, EXIT_GAVE_UP, EXIT_UNRESPONSIVE, EXIT_CRASHED = 0, 3, 4, 5, 6


class Supervisor(Workers, Publisher):
    def __init__(
        self,
        home: BotHome,
        fakes: Fakes | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        spawn: Callable[[Callable[[], None], str], threading.Thread] = start_daemon,
    ) -> None:
        self.home = home
        self.fakes = fakes
        # Seams for the fault simulator (tests/sim): its sim clock and its scheduled threads. Production passes none.
        self.clock, self.spawn = clock, spawn
        self.paths = home.paths
        self.settings = home.settings
        self.identity = home.identity
        self.stop_requested = threading.Event()
        self.started_utc = iso_z()
        self.checks: list[CheckResult] = []
        self.paths.ensure_layout(self.identity.BOT_IDENTITY)
        self.log = SystemLog(
            self.paths.system_log(self.identity.BOT_IDENTITY, self.settings.log_format), self.settings.log_format
        )
        self.state = StateWriter(self.paths.state_file, min_interval_s=self.settings.state_write_interval_ms / 1000)
        s = self.settings
        self.restart = RestartPolicy(
            s.restart_max_attempts, float(s.restart_backoff_seconds), float(s.restart_window_seconds), clock=clock
        )
        # Both set by ``run`` before any method below runs (``publish`` checks; the others read ``self.context``).
        self.ctx: CoreContext | None = None
        self.store: CoreStore | None = None
        self.exit_code = EXIT_OK
        self.blocked_reason = ""
        self._restart_at: float | None = None
        self._restart_key = ""
        self._launched = False
        self._init_workers()

    # -- lifecycle ----------------------------------------------------------------------
    def run(self) -> int:
        with CoreLock(self.paths.core_lock, self.identity.BOT_IDENTITY), self.home.audit() as audit:
            self.ctx = CoreContext(self.paths, self.settings, self.identity, self.log, audit, Matrix())
            self._install_signals()
            audit.append("supervisor", "core_starting", {"pid": os.getpid(), "version": __version__})
            self.notifier = build_notifier(self.home, self.log, self.fakes)
            try:
                if self._start():
                    self._loop()
            except Exception as exc:
                self._crashed(audit, exc)
            finally:
                self.shutdown_workers()
                self.publish(force=True)
                audit.append(
                    "supervisor",
                    "core_stopped",
                    {"pid": os.getpid(), "exit_code": self.exit_code},
                    severity="info" if self.exit_code == EXIT_OK else "critical",
                )
                self.log.info("supervisor", "core stopped", exit_code=self.exit_code)
                if self.store is not None:
                    self.store.close()
        return self.exit_code

    def _start(self) -> bool:
        """The startup pipeline: every part built and every check run; any failure blocks launch."""
        try:
            self.store = CoreStore(self.paths.core_db)
        except TbotError as exc:
            self.checks = [
                CheckResult.failed("core_store", exc.one_line(), "restore db/core.db from a backup or move it aside")
            ]
            self._block_launch()
            return False
        results: list[CheckResult] = []
        try:
            self.build_parts()
        except PartBuildError as exc:
            results.append(CheckResult.failed(exc.module, exc.detail, exc.hint or ""))
        results.extend(run_startup(self.home))
        self.checks = results
        if not all(r.ok for r in results):
            self._block_launch()
            return False
        self.launch()
        return True

    def _crashed(self, audit: AuditLog, exc: Exception) -> None:
        self.exit_code = EXIT_CRASHED
        detail = f"{type(exc).__name__}: {scrub(str(exc))[:300]}"
        audit.append("supervisor", "core_crashed", {"error": detail}, severity="critical")
        self.log.error(
            "supervisor", f"core crashed: {detail}", traceback=scrub("".join(traceback.format_exception(exc)))[-4000:]
        )
        print(f"core crashed: {detail} (traceback in the system log)", file=sys.stderr, flush=True)
        self.notifier.notify("core_crashed", detail, scope="All")

    def _loop(self) -> None:
        while not self.stop_requested.is_set():
            self._handle_flags()
            self.check_workers()
            self._watch_engine()
            self.publish()
            self.stop_requested.wait(POLL_SECONDS)

    def launch(self) -> None:
        self._launched = True
        self.control.mismatch.notify = self.notifier.notify  # a broker mismatch alerts like any critical event
        self.start_watchdog()
        self.start_engine()
        self.context.audit.append("supervisor", "core_started", {"pid": os.getpid(), "checks": len(self.checks)})
        self.log.info("supervisor", "core started", pid=os.getpid())
        if self.settings.defense_mode_active:
            self._set_defense(True, "DEFENSE_MODE_ACTIVE=true in the config")

    def _block_launch(self) -> int:
        failed = [r for r in self.checks if not r.ok]
        for result in failed:
            key = "decrypt_fail" if result.module.startswith("security") else "schema_fail"
            self.context.matrix.trigger(key, result.one_line())
            self.context.audit.append(
                "startup", "launch_blocked", {**result.to_dict(), "matrix_row": key}, severity="critical"
            )
            self.log.error("startup", result.one_line())
            print(f"launch blocked: {result.one_line()}", flush=True)
        self.blocked_reason = "; ".join(f"{r.module}: {r.detail}" for r in failed)[:500]
        self.notifier.notify("launch_blocked", "; ".join(r.one_line() for r in failed)[:300])
        self.exit_code = EXIT_BLOCKED
        self.publish(force=True)
        return self.exit_code

    def _install_signals(self) -> None:
        def on_signal(signum: int, _frame: Any) -> None:
            self._stop_cause = f"signal {signal.Signals(signum).name}"
            self.stop_requested.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

    # -- engine supervision and restart policy --------------------------------------------
    def _watch_engine(self) -> None:
        assert self.watchdog is not None  # a restart is scheduled only after launch built it
        if self._restart_at is not None and self.clock() >= self._restart_at:
            self._restart_at = None
            self.context.audit.append(
                "supervisor",
                "engine_restarted",
                {"matrix_row": self._restart_key, "attempt": self.restart.attempts},
                severity="warning",
            )
            self.context.matrix.clear(self._restart_key, f"engine restarted (attempt {self.restart.attempts})")
            self.start_engine()
            self.watchdog.rearm_feed()

    def controlled_stop(self, matrix_key: str, cause: str) -> None:
        """Stop the engine for a matrix event; restart it if the row and the window's budget allow, else end the core."""
        refusal = self.restart.refusal(matrix_key)
        if refusal:
            self.fatal_stop(matrix_key, cause, refusal=refusal)
            return
        self.context.matrix.trigger(matrix_key, cause)
        self.stop_engine(cause)
        self.context.audit.append(
            "supervisor",
            "controlled_stop",
            {"matrix_row": matrix_key, "cause": cause, "restart": True},
            severity="critical",
        )
        self.notifier.notify(f"{matrix_key}_controlled_stop", cause, scope="All")
        delay = self.restart.next_delay()
        self._restart_key = matrix_key
        self._restart_at = self.clock() + delay
        self.context.audit.append(
            "supervisor",
            "engine_restart_scheduled",
            {"matrix_row": matrix_key, "delay_s": delay, "attempt": self.restart.attempts},
        )

    def fatal_stop(
        self, matrix_key: str, cause: str, *, refusal: str = "no restart after a second worker failure"
    ) -> None:
        """A controlled stop of the whole core: nothing restarts, the exit code says so."""
        self.context.matrix.trigger(matrix_key, cause)
        self._restart_at = None
        self.stop_engine(cause)
        self.context.audit.append(
            "supervisor",
            "controlled_stop",
            {"matrix_row": matrix_key, "cause": cause, "restart": False},
            severity="critical",
        )
        self.notifier.notify(f"{matrix_key}_controlled_stop", cause, scope="All")
        self.context.audit.append(
            "supervisor",
            "engine_not_restarted",
            {"matrix_row": matrix_key, "attempts": self.restart.attempts, "reason": refusal},
            severity="critical",
        )
        self.exit_code = EXIT_GAVE_UP
        self._stop_cause = cause
        self.stop_requested.set()

    # -- control flags ----------------------------------------------------------------------
    def _handle_flags(self) -> None:
        flags, _bad = read_flags(self.paths, self.context.audit)
        for flag in flags:
            self.handle_flag(flag)

    def handle_flag(self, flag: ControlFlag) -> None:
        assert self.kill is not None  # flags are read only after launch built the parts
        outcome = "done"
        key, _, cause = flag.reason.partition(": ")
        if flag.flag == "stop" and flag.source == "system" and flag.requested_utc < self.started_utc:
            # An escalation of a core that is gone (it was stopped with this still queued): nothing to stop now.
            acknowledge(
                self.paths,
                self.context.audit,
                flag,
                f"superseded: requested before this core started ({self.started_utc})",
            )
            return
        if flag.flag == "stop" and flag.source == "system" and key in MATRIX_KEYS:
            acknowledge(self.paths, self.context.audit, flag, "controlled stop")
            self.controlled_stop(key, cause or flag.reason)
            return
        if flag.flag == "stop":
            self.context.matrix.trigger(
                "manual_shutdown", f"stop flag from {flag.operator.user}: {flag.reason or 'no reason'}"
            )
            self._stop_cause = "stop flag"
            self.stop_requested.set()
            outcome = "stopping"
        elif flag.flag == "start":
            if self.kill.triggered:
                outcome = "refused: kill switch is triggered; reset it first"
            elif self.engine_alive():
                outcome = "already running"
            else:
                self._restart_at = None
                self.start_engine()
                outcome = "engine started"
        elif flag.flag == "kill" and flag.source == "system":
            self.kill.trigger(f"escalated by the error handler: {flag.reason}", actor="system")
            outcome = "halted"
        elif flag.flag == "kill":
            self.kill.trigger(f"operator kill by {flag.operator.user}: {flag.reason}", actor="operator")
            outcome = "halted"
        elif flag.flag == "reset":
            outcome = (
                "kill switch re-armed"
                if self.kill.reset(flag.reason, flag.operator.user)
                else "not halted; nothing to reset"
            )
        elif flag.flag in {"defense_on", "defense_off"}:
            self._set_defense(flag.flag == "defense_on", f"{flag.flag} flag from {flag.operator.user}")
        elif flag.flag == "ack_mismatch":
            outcome = self.control.mismatch.acknowledge(flag.operator.user, flag.reason, self.context.audit)
        acknowledge(self.paths, self.context.audit, flag, outcome)

    def _broker_up(self, cause: str) -> None:
        """The broker answers again: resume, and have the engine compare it with the books before its next bar."""
        super()._broker_up(cause)
        self.control.reconcile_due = True

    def _set_defense(self, on: bool, cause: str) -> None:
        (self.context.matrix.trigger if on else self.context.matrix.clear)(
            "defense_mode", cause
        )  # matrix before mode: see Matrix
        self.control.defense = on
        self.context.audit.append(
            "risk",
            "defense_mode_on" if on else "defense_mode_off",
            {"cause": cause, "factor": str(self.settings.defense_mode_factor)},
            severity="warning",
        )


def blocked_before_launch(home: BotHome, exc: TbotError) -> int:
    """The config or identity cannot even be read: audit it, publish a stopped state, exit."""
    key = "decrypt_fail"
    try:
        with home.audit() as audit:
            audit.append(
                "startup",
                "launch_blocked",
                {"module": "security_bot", "detail": exc.one_line(), "matrix_row": key},
                severity="critical",
            )
    except TbotError:
        pass
    StateWriter(home.paths.state_file).write(blocked_state("security_bot", exc.one_line()), force=True)
    print(f"launch blocked: {exc.one_line()}", flush=True)
    return EXIT_BLOCKED


def run_core(home: BotHome, fakes: Fakes | None = None) -> int:
    """The core's entry point. ``fakes`` is for tests (tests/fakes/); ``tbot core`` passes none."""
    try:
        _ = home.settings, home.identity  # load both now: a bad .env_bot or identity blocks before any part starts
    except TbotError as exc:
        return blocked_before_launch(home, exc)
    return Supervisor(home, fakes).run()
