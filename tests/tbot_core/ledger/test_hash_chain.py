"""The books are tamper-evident: an edit made with plain sqlite3 behind every trigger is found and blocks launch.

The forger here is careful: they drop every trigger, edit, and put the
triggers back, so the schema check sees nothing and a balanced edit keeps the
trial balance.  Only the hash chain (``tbot ledger check``: all of it; the
startup check: what is new since its checkpoint plus a sweep) can tell.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tbot_core.ledger.batch import Ledger
from tbot_core.ledger.chain import GENESIS, ChainResult, verify_all
from tbot_core.ledger.checkpoint import read_checkpoint, save_checkpoint, verify_since_checkpoint
from tbot_core.ledger.checks import books_check, ledger_findings
from tbot_core.ledger.conn import open_ledger
from tbot_core.ledger.posting import post_groups
from tbot_core.ledger.sync import ingest_activities
from tbot_core.paths import HomePaths
from tests.conftest import run_tbot

from .helpers import EFFECTIVE, balanced_groups, fresh_ledger, trading_day


def tamper(db: Path, *statements: str) -> None:
    """Plain stdlib sqlite3, default pragmas: drop every trigger, edit, restore the triggers exactly as they were."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        triggers = conn.execute("SELECT name, sql FROM sqlite_schema WHERE type = 'trigger'").fetchall()
        assert triggers
        for name, _ in triggers:
            conn.execute(f"DROP TRIGGER {name}")
        for sql in statements:
            conn.execute(sql)
        for _, sql in triggers:
            conn.execute(sql)
    finally:
        conn.close()


def _post_books(db: Path) -> None:
    with Ledger(db) as ledger:
        post_groups(ledger, "posting:1", balanced_groups(2, 3))
        post_groups(ledger, "posting:2", balanced_groups(3, 2, start=2))
    ingest_activities(db, "ALPACA", trading_day("d1", 2), sync_run_id="run-1")
    with Ledger(db) as ledger:
        post_groups(ledger, "posting:3", balanced_groups(1, 2, start=9))


def _group_of(db: Path, batch_id: str) -> int:
    conn = open_ledger(db, readonly=True)
    try:
        return conn.execute("SELECT min(group_id) FROM groups WHERE batch_id = ?", (batch_id,)).fetchone()[0]
    finally:
        conn.close()


def _balanced_plus_one(gid: int) -> tuple[str, ...]:
    return (
        f"UPDATE legs SET debit_cents = debit_cents + 1 WHERE group_id = {gid} AND leg_no = "
        f"(SELECT min(leg_no) FROM legs WHERE group_id = {gid} AND debit_cents > 0)",
        f"UPDATE legs SET credit_cents = credit_cents + 1 WHERE group_id = {gid} AND leg_no = "
        f"(SELECT min(leg_no) FROM legs WHERE group_id = {gid} AND credit_cents > 0)",
    )


EDITS = {
    "balanced_amount_change": _balanced_plus_one,
    "group_deleted_with_its_legs": lambda gid: (
        f"DELETE FROM legs WHERE group_id = {gid}",
        f"DELETE FROM groups WHERE group_id = {gid}",
    ),
    "memo_changed": lambda gid: (f"UPDATE groups SET memo = 'nothing to see' WHERE group_id = {gid}",),
}


@pytest.fixture
def home(home_paths: HomePaths) -> HomePaths:
    """A real home with books, already verified once at startup (so the checkpoint is set past the edited batch)."""
    _post_books(home_paths.ledger_db)
    first = run_tbot("self-check", "--home", str(home_paths.root))
    assert first.returncode == 0, first.stdout + first.stderr
    conn = open_ledger(home_paths.ledger_db, readonly=True)
    try:
        assert read_checkpoint(conn).head_seq == 5  # chart + four batches
    finally:
        conn.close()
    return home_paths


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_an_edit_behind_dropped_triggers_fails_ledger_check_and_blocks_self_check(home: HomePaths, edit: str) -> None:
    db = home.ledger_db
    tamper(db, *EDITS[edit](_group_of(db, "posting:2")))

    check = run_tbot("ledger", "check", "--home", str(home.root))
    assert check.returncode != 0, check.stdout
    chain_lines = [line for line in check.stdout.splitlines() if line.startswith("FAIL hash_chain")]
    assert len(chain_lines) == 1 and "batch posting:2 (seq 3)" in chain_lines[0], check.stdout
    assert "Traceback" not in check.stderr

    started = run_tbot("self-check", "--home", str(home.root))
    assert started.returncode == 1, started.stdout
    err = started.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("self-check failed: ledger_books:") and "batch posting:2" in err[0], (
        started.stderr
    )


def test_a_balanced_edit_passes_every_check_except_the_chain(home: HomePaths) -> None:
    tamper(home.ledger_db, *_balanced_plus_one(_group_of(home.ledger_db, "posting:2")))
    failed = [f.name for f in ledger_findings(home.ledger_db) if not f.ok]
    assert failed == ["hash_chain"]


