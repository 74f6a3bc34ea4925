"""The error handler's test kit: a real home's settings, audit log, system log and control folder, and the
two stand-ins the handler takes (the random source and the wait)."""

from __future__ import annotations

import json

from tbot_core.audit import AuditLog
from tbot_core.context import CoreContext, Matrix
from tbot_core.control import read_flags
from tbot_core.safety.error_handler import ErrorHandler
from tbot_core.syslog import SystemLog

SECRET = "sk-live-Zq81mPx44k"


class HighEnd:
    """A random source that always answers the top of the range it is asked for, and records the ranges."""

    def __init__(self, pick: str = "high") -> None:
        self.pick = pick
        self.asked: list[tuple[float, float]] = []

    def uniform(self, low: float, high: float) -> float:
        self.asked.append((low, high))
        return high if self.pick == "high" else low


class Kit:
    def __init__(self, bot_home, pick: str = "high", on_suspend=None, **values: str) -> None:
        self.settings = bot_home.settings.with_values(
            {"LOG_FORMAT": "JSON", "API_RETRY_LIMIT": "3", "API_RETRY_BASE_SECONDS": "0.5", **values}
        )
        self.paths, ident = bot_home.paths, bot_home.identity
        self.syslog_path = self.paths.system_log(ident.BOT_IDENTITY, "JSON")
        self.audit = AuditLog(self.paths.audit_db)
        syslog = SystemLog(self.syslog_path, "JSON")
        self.ctx = CoreContext(self.paths, self.settings, ident, syslog, self.audit, Matrix())
        self.slept: list[float] = []
        self.rng = HighEnd(pick)
        self.handler = ErrorHandler(
            self.ctx, broker_code="PAPER", sleep=self.slept.append, on_suspend=on_suspend, rng=self.rng
        )

    def log(self, level: str | None = None) -> list[dict]:
        if not self.syslog_path.exists():
            return []
        rows = [json.loads(line) for line in self.syslog_path.read_text().splitlines()]
        return [r for r in rows if r["module"] == "error_handler" and (level is None or r["level"] == level)]

    def flags(self):
        return read_flags(self.paths)[0]

    def escalations(self) -> list[dict]:
        return [r.context_dict() for r in self.audit.tail(50, category="error_handler") if r.event == "escalated"]


class Failing:
    """``func`` for ``retry``: raises the listed exceptions in turn, then answers ``"done"``."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"
