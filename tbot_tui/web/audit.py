"""The web server's audit rows (category ``web``), kept off the event loop.

Every part of the server (the access checks, the console sessions, start and
stop) writes these rows, and an ``AuditLog`` write can wait on the core's
SQLite lock; one writer here, called through a thread, keeps that wait from
stalling every open console.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from tbot_core.audit import AuditLog
from tbot_core.paths import HomePaths

log = logging.getLogger("tbot.serve")


class WebAudit:
    """Audit rows of category ``web``, appended off the event loop (SQLite may wait on the core's lock)."""

    def __init__(self, paths: HomePaths) -> None:
        self.paths = paths
        self._log: AuditLog | None = None

    def _append(self, event: str, context: dict[str, Any], severity: str, actor: str) -> None:
        if self._log is None:
            self._log = AuditLog(self.paths.audit_db)
        self._log.append("web", event, context, severity=severity, actor=actor)

    async def __call__(
        self, event: str, context: dict[str, Any], *, severity: str = "info", actor: str = "system"
    ) -> None:
        try:
            await asyncio.to_thread(self._append, event, context, severity, actor)
        except Exception as exc:
            log.error("audit row web/%s not written: %s", event, type(exc).__name__)

    def append_now(self, event: str, context: dict[str, Any], *, severity: str = "info", actor: str = "system") -> None:
        self._append(event, context, severity, actor)

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
