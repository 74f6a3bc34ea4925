"""The supervisor's children: the engine worker and the watchdog, built, started and ended here.

Kept apart from the flag handling so each file holds one responsibility.  The
engine runs on a thread with a fresh feed each start (resuming from the
cursor in ``core.db``); the broker, kill switch and notifier live as long as
the supervisor.  An engine that ignores its stop for the grace period is
audited and the whole core exits (its threads cannot be ended alone).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from tbot_core.brokers.factory import make_broker
from tbot_core.data.factory import make_feed
from tbot_core.runtime.engine import Engine, EngineControl
from tbot_core.runtime.pipeline_parts import build_gate, build_strategies
from tbot_core.safety.error_handler import ErrorHandler
from tbot_core.safety.kill_switch import KillSwitch
from tbot_core.safety.notifier_bot import Notifier, secret_store_loader
from tbot_core.safety.risk_bot import RiskBot
from tbot_core.safety.watchdog_bot import Watchdog


class Workers:
    """Mixin for ``Supervisor``: expects ``home``, ``settings``, ``ctx``, ``store``, ``publish``."""

    def _init_workers(self) -> None:
        self.control = EngineControl()
        self.engine: Engine | None = None
        self.kill: KillSwitch | None = None
        self.watchdog: Watchdog | None = None
        self._engine_thread: threading.Thread | None = None
        self._feed: Any = None
        self._stop_cause = ""

    def build_parts(self) -> None:
        s = self.settings
        self.notifier = Notifier(secret_store_loader(self.home), self.log, bot_identity=self.identity.BOT_IDENTITY,
                                 enabled=s.notify_on_critical, timeout_s=float(s.notify_webhook_timeout_seconds))
        self.broker = make_broker(self.home, s, store=self.store)
        self.errors = ErrorHandler(self.ctx, broker_code=self.broker.code)
        kill = KillSwitch(self.store, self.ctx, self.notifier, cancel_orders=self.broker.cancel_all)
        if kill.triggered:  # before the supervisor can see it: a "halted" state.json must show this row triggered
            self.ctx.matrix.trigger("daily_loss", f"still halted since {kill.state().since_utc}: {kill.state().cause}")
        self.kill = kill
        self.risk = RiskBot(s)
        self.gate = build_gate(self.ctx, self.broker.code)
        self.watchdog = Watchdog(s, broker=lambda: self.broker, feed=lambda: self._feed,
                                 on_broker_down=self._broker_down, on_broker_up=self._broker_up, on_feed_down=self._feed_down)

    def start_watchdog(self) -> None:
        self.watchdog.start()

    # -- engine --------------------------------------------------------------------------
    def start_engine(self) -> None:
        self.control.stop.clear()
        last_bar, _ = self.store.cursor()
        self._feed = make_feed(self.home, self.settings, start_after=last_bar)
        self.engine = Engine(self.ctx, store=self.store, broker=self.broker, feed=self._feed,
                             strategies=build_strategies(self.settings), gate=self.gate, risk=self.risk,
                             kill_switch=self.kill, errors=self.errors, control=self.control)
        self._engine_thread = threading.Thread(target=self._engine_main, name="engine", daemon=True)
        self._engine_thread.start()
        self.ctx.audit.append("supervisor", "engine_started", {"resume_after_bar": last_bar, "broker": self.broker.code})

    def _engine_main(self) -> None:
        assert self.engine is not None
        try:
            self.engine.run()
        except Exception as exc:  # noqa: BLE001 - a crash is a critical exception: escalate by flag
            self.errors.record(exc, context={"where": "engine"})
            self.errors.escalate("stop", "logic_error", f"engine crashed: {type(exc).__name__}: {exc}")
            self.engine.finished = "crashed"
        self.log.info("engine", f"engine finished: {self.engine.finished}", bars=self.engine.bars)

    def engine_alive(self) -> bool:
        return self._engine_thread is not None and self._engine_thread.is_alive()

    def engine_finished(self) -> str:
        return self.engine.finished if self.engine is not None else ""

    def stop_engine(self, cause: str) -> None:
        self.control.stop.set()
        if self._feed is not None and hasattr(self._feed, "close"):
            self._feed.close()
        thread = self._engine_thread
        if thread is None or thread is threading.current_thread():
            return
        thread.join(float(self.settings.supervisor_stop_grace_seconds))
        if thread.is_alive():
            self.ctx.audit.append("supervisor", "engine_unresponsive_exit",
                                  {"cause": cause, "grace_s": str(self.settings.supervisor_stop_grace_seconds)},
                                  severity="critical")
            self.log.error("supervisor", "engine ignored the stop; ending the core process")
            self.publish(force=True)
            os._exit(5)

    def shutdown_workers(self) -> None:
        if self.watchdog is not None:
            self.watchdog.stop()
        self.stop_engine(self._stop_cause or "shutdown")
        if getattr(self, "notifier", None) is not None:
            self.notifier.close()

    # -- watchdog callbacks (watchdog thread) ------------------------------------------------
    def _broker_down(self, cause: str) -> None:
        self.ctx.matrix.trigger("broker_down", cause)  # matrix before mode: see Matrix
        self.control.suspended = True
        self.ctx.audit.append("watchdog", "broker_suspended", {"cause": cause, "broker": self.broker.code}, severity="critical")
        self.log.error("watchdog_bot", f"broker suspended: {cause}")
        self.notifier.notify("broker_suspended", cause, scope="Broker")

    def _broker_up(self, cause: str) -> None:
        self.ctx.matrix.clear("broker_down", cause)  # matrix before mode: see Matrix
        self.control.suspended = False
        self.ctx.audit.append("watchdog", "broker_resumed", {"cause": cause, "broker": self.broker.code}, severity="warning")
        self.log.info("watchdog_bot", f"broker resumed: {cause}")

    def _feed_down(self, cause: str) -> None:
        self.ctx.audit.append("watchdog", "market_data_down", {"cause": cause}, severity="critical")
        self.errors.escalate("stop", "feed_down", cause)
