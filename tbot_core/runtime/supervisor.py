"""The supervisor: the one long-lived core process for a bot identity.

It holds the core lock, runs the startup pipeline (every registered
self-check; any failure blocks launch), then loops: act on control flags,
acknowledge each in the audit log, and publish ``state.json``.  It runs with
no terminal and logs to files; SIGTERM and SIGINT mean an orderly stop.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

from tbot_core import __version__
from tbot_core.check_registry import registered_checks
from tbot_core.control import ControlFlag, acknowledge, read_flags
from tbot_core.errors import TbotError
from tbot_core.home import BotHome
from tbot_core.runtime.lock import CoreLock
from tbot_core.selfcheck import CheckResult, all_ok, run_checks
from tbot_core.state import StateWriter, empty_matrix
from tbot_core.syslog import SystemLog
from tbot_core.timeutil import iso_z

POLL_SECONDS = 0.1


class Supervisor:
    def __init__(self, home: BotHome) -> None:
        self.home = home
        self.paths = home.paths
        self.settings = home.settings
        self.identity = home.identity
        self.stop_requested = threading.Event()
        self.mode = "starting"
        self.started_utc = iso_z()
        self.checks: list[CheckResult] = []
        self.matrix = empty_matrix()
        self.paths.ensure_layout(self.identity.BOT_IDENTITY)
        self.log = SystemLog(self.paths.system_log(self.identity.BOT_IDENTITY, self.settings.log_format), self.settings.log_format)
        self.state = StateWriter(self.paths.state_file, min_interval_s=self.settings.state_write_interval_ms / 1000)

    # -- lifecycle ----------------------------------------------------------------------
    def run(self) -> int:
        with CoreLock(self.paths.core_lock, self.identity.BOT_IDENTITY), self.home.audit() as audit:
            self.audit = audit
            self._install_signals()
            audit.append("supervisor", "core_starting", {"pid": os.getpid(), "version": __version__})
            self.checks = run_checks(registered_checks(self.home))
            if not all_ok(self.checks):
                return self._block_launch()
            self.mode = "running"
            audit.append("supervisor", "core_started", {"pid": os.getpid(), "checks": len(self.checks)})
            self.log.info("supervisor", "core started", pid=os.getpid())
            while not self.stop_requested.is_set():
                self._handle_flags()
                self.publish()
                self.stop_requested.wait(POLL_SECONDS)
            self.mode = "stopped"
            self.publish(force=True)
            audit.append("supervisor", "core_stopped", {"pid": os.getpid()})
            self.log.info("supervisor", "core stopped")
        return 0

    def _block_launch(self) -> int:
        self.mode = "stopped"
        for result in self.checks:
            if not result.ok:
                self.audit.append("startup", "launch_blocked", result.to_dict(), severity="critical")
                self.log.error("startup", result.one_line())
        self.publish(force=True)
        return 3

    def _install_signals(self) -> None:
        def on_signal(signum: int, _frame: Any) -> None:
            self.stop_requested.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

    # -- control flags ----------------------------------------------------------------------
    def _handle_flags(self) -> None:
        flags, _bad = read_flags(self.paths, self.audit)
        for flag in flags:
            self.handle_flag(flag)

    def handle_flag(self, flag: ControlFlag) -> None:
        outcome = "done"
        if flag.flag == "stop":
            self.stop_requested.set()
            outcome = "stopping"
        elif flag.flag == "start":
            outcome = "already running" if self.mode == "running" else "resumed"
            if self.mode in {"stopped", "suspended", "defense"}:
                self.mode = "running"
            elif self.mode == "halted":
                outcome = "refused: kill switch is triggered; reset it first"
        elif flag.flag == "kill":
            self.mode = "halted"
        elif flag.flag == "reset":
            if self.mode == "halted":
                self.mode = "running"
        elif flag.flag == "defense_on":
            self.mode = "defense" if self.mode == "running" else self.mode
        elif flag.flag == "defense_off":
            self.mode = "running" if self.mode == "defense" else self.mode
        acknowledge(self.paths, self.audit, flag, outcome)

    # -- state ------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "core": {"pid": os.getpid(), "started_utc": self.started_utc, "heartbeat_utc": iso_z(), "version": __version__},
            "identity": {"bot_identity": self.identity.BOT_IDENTITY, "jurisdiction": self.identity.JURISDICTION_CODE,
                         "broker": self.settings.broker, "paper": self.settings.broker == "paper",
                         "environment": self.settings.environment},
            "self_check": [r.to_dict() for r in self.checks],
            "emergency_matrix": self.matrix,
            "verdicts": [],
            "positions": [],
        }

    def publish(self, *, force: bool = False) -> None:
        self.state.write(self.snapshot(), force=force)


def main(home_root: str | None = None) -> int:
    try:
        return Supervisor(BotHome(home_root)).run()
    except TbotError as exc:
        print(f"error: {exc.one_line()}", flush=True)
        return exc.exit_code
