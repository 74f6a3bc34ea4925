"""Migrating a version-1 ledger to the current schema keeps every row and its balance, and re-seals every batch.

The version-1 files come from ``v1_ledger.py``; ``test_migrate_refusal_changes_nothing.py``
holds what a migration must refuse.
"""

from __future__ import annotations

from pathlib import Path

import apsw
import pytest

from tbot_core.audit import AuditLog
from tbot_core.ledger.batch import Ledger
from tbot_core.ledger.checks import ledger_findings, trial_balance
from tbot_core.ledger.coa import DEFAULT_COA_BATCH
from tbot_core.ledger.conn import open_ledger
from tbot_core.ledger.migrate import AUDIT_CATEGORY, migrate_ledger
from tbot_core.ledger.posting import post_groups
from tbot_core.ledger.schema import SCHEMA_VERSION, expected_objects, schema_problems
from tbot_core.ledger.sync import ingest_activities
from tbot_core.paths import HomePaths
from tests.conftest import run_tbot

from .helpers import EFFECTIVE, balanced_groups, trading_day
from .v1_ledger import V1_BATCHES, counts, read_rows, replace_with_v1, snapshot


# -- the migration --------------------------------------------------------------------------------------
def test_version_1_ledger_migrates_keeping_every_row_balance_and_check(v1_db: Path, backup: Path) -> None:
    before_counts, before_balance = counts(v1_db), trial_balance(v1_db)
    result = migrate_ledger(v1_db, backup)
    assert (result.from_version, result.to_version, result.backup) == (1, SCHEMA_VERSION, backup)
    assert dict(result.copied) == {"batches": 4, "groups": 5, "legs": 14}
    conn = open_ledger(v1_db, readonly=True)
    try:
        assert schema_problems(conn) == []
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        stored = {
            (kind, name): sql
            for kind, name, sql in conn.execute(
                "SELECT type, name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'"
            )
        }
    finally:
        conn.close()
    assert (
        stored == expected_objects()
    )  # the renames rewrote no stored SQL (accounts, lots, ... still name batches/groups)
    assert not [sql for sql in stored.values() if sql and "v1_" in sql]
    assert [f for f in ledger_findings(v1_db) if not f.ok] == []
    assert trial_balance(v1_db) == before_balance
    assert counts(v1_db) == before_counts


def test_migration_numbers_groups_by_group_id_and_legs_by_old_leg_id(v1_db: Path, backup: Path) -> None:
    migrate_ledger(v1_db, backup)
    assert read_rows(
        v1_db,
        "SELECT group_id, batch_id, group_no, group_count, leg_count, reverses_group_id, fitid FROM groups "
        "ORDER BY group_id",
    ) == [
        (1, "posting:one", 1, 2, 2, None, None),
        (2, "posting:one", 2, 2, 3, None, None),
        (3, "sync:run-1", 1, 2, 3, None, "f1"),
        (4, "sync:run-1", 2, 2, 4, None, "f2"),
        (5, "reversal:1", 1, 1, 2, 1, None),
    ]
    assert dict(read_rows(v1_db, "SELECT batch_id, group_count FROM batches")) == {
        DEFAULT_COA_BATCH: 0,
        "posting:one": 2,
        "sync:run-1": 2,
        "reversal:1": 1,
    }
    for batch in V1_BATCHES:
        for gid, *_, legs in batch.groups:
            expected = [
                (no, account, debit, credit, len(legs))
                for no, (_, account, debit, credit) in enumerate(sorted(legs), 1)
            ]
            assert (
                read_rows(
                    v1_db,
                    f"SELECT leg_no, account_code, debit_cents, credit_cents, leg_count FROM legs "
                    f"WHERE group_id = {gid} ORDER BY leg_no",
                )
                == expected
            )


def test_backup_is_the_untouched_version_1_file(v1_db: Path, backup: Path) -> None:
    before = snapshot(v1_db)
    migrate_ledger(v1_db, backup)
    assert snapshot(backup) == before and before["version"] == 1
    assert backup.stat().st_mode & 0o777 == 0o600
    assert not backup.with_name(backup.name + "-wal").exists()


def test_second_migration_is_a_no_op_and_takes_no_backup(v1_db: Path, backup: Path, tmp_path: Path) -> None:
    migrate_ledger(v1_db, backup)
    after = snapshot(v1_db)
    again = migrate_ledger(v1_db, tmp_path / "second.db")
    assert not again.changed and again.backup is None and "nothing to do" in again.lines()[0]
    assert not (tmp_path / "second.db").exists()
    assert snapshot(v1_db) == after


def test_migrated_ledger_takes_postings_and_syncs_and_still_checks_clean(v1_db: Path, backup: Path) -> None:
    migrate_ledger(v1_db, backup)
    with Ledger(v1_db) as ledger:
        posted = post_groups(ledger, "posting:after", balanced_groups(2, 3))
    assert posted.group_ids == (6, 7)
    synced = ingest_activities(
        v1_db, "ALPACA", trading_day("day", 2), sync_run_id="day-1"
    )  # sells relieve the v1 lot first
    assert synced.posted == 5 and not synced.already_committed
    assert read_rows(v1_db, "SELECT count(*) FROM lot_reliefs WHERE lot_id = 1")[0][0] == 2
    assert [f for f in ledger_findings(v1_db) if not f.ok] == []


def test_raw_rows_into_migrated_groups_and_batches_are_refused(v1_db: Path, backup: Path) -> None:
    migrate_ledger(v1_db, backup)
    before = counts(v1_db)
    conn = open_ledger(v1_db)
    try:
        for leg in [
            (1, 3, "1000", 1, 0, 2),
            (1, 2, "1000", 1, 0, 2),
            (1, 3, "1000", 1, 0, 3),
        ]:  # past the slots, taken slot, wrong count
            with pytest.raises(apsw.ConstraintError):
                conn.execute("INSERT INTO legs VALUES (?,?,?,?,?,?)", leg)
        for group_no, group_count in [(3, 2), (1, 2), (3, 3)]:
            with pytest.raises(apsw.ConstraintError), conn:
                conn.execute(
                    "INSERT INTO groups (group_id, batch_id, kind, effective_utc, memo, group_no, group_count, leg_count) "
                    "VALUES (99, 'posting:one', 'POSTING', ?, 'late', ?, ?, 2)",
                    (EFFECTIVE, group_no, group_count),
                )
    finally:
        conn.close()
    assert counts(v1_db) == before


# -- the command line ------------------------------------------------------------------------------------
def test_cli_migrate_then_check_pass_on_a_home_whose_ledger_is_version_1(tmp_path: Path) -> None:
    home = tmp_path / "H"
    assert run_tbot("init", "--home", str(home)).returncode == 0
    paths = HomePaths(home)
    replace_with_v1(paths.ledger_db)
    migrated = run_tbot("ledger", "migrate", "--home", str(home))
    assert migrated.returncode == 0, migrated.stderr
    (backup,) = paths.backups_dir.glob("ledger-before-migrate-*.db")
    assert str(backup) in migrated.stdout and "groups 5, legs 14" in migrated.stdout
    check = run_tbot("ledger", "check", "--home", str(home))
    assert check.returncode == 0, check.stdout + check.stderr
    with AuditLog(paths.audit_db, readonly=True) as audit:
        assert [(r.event, r.actor) for r in audit.tail(category=AUDIT_CATEGORY)] == [("ledger_migrated", "ui")]
