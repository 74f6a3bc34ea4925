"""I/O faults at every write point of a 1,000-leg batch leave the books exactly as before.

A Python APSW VFS fails the N-th xWrite (plain I/O error, or a torn half-write
then an error) or the N-th xSync while ``post_groups`` writes one 1,000-leg
batch.  N sweeps every write and sync point the same batch makes on a clean
run (counted first), so the COMMIT frame and the WAL sync are covered.  Each
case must end with the batch absent, ``tbot ledger check`` findings all passing
after a reopen, and a ``rolled_back`` telemetry row.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tbot_core.ledger.batch import Ledger
from tbot_core.ledger.checks import ledger_findings
from tbot_core.ledger.conn import open_ledger
from tbot_core.ledger.failures import LedgerBatchError
from tbot_core.ledger.posting import post_groups

from .faultvfs import FaultVFS
from .helpers import balanced_groups, fresh_ledger

GROUPS = balanced_groups(250, legs_per_group=4)  # 1,000 legs


@pytest.fixture(scope="module")
def fault_env(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("fault")
    template = fresh_ledger(folder, "template.db")
    vfs = FaultVFS()
    clean = folder / "clean.db"
    shutil.copyfile(template, clean)
    with Ledger(clean, vfs=vfs.name) as ledger:
        vfs.reset()
        outcome = post_groups(ledger, "batch-1000", GROUPS)
        points = dict(vfs.counts)
    assert outcome.row_count == 1000
    yield folder, template, vfs, points
    vfs.unregister()


def _run_case(folder: Path, template: Path, vfs: FaultVFS, op: str, n: int, torn: bool) -> None:
    case = folder / f"case-{op}-{n}-{int(torn)}.db"
    shutil.copyfile(template, case)
    with Ledger(case, vfs=vfs.name) as ledger:
        vfs.arm(op, n, torn=torn)
        with pytest.raises(LedgerBatchError) as info:
            post_groups(ledger, "batch-1000", GROUPS)
        assert vfs.fired, f"{op} #{n} was never reached"
        assert info.value.category in ("io", "database")
        vfs.reset()
    conn = open_ledger(case)  # reopen on the normal VFS: recovery sees only whole transactions
    try:
        assert conn.execute("SELECT count(*) FROM batches WHERE batch_id = 'batch-1000'").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM legs").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM groups").fetchone()[0] == 0
        states = [r[0] for r in conn.execute("SELECT commit_state FROM failed_batches WHERE batch_id = 'batch-1000'")]
        assert states == ["rolled_back"], f"{op} #{n} torn={torn}: telemetry {states}"
    finally:
        conn.close()
    bad = [f for f in ledger_findings(case) if not f.ok]
    assert not bad, f"{op} #{n} torn={torn}: {bad}"
    case.unlink()


def test_clean_run_has_write_and_sync_points(fault_env) -> None:
    """The sweep is meaningful: a clean 1,000-leg batch makes many writes and at least one sync."""
    _, _, _, points = fault_env
    assert points["write"] >= 20 and points["sync"] >= 1


@pytest.mark.slow
@pytest.mark.parametrize("torn", [False, True], ids=["io_error", "torn_write"])
def test_every_xwrite_fault_rolls_the_whole_batch_back(fault_env, torn: bool) -> None:
    """Failing any single xWrite (plain or torn) leaves no row of the batch and a rolled_back record."""
    folder, template, vfs, points = fault_env
    for n in range(1, points["write"] + 1):
        _run_case(folder, template, vfs, "write", n, torn)


def test_every_xsync_fault_rolls_the_whole_batch_back(fault_env) -> None:
    """Failing the WAL sync at COMMIT (every sync point) also leaves the batch absent after reopen."""
    folder, template, vfs, points = fault_env
    for n in range(1, points["sync"] + 1):
        _run_case(folder, template, vfs, "sync", n, False)


def test_io_fault_is_reported_as_io_in_one_line(fault_env) -> None:
    """The failure is classified as an I/O problem, not a constraint, and the error is one line."""
    folder, template, vfs, _ = fault_env
    case = folder / "one.db"
    shutil.copyfile(template, case)
    with Ledger(case, vfs=vfs.name) as ledger:
        vfs.arm("write", 1)
        with pytest.raises(LedgerBatchError) as info:
            post_groups(ledger, "batch-one", GROUPS[:5])
        vfs.reset()
    assert info.value.category == "io"
    assert "\n" not in info.value.one_line() and "rolled back" in info.value.one_line()
