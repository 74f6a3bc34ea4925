"""The supervisor's children: the engine worker, the watchdog and the notifier, built, watched and ended here.

Kept apart from the flag handling so each file holds one responsibility.  The
parts come from ``wiring.build_parts`` (the one wiring function).  The engine
runs on a thread with a fresh feed each start (resuming from the cursor in
``core.db``); the broker, kill switch and notifier live as long as the
supervisor.  An engine that ignores its stop for the grace period is audited
and the whole core exits (its threads cannot be ended alone).

Every worker is supervised (``check_workers``, once per supervisor loop): a
thread that died, or that has been busy without a heartbeat for
``WORKER_STALL_SECONDS``, is restarted once with an audit row and an alert; a
second failure of the same worker is a controlled stop of the whole core, so
the bot never trades without its watchdog.  The ledger poster runs on the
engine thread, so a stuck posting is an engine stall.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from tbot_core.config import Settings
from tbot_core.context import CoreContext
from tbot_core.core_store import CoreStore
from tbot_core.data.base import Feed
from tbot_core.home import BotHome
from tbot_core.runtime.engine import Engine, EngineControl
from tbot_core.runtime.engine_view import EngineState
from tbot_core.runtime.wiring import Fakes, build_parts
from tbot_core.safety.error_handler import ErrorHandler
from tbot_core.safety.kill_switch import KillSwitch
from tbot_core.safety.notifier_bot import Notifier
from tbot_core.safety.risk_bot import RiskBot
from tbot_core.safety.watchdog_bot import Watchdog
from tbot_core.syslog import SystemLog

# A worker that fails again after its one restart ends the core (exit code in supervisor.py).
RESTARTS_PER_WORKER = 1


class Workers:
    """Mixin for ``Supervisor``: expects ``home``, ``settings``, ``ctx``, ``store``, ``notifier``, ``publish``."""

    fakes: Fakes | None

    def _init_workers(self) -> None:
        self.control = EngineControl()
        self.engine: Engine | None = None
        self.risk: RiskBot | None = None
        self.kill: KillSwitch | None = None
        self.watchdog: Watchdog | None = None
        self._engine_thread: threading.Thread | None = None
        self._feed: Feed | None = None
        self._stop_cause = ""
        self.worker_restarts: dict[str, int] = {}

    @property
    def context(self) -> CoreContext:
        """The context ``run`` opened: every part is built and every worker runs inside it."""
        if self.ctx is None:
            raise RuntimeError("the core is not running: run() opens its context")
        return self.ctx

    def build_parts(self) -> None:
        s = self.settings
        assert self.store is not None  # run() opened it before building the parts
        self.parts = build_parts(self.home, self.context, self.store, self.notifier, self.fakes)
        self.broker = self.parts.broker
        self.gate, self.risk = self.parts.gate, self.parts.risk
        self.watchdog = Watchdog(
            s,
            broker=lambda: self.broker,
            feed=lambda: self._feed,
            on_broker_down=self._broker_down,
            on_broker_up=self._broker_up,
            on_feed_down=self._feed_down,
            clock=self.clock,
            spawn=self.spawn,
        )
        self.errors = ErrorHandler(self.context, broker_code=self.broker.code, on_suspend=self.watchdog.broker_failed)
        kill = KillSwitch(self.store, self.context, self.notifier, cancel_orders=self.broker.cancel_all)
        if kill.triggered:  # before the supervisor can see it: a "halted" state.json must show this row triggered
            self.context.matrix.trigger(
                "daily_loss", f"still halted since {kill.state().since_utc}: {kill.state().cause}"
            )
        kill.reconcile()
        self.kill = kill

    def start_watchdog(self) -> None:
        assert self.watchdog is not None  # built by build_parts
        self.watchdog.start()

    # -- engine --------------------------------------------------------------------------
    def start_engine(self) -> None:
        # build_parts made all of these before the first start.
        assert self.store is not None and self.risk is not None and self.kill is not None and self.watchdog is not None
        self.control.stop.clear()
        last_bar, _ = self.store.cursor()
        self._feed = self.parts.make_feed(last_bar)
        self.engine = Engine(
            self.context,
            store=self.store,
            broker=self.broker,
            feed=self._feed,
            strategies=self.parts.make_strategies(),
            gate=self.gate,
            risk=self.risk,
            kill_switch=self.kill,
            errors=self.errors,
            control=self.control,
            on_broker_down=self.watchdog.broker_failed,
            clock=self.clock,
        )
        self._engine_thread = self.spawn(self._engine_main, "engine")
        self.context.audit.append(
            "supervisor", "engine_started", {"resume_after_bar": last_bar, "broker": self.broker.code}
        )

    def _engine_main(self) -> None:
        assert self.engine is not None
        try:
            self.engine.run()
        except Exception as exc:
            self.errors.record(exc, context={"where": "engine"})
            self.errors.escalate("stop", "logic_error", f"engine crashed: {type(exc).__name__}: {exc}")
            self.engine.end(EngineState.CRASHED)
        self.log.info("engine", f"engine finished: {self.engine.state}", bars=self.engine.bars)

    def engine_alive(self) -> bool:
        return self._engine_thread is not None and self._engine_thread.is_alive()

    def engine_finished(self) -> str:
        """How the engine ended, from its published view ("" while it runs)."""
        state = self.engine.view.state if self.engine is not None else None
        return state if state is not None and state.finished else ""

    def stop_engine(self, cause: str) -> None:
        self.control.stop.set()
        if self._feed is not None:
            self._feed.close()
        thread = self._engine_thread
        if thread is None or thread is threading.current_thread():
            return
        thread.join(float(self.settings.supervisor_stop_grace_seconds))
        if thread.is_alive():
            self.context.audit.append(
                "supervisor",
                "engine_unresponsive_exit",
                {"cause": cause, "grace_s": str(self.settings.supervisor_stop_grace_seconds)},
                severity="critical",
            )
            self.log.error("supervisor", "engine ignored the stop; ending the core process")
            self.publish(force=True)
            self.exit_process(5)

    def shutdown_workers(self) -> None:
        # The engine first: joining the watchdog can wait out a slow heartbeat, and no order may go out meanwhile.
        self.stop_engine(self._stop_cause or "shutdown")
        if self.watchdog is not None:
            self.watchdog.stop()
        self.notifier.close()

    # -- liveness ---------------------------------------------------------------------------
    def check_workers(self) -> None:
        """Once per supervisor loop: a dead or stalled worker is restarted once, then the core stops."""
        for name, problem, restart in self._worker_checks():
            cause = problem()
            if cause:
                self._worker_failed(name, cause, restart)
                if self.stop_requested.is_set():
                    return

    def _worker_checks(self) -> list[tuple[str, Callable[[], str], Callable[[], None]]]:
        assert self.watchdog is not None  # workers are checked only after launch
        return [
            ("watchdog", self._watchdog_problem, self.watchdog.start),
            ("engine", self._engine_problem, self._restart_engine),
            ("notifier", self._notifier_problem, self.notifier.start),
        ]

    def _stall_limit(self) -> float:
        return float(self.settings.worker_stall_seconds)

    def _watchdog_problem(self) -> str:
        wd = self.watchdog
        if wd is None or self.stop_requested.is_set():
            return ""
        if not wd.alive():
            return f"watchdog thread died ({wd.died_of or 'no exception recorded'})"
        age = self.clock() - wd.last_loop
        if age > max(self._stall_limit(), 3 * wd.interval):
            return f"watchdog made no probe for {age:.1f}s (WORKER_STALL_SECONDS={self.settings.worker_stall_seconds})"
        return ""

    def _engine_problem(self) -> str:
        engine = self.engine
        if engine is None or self.stop_requested.is_set() or not self.engine_alive():
            return ""  # an engine that ended is judged by its own path (finished / escalation flag)
        busy = engine.busy_since
        age = self.clock() - engine.beat
        if busy is not None and age > self._stall_limit():
            return f"engine busy for {age:.1f}s without progress (WORKER_STALL_SECONDS={self.settings.worker_stall_seconds})"
        return ""

    def _notifier_problem(self) -> str:
        died = self.notifier.died_of()
        return f"notifier thread died ({died})" if died else ""

    def _restart_engine(self) -> None:
        self.stop_engine("engine stalled")
        self.start_engine()

    def _worker_failed(self, name: str, cause: str, restart: Callable[[], None]) -> None:
        count = self.worker_restarts.get(name, 0)
        if count < RESTARTS_PER_WORKER:
            self.worker_restarts[name] = count + 1
            self.context.audit.append(
                "supervisor",
                "worker_restarted",
                {"worker": name, "cause": cause, "restart": count + 1},
                severity="critical",
            )
            self.log.error("supervisor", f"{name} failed, restarting it once: {cause}")
            self.notifier.notify("worker_restarted", f"{name}: {cause}", scope="All")
            restart()
            return
        self.context.audit.append(
            "supervisor",
            "worker_failed_again",
            {"worker": name, "cause": cause, "restarts": count},
            severity="critical",
        )
        self.fatal_stop("logic_error", f"{name} failed again after {count} restart(s): {cause}")

    # -- watchdog callbacks (watchdog thread, or the engine's at start) ------------------------
    def _broker_down(self, cause: str) -> None:
        self.context.matrix.trigger("broker_down", cause)  # matrix before mode: see Matrix
        self.control.suspended = True
        self.context.audit.append(
            "watchdog", "broker_suspended", {"cause": cause, "broker": self.broker.code}, severity="critical"
        )
        self.log.error("watchdog_bot", f"broker suspended: {cause}")
        self.notifier.notify("broker_suspended", cause, scope="Broker")

    def _broker_up(self, cause: str) -> None:
        self.context.matrix.clear("broker_down", cause)  # matrix before mode: see Matrix
        self.control.suspended = False
        self.context.audit.append(
            "watchdog", "broker_resumed", {"cause": cause, "broker": self.broker.code}, severity="warning"
        )
        self.log.info("watchdog_bot", f"broker resumed: {cause}")
        self.notifier.notify("broker_resumed", cause, severity="warning", scope="Broker")

    def _feed_down(self, cause: str) -> None:
        self.context.audit.append("watchdog", "market_data_down", {"cause": cause}, severity="critical")
        self.errors.escalate("stop", "feed_down", cause)

    # How the core ends itself when a worker ignores its stop; the fault simulator records it instead.
    exit_process: Callable[[int], None] = staticmethod(os._exit)

    # provided by Supervisor
    clock: Callable[[], float]
    spawn: Callable[[Callable[[], None], str], threading.Thread]
    stop_requested: threading.Event
    fatal_stop: Callable[[str, str], None]
    publish: Callable[..., None]
    home: BotHome
    settings: Settings
    ctx: CoreContext | None  # set by run() before build_parts
    store: CoreStore | None  # set by run() before build_parts
    notifier: Notifier
    log: SystemLog
