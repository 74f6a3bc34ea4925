"""What every part of a running core shares: settings, paths, logs, audit, matrix.

The engine, the watchdog and the supervisor run as threads of one process.
The audit log is the one append path and is itself safe from any thread; the
emergency matrix is a small locked table of row states that the supervisor
publishes in ``state.json``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

from tbot_core.audit import AuditLog
from tbot_core.config import Settings
from tbot_core.emergency import matrix_row
from tbot_core.identity import Identity
from tbot_core.paths import HomePaths
from tbot_core.state import empty_matrix
from tbot_core.state_schema import MatrixRowState, MatrixRowView
from tbot_core.syslog import SystemLog
from tbot_core.timeutil import iso_z


class Matrix:
    """Live state of each Emergency Event Matrix row: armed, triggered or cleared.

    Ordering rule: whoever changes what the core's mode is derived from (kill
    switch state, suspended, defense) updates the matching row here first.
    The supervisor decides the mode before it takes the rows, so a state.json
    that says "halted", "suspended" or "defense" (or "running" again) always
    shows the row that explains it, never the row as it was a moment before.
    The rows are frozen and replaced as a whole tuple, so ``rows()`` hands out
    the current tuple itself: no copy, no lock for readers.
    """

    def __init__(self) -> None:
        self._rows = empty_matrix()  # frozen rows; a change swaps in a new tuple, so readers need no copy
        self._index = {row.key: i for i, row in enumerate(self._rows)}
        self._lock = threading.Lock()

    def trigger(self, key: str, cause: str) -> None:
        self._set(key, MatrixRowState.TRIGGERED, cause)

    def clear(self, key: str, cause: str) -> None:
        self._set(key, MatrixRowState.CLEARED, cause)

    def state(self, key: str) -> MatrixRowState:
        return self._rows[self._index[key]].state

    def rows(self) -> tuple[MatrixRowView, ...]:
        return self._rows

    def _set(self, key: str, state: MatrixRowState, cause: str) -> None:
        matrix_row(key)  # unknown keys are a programming error
        with self._lock:
            rows = list(self._rows)
            i = self._index[key]
            rows[i] = replace(rows[i], state=state, last_utc=iso_z(), cause=cause[:300])
            self._rows = tuple(rows)


@dataclass
class CoreContext:
    paths: HomePaths
    settings: Settings
    identity: Identity
    syslog: SystemLog
    audit: AuditLog
    matrix: Matrix
