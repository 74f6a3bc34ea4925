"""Readers that run in thread workers: ``state.json`` and the audit database.

They never raise for an expected failure: a missing, locked or garbled source
becomes a one-line problem the console shows as a banner while it keeps
polling. The audit database is opened read-only with a short busy timeout so a
writer holding a lock costs the console one poll, not ten seconds.
"""

from __future__ import annotations

import apsw

from tbot_core.audit import AuditLog, AuditRow
from tbot_core.errors import TbotError
from tbot_core.paths import HomePaths
from tbot_core.state import StateRead, read_state
from tbot_tui.clock import Clock

READ_BUSY_TIMEOUT_MS = 200
MAX_ROWS_PER_POLL = 2000


def poll_state(paths: HomePaths, clock: Clock) -> StateRead:
    return read_state(paths.state_file, now=clock())


class AuditSource:
    """Incremental tail of the audit log: each poll returns rows after the last seen seq."""

    def __init__(self, paths: HomePaths) -> None:
        self.paths = paths
        self.last_seq = 0
        self._log: AuditLog | None = None

    def poll(self, *, first_batch: int = 200) -> tuple[list[AuditRow], str]:
        try:
            log = self._open()
            if log is None:
                return [], "audit.db not found: no audit log yet"
            if self.last_seq == 0:
                rows = log.tail(first_batch)
            else:
                rows = log.tail(MAX_ROWS_PER_POLL, after_seq=self.last_seq)
        except apsw.BusyError:
            return [], "audit.db is locked by a writer; retrying"
        except (apsw.Error, TbotError) as exc:
            self.close()
            return [], f"audit.db unreadable ({type(exc).__name__}); retrying"
        if rows:
            self.last_seq = rows[-1].seq
        return rows, ""

    def query(
        self, n: int, *, category: str | None, severity: str | None, search: str | None
    ) -> tuple[list[AuditRow], str]:
        """The newest ``n`` rows matching a filter (for a filter change, not the live tail)."""
        try:
            log = self._open()
            if log is None:
                return [], "audit.db not found: no audit log yet"
            return log.tail(n, category=category, severity=severity, search=search or None), ""
        except apsw.BusyError:
            return [], "audit.db is locked by a writer; retrying"
        except (apsw.Error, TbotError) as exc:
            self.close()
            return [], f"audit.db unreadable ({type(exc).__name__}); retrying"

    def _open(self) -> AuditLog | None:
        if self._log is None:
            if not self.paths.audit_db.exists():
                return None
            self._log = AuditLog(self.paths.audit_db, readonly=True)
            self._log.conn.set_busy_timeout(READ_BUSY_TIMEOUT_MS)
        return self._log

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
