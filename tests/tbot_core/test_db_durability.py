"""A halt and a critical audit row reach the disk at commit (WAL synced); everyday writes wait for a checkpoint.

WAL with ``synchronous=NORMAL`` (the core's everyday setting) syncs the log only at checkpoints, so a power cut
can take the last commits with it.  A recording VFS, made the process default for the test, counts the syncs of
each ``-wal`` file: that is what decides whether a commit survives a power cut.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import apsw
import pytest

from tbot_core.audit import AuditLog
from tbot_core.core_store import CoreStore


class SyncCounter(apsw.VFS):
    def __init__(self) -> None:
        self.wal_syncs = 0
        super().__init__("sync_counter", "unix", makedefault=True)

    def xOpen(self, name, flags):  # noqa: N802 - the name is APSW's
        return _CountingFile(self, name, flags)


class _CountingFile(apsw.VFSFile):
    def __init__(self, vfs: SyncCounter, name, flags) -> None:
        self._vfs = vfs
        self._wal = str(name.filename() if hasattr(name, "filename") else name).endswith("-wal")
        super().__init__("unix", name, flags)

    def xSync(self, flags):  # noqa: N802 - the name is APSW's
        if self._wal:
            self._vfs.wal_syncs += 1
        return super().xSync(flags)


@pytest.fixture
def syncs() -> Iterator[SyncCounter]:
    vfs = SyncCounter()
    try:
        yield vfs
    finally:
        vfs.unregister()


def test_a_kill_switch_halt_is_synced_to_the_wal_at_commit(tmp_path: Path, syncs: SyncCounter) -> None:
    store = CoreStore(tmp_path / "core.db")
    store.set_day_start_equity("2026-11-30", Decimal(1))  # a fresh WAL syncs its header once: not what is measured
    before = syncs.wal_syncs
    store.set_day_start_equity("2026-12-01", Decimal(1))
    assert syncs.wal_syncs == before  # everyday writes: synced at the next checkpoint
    store.set_kill_state("triggered", "2026-12-01T15:00:00Z", "daily loss", None)
    assert syncs.wal_syncs > before
    before = syncs.wal_syncs
    store.set_day_start_equity("2026-12-02", Decimal(1))
    assert syncs.wal_syncs == before  # and back to NORMAL after the halt
    store.close()


def test_a_critical_audit_row_is_synced_to_the_wal_at_commit_an_info_row_is_not(
    tmp_path: Path, syncs: SyncCounter
) -> None:
    with AuditLog(tmp_path / "audit.db") as log:
        log.append("core", "core_started", {})
        before = syncs.wal_syncs
        log.append("kill_switch", "kill_switch_triggered", {"cause": "daily loss"}, severity="critical")
        assert syncs.wal_syncs > before
        after = syncs.wal_syncs
        log.append("core", "heartbeat", {})
        assert syncs.wal_syncs == after