ORPHANS = {
    "orphan_leg": (
        "INSERT INTO legs VALUES (99999, 1, '1000', 5, 0, 2)",
        "leg 1 of group 99999 points at a missing group",
    ),
    "batchless_group": (
        "INSERT INTO groups (group_id, batch_id, kind, effective_utc, memo, group_no, group_count, leg_count) "
        f"VALUES (99999, 'ghost', 'POSTING', '{EFFECTIVE}', 'planted', 1, 1, 2)",
        "group 99999 belongs to batch ghost, which was never committed",
    ),
}


@pytest.mark.parametrize("orphan", sorted(ORPHANS))
def test_a_row_written_with_foreign_keys_off_blocks_self_check(home: HomePaths, orphan: str) -> None:
    sql, detail = ORPHANS[orphan]
    plain = sqlite3.connect(home.ledger_db, isolation_level=None)  # stdlib default: foreign_keys off, triggers kept
    plain.execute(sql)
    plain.close()
    started = run_tbot("self-check", "--home", str(home.root))
    assert started.returncode == 1, started.stdout
    err = started.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("self-check failed: ledger_books:") and detail in err[0], started.stderr


# -- the chain and the checkpoint, in process ------------------------------------------------------------
def test_every_batch_takes_the_next_seq_and_links_to_the_one_before(tmp_path: Path) -> None:
    db = fresh_ledger(tmp_path)
    _post_books(db)
    conn = open_ledger(db, readonly=True)
    try:
        rows = conn.execute("SELECT seq, batch_id, batch_hash FROM batches ORDER BY seq").fetchall()
        result = verify_all(conn)
    finally:
        conn.close()
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5] and rows[1][1] == "posting:1"
    assert len({r[2] for r in rows}) == 5 and GENESIS not in {r[2] for r in rows}
    assert result.problem is None and (result.checked_batches, result.head_hash) == (5, rows[-1][2])


def _start(db: Path, sweep_legs: int) -> ChainResult:
    """One startup verification with a given sweep, storing the checkpoint when it passes."""
    conn = open_ledger(db)
    try:
        result, checkpoint = verify_since_checkpoint(conn, "2025-01-02T14:30:00Z", sweep_legs)
        if result.problem is None:
            with conn:
                save_checkpoint(conn, checkpoint)
        return result
    finally:
        conn.close()


def test_a_restart_rehashes_only_the_batches_added_since_the_checkpoint(tmp_path: Path) -> None:
    db = fresh_ledger(tmp_path)
    _post_books(db)
    assert _start(db, 0).checked_batches == 5
    with Ledger(db) as ledger:
        post_groups(ledger, "posting:4", balanced_groups(1, 2, start=20))
    again = _start(db, 0)
    assert (again.problem, again.checked_batches, again.head_seq) == (None, 1, 6)
    assert _start(db, 0).checked_batches == 0


def test_an_old_edit_below_the_checkpoint_is_found_by_the_sweep_within_a_few_starts(tmp_path: Path) -> None:
    db = fresh_ledger(tmp_path)
    _post_books(db)
    assert _start(db, 1).problem is None
    tamper(db, f"UPDATE groups SET memo = 'late edit' WHERE group_id = {_group_of(db, 'posting:1')}")
    assert _start(db, 0).problem is None  # the trade-off: without the sweep a restart trusts verified batches
    problems = [
        _start(db, 1).problem for _ in range(5)
    ]  # one batch with legs per start: at most 5 starts round the chain
    assert any(p and "batch posting:1 (seq 2)" in p for p in problems), problems
    assert [f.name for f in ledger_findings(db) if not f.ok] == ["hash_chain"]  # the full check finds it at once


def test_deleting_the_newest_batch_is_caught_by_the_checkpoint(tmp_path: Path) -> None:
    """A shorter chain is still a valid chain; only the head remembered at the last start can tell."""
    db = fresh_ledger(tmp_path)
    _post_books(db)
    assert books_check(db).ok
    gid = _group_of(db, "posting:3")
    tamper(
        db,
        f"DELETE FROM legs WHERE group_id = {gid}",
        f"DELETE FROM groups WHERE group_id = {gid}",
        "DELETE FROM batches WHERE batch_id = 'posting:3'",
    )
    result = books_check(db)
    assert not result.ok and "batch seq 5" in result.detail and "is gone" in result.detail


def test_deleting_a_middle_batch_breaks_the_chain_at_the_next_one(tmp_path: Path) -> None:
    db = fresh_ledger(tmp_path)
    _post_books(db)
    gid = _group_of(db, "posting:1")
    tamper(
        db,
        f"DELETE FROM legs WHERE group_id IN ({gid}, {gid + 1})",
        "DELETE FROM groups WHERE batch_id = 'posting:1'",
        "DELETE FROM batches WHERE batch_id = 'posting:1'",
    )
    chain = {f.name: f for f in ledger_findings(db)}["hash_chain"]
    assert not chain.ok and "batch posting:2" in chain.detail and "seq 2 is missing" in chain.detail
    assert not books_check(db).ok
