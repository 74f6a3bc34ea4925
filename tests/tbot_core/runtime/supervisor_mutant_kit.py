"""The supervisor's test kit: its parts built by the core's own wiring on a real home, a sim clock, and ``spawn``
recording the engine and watchdog threads instead of starting them (so a test sees exactly what a flag started)."""

from __future__ import annotations

import json
from typing import Any

from tbot_core.audit import AuditLog
from tbot_core.context import CoreContext, Matrix
from tbot_core.control import Operator, read_flags, write_flag
from tbot_core.core_store import CoreStore
from tbot_core.home import BotHome
from tbot_core.runtime.supervisor import (
    Supervisor,
)
from tbot_core.runtime.wiring import Fakes
from tbot_core.safety.notifier_bot import Notifier
from tests.fakes.faults import RecordingNotifier
from tests.tbot_core.runtime.core_harness import make_home
from tests.tbot_core.runtime.engine_mutant_kit import SimClock


class NotStarted:
    """What ``spawn`` hands back here: a thread that was never started (``alive`` as the test sets it)."""

    def __init__(self, target: Any, name: str) -> None:
        self.target, self.name, self.alive = target, name, False

    def is_alive(self) -> bool:
        return self.alive

    def join(self, timeout: float | None = None) -> None:
        return None


class Kit:
    def __init__(self, tmp_path, env: dict[str, str] | None = None, fakes: Fakes | None = None) -> None:
        self.paths = make_home(tmp_path, env or {}, bars=4, symbols=("SPY",))
        self.home = BotHome(str(self.paths.root))
        self.clock = SimClock()
        self.threads: list[NotStarted] = []
        self.sent: list[tuple] = []

        def spawn(target: Any, name: str) -> NotStarted:
            thread = NotStarted(target, name)
            self.threads.append(thread)
            return thread

        self.sup = Supervisor(self.home, fakes, clock=self.clock, spawn=spawn)  # type: ignore[arg-type]
        self.exits: list[int] = []
        self.sup.exit_process = self.exits.append  # type: ignore[method-assign]

    def opened(self) -> Supervisor:
        """What ``run`` does before ``_start``: the context and the notifier (alerts recorded in ``sent``)."""
        sup = self.sup
        self.audit = AuditLog(self.paths.audit_db)
        sup.ctx = CoreContext(self.paths, sup.settings, sup.identity, sup.log, self.audit, Matrix())
        inner = Notifier(lambda name: None, sup.log, bot_identity=sup.identity.BOT_IDENTITY)
        sup.notifier = RecordingNotifier(inner, sent=self.sent, raises=lambda event: False)  # type: ignore[assignment]
        return sup

    def open(self) -> Supervisor:
        """What ``run`` does before the startup pipeline: context, notifier, store, parts."""
        sup = self.opened()
        sup.store = CoreStore(self.paths.core_db)
        sup.build_parts()
        return sup

    def log_rows(self) -> list[dict]:
        """The system log's rows (JSON lines)."""
        path = self.paths.system_log(self.sup.identity.BOT_IDENTITY, self.sup.settings.log_format)
        return [json.loads(line) for line in path.read_text().splitlines()]

    def flag(self, flag: str, reason: str = "", source: str = "cli", user: str = "ops"):
        write_flag(self.paths, flag, reason=reason, source=source, operator=Operator(user, None))
        (pending,) = read_flags(self.paths)[0]
        return pending

    def rows(self, category: str | None = None, event: str | None = None) -> list:
        audit = AuditLog(self.paths.audit_db)
        try:
            rows = list(audit.iter_rows())
        finally:
            audit.close()
        return [r for r in rows if (category is None or r.category == category) and (event is None or r.event == event)]

    def ack(self, flag: str) -> dict:
        (row,) = self.rows("control", f"flag_{flag}_acknowledged")
        return row.context_dict()

    def names(self) -> list[str]:
        return [t.name for t in self.threads]
