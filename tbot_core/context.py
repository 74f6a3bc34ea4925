"""What every part of a running core shares: settings, paths, logs, audit, matrix.

The engine, the watchdog and the supervisor run as threads of one process.
The audit log is the one append path and is itself safe from any thread; the
emergency matrix is a small locked table of row states that the supervisor
publishes in ``state.json``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from tbot_core.audit import AuditLog
from tbot_core.config import Settings
from tbot_core.emergency import matrix_row
from tbot_core.identity import Identity
from tbot_core.paths import HomePaths
from tbot_core.state import empty_matrix
from tbot_core.syslog import SystemLog
from tbot_core.timeutil import iso_z


class Matrix:
    """Live state of each Emergency Event Matrix row: armed, triggered or cleared.

    Ordering rule: whoever changes what the core's mode is derived from (kill
    switch state, suspended, defense) updates the matching row here first.
    ``build_state`` reads the mode before the matrix, so a state.json that
    says "halted", "suspended" or "defense" (or "running" again) always shows
    the row that explains it, never the row as it was a moment before.
    """

    def __init__(self) -> None:
        self._rows = {row["key"]: row for row in empty_matrix()}
        self._lock = threading.Lock()

    def trigger(self, key: str, cause: str) -> None:
        self._set(key, "triggered", cause)

    def clear(self, key: str, cause: str) -> None:
        self._set(key, "cleared", cause)

    def state(self, key: str) -> str:
        with self._lock:
            return self._rows[key]["state"]

    def rows(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(row) for row in self._rows.values()]

    def _set(self, key: str, state: str, cause: str) -> None:
        matrix_row(key)  # unknown keys are a programming error
        with self._lock:
            self._rows[key].update(state=state, last_utc=iso_z(), cause=cause[:300])


@dataclass
class CoreContext:
    paths: HomePaths
    settings: Settings
    identity: Identity
    syslog: SystemLog
    audit: AuditLog
    matrix: Matrix
