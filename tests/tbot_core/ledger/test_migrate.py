"""Migrating a version-1 ledger to version 2: every row kept, every batch re-sealed, a refusal changes nothing.

The version-1 files are built the way version-1 code wrote them: the saved
version-1 schema text, then per batch its groups, legs, lots and the seal row
last, in one transaction, so the version-1 triggers accepted every row.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import apsw
import pytest

from tbot_core.audit import AuditLog
from tbot_core.cli.main import main
from tbot_core.errors import TbotError
from tbot_core.ledger.batch import Ledger
from tbot_core.ledger.checks import ledger_findings, trial_balance
from tbot_core.ledger.coa import DEFAULT_COA_BATCH
from tbot_core.ledger.conn import open_ledger
from tbot_core.ledger.migrate import AUDIT_CATEGORY, migrate_ledger
from tbot_core.ledger.posting import post_groups
from tbot_core.ledger.schema import SCHEMA_VERSION, create_schema, expected_objects, schema_problems
from tbot_core.ledger.sync import ingest_activities
from tbot_core.paths import HomePaths
from tbot_core.runtime.lock import CoreLock
from tests.conftest import run_tbot

from .helpers import EFFECTIVE, balanced_groups, fresh_ledger, open_old_ledger, trading_day

V1_SCHEMA = Path(__file__).parent / "fixtures" / "schema_v1.sql"
TABLES = ("accounts", "coa_mapping", "batches", "failed_batches", "groups", "legs", "lots", "lot_reliefs")
MIGRATE_HINT = "schema version 1 predates this code; run `tbot ledger migrate`"


class V1Batch(NamedTuple):
    batch_id: str
    kind: str
    sync_run_id: str | None
    broker_code: str | None
    groups: list[
        tuple
    ]  # (group_id, kind, memo, broker_code, fitid, reverses_group_id, [(leg_id, account, debit, credit)])
    lots: list[tuple] = []  # (lot_id, group_id, broker_code, symbol, qty, cost_cents)
    reliefs: list[tuple] = []  # (lot_id, group_id, qty, cost_cents)


# leg_ids are deliberately not in insertion order inside a group: leg_no must follow leg_id, not rowid luck.
V1_BATCHES = [
    V1Batch(
        "posting:one",
        "posting",
        None,
        None,
        [
            (1, "POSTING", "fees paid", None, None, None, [(1, "5100", 250, 0), (2, "1000", 0, 250)]),
            (
                2,
                "POSTING",
                "deposit",
                None,
                None,
                None,
                [(9, "1000", 100000, 0), (3, "3000", 0, 60000), (4, "3000", 0, 40000)],
            ),
        ],
    ),
    V1Batch(
        "sync:run-1",
        "sync",
        "run-1",
        "ALPACA",
        [
            (
                3,
                "FILL",
                "buy 10 AAPL @ 100",
                "ALPACA",
                "f1",
                None,
                [(5, "1100", 100000, 0), (6, "5100", 100, 0), (7, "1000", 0, 100100)],
            ),
            (
                4,
                "FILL",
                "sell 4 AAPL @ 110",
                "ALPACA",
                "f2",
                None,
                [(8, "1000", 43900, 0), (12, "5100", 100, 0), (10, "1100", 0, 40000), (11, "4000", 0, 4000)],
            ),
        ],
        lots=[(1, 3, "ALPACA", "AAPL", "10", 100000)],
        reliefs=[(1, 4, "4", 40000)],
    ),
    V1Batch(
        "reversal:1",
        "reversal",
        None,
        None,
        [
            (
                5,
                "REVERSAL",
                "reversal of group 1: wrong account",
                None,
                None,
                1,
                [(13, "1000", 250, 0), (14, "5100", 0, 250)],
            ),
        ],
    ),
]
BROKEN = V1Batch(
    "posting:broken",
    "posting",
    None,
    None,
    [(6, "POSTING", "unbalanced", None, None, None, [(20, "5100", 500, 0), (21, "1000", 0, 499)])],
)

_V1_SEAL = (
    "INSERT INTO batches (batch_id, sync_run_id, broker_code, kind, caller, reason, started_utc, completed_utc, row_count, "
    "skipped_known, commit_state) VALUES (?, ?, ?, ?, 'system', ?, ?, ?, ?, 0, 'committed')"
)
_V1_GROUP = (
    "INSERT INTO groups (group_id, batch_id, kind, effective_utc, memo, symbol, broker_code, fitid, content_hash, "
    "reverses_group_id) VALUES (?,?,?,?,?,?,?,?,?,?)"
)


# -- building version-1 files ------------------------------------------------------------------------
def _write_v1_batch(conn: apsw.Connection, batch: V1Batch) -> None:
    with conn:
        for gid, kind, memo, broker, fitid, reverses, legs in batch.groups:
            conn.execute(
                _V1_GROUP,
                (
                    gid,
                    batch.batch_id,
                    kind,
                    EFFECTIVE,
                    memo,
                    "AAPL" if fitid else "",
                    broker,
                    fitid,
                    f"hash-{fitid}" if fitid else None,
                    reverses,
                ),
            )
            conn.executemany(
                "INSERT INTO legs (leg_id, group_id, account_code, debit_cents, credit_cents) VALUES (?,?,?,?,?)",
                [(leg_id, gid, account, debit, credit) for leg_id, account, debit, credit in legs],
            )
        conn.executemany("INSERT INTO lots VALUES (?,?,?,?,?,?)", batch.lots)
        conn.executemany("INSERT INTO lot_reliefs (lot_id, group_id, qty, cost_cents) VALUES (?,?,?,?)", batch.reliefs)
        rows = sum(len(group[-1]) for group in batch.groups)
        conn.execute(
            _V1_SEAL,
            (batch.batch_id, batch.sync_run_id, batch.broker_code, batch.kind, "v1 rows", EFFECTIVE, EFFECTIVE, rows),
        )


def write_v1_ledger(path: Path) -> Path:
    conn = open_old_ledger(path, V1_SCHEMA, 1, _V1_SEAL, 0)
    for batch in V1_BATCHES:
        _write_v1_batch(conn, batch)
    with conn:
        conn.execute(
            "INSERT INTO failed_batches (batch_id, kind, caller, reason, started_utc, completed_utc, row_count, "
            "commit_state, error_category, error_detail) VALUES ('posting:bad', 'posting', 'ui', 'typo', ?, ?, 2, "
            "'rolled_back', 'validation', 'unbalanced: 1 != 2')",
            (EFFECTIVE, EFFECTIVE),
        )
    conn.close()
    return path


def break_books(path: Path) -> None:
    """What a bug or a hand edit could leave: an unbalanced group, sealed while the balance trigger was dropped."""
    conn = apsw.Connection(str(path))
    (trigger,) = conn.execute("SELECT sql FROM sqlite_schema WHERE name = 'batch_seal_balanced'").fetchone()
    conn.execute("DROP TRIGGER batch_seal_balanced")
    _write_v1_batch(conn, BROKEN)
    conn.execute(trigger)
    conn.close()


def replace_with_v1(db: Path) -> None:
    for leftover in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        leftover.unlink(missing_ok=True)
    write_v1_ledger(db)


# -- reading files back --------------------------------------------------------------------------------
def _read(path: Path, sql: str) -> list[tuple]:
    conn = open_ledger(path, readonly=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def counts(path: Path) -> dict[str, int]:
    return {table: _read(path, f"SELECT count(*) FROM {table}")[0][0] for table in TABLES}


def snapshot(path: Path) -> dict[str, object]:
    """Everything a migration could change: the version, the stored schema and every row."""
    conn = open_ledger(path, readonly=True)
    try:
        out: dict[str, object] = {
            "version": conn.execute("PRAGMA user_version").fetchone()[0],
            "schema": sorted(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_schema"), key=repr),
        }
        out.update({table: sorted(conn.execute(f"SELECT * FROM {table}"), key=repr) for table in TABLES})
        return out
    finally:
        conn.close()


@pytest.fixture
def v1_db(tmp_path: Path) -> Path:
    return write_v1_ledger(tmp_path / "ledger.db")


@pytest.fixture
def backup(tmp_path: Path) -> Path:
    return HomePaths(tmp_path / "home").ledger_backup("20250102T143000000000Z")


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
    assert _read(
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
    assert dict(_read(v1_db, "SELECT batch_id, group_count FROM batches")) == {
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
                _read(
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
    assert _read(v1_db, "SELECT count(*) FROM lot_reliefs WHERE lot_id = 1")[0][0] == 2
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


# -- refusals -------------------------------------------------------------------------------------------
def test_unbalanced_version_1_books_are_refused_naming_the_batch_and_left_as_they_were(
    v1_db: Path, backup: Path
) -> None:
    break_books(v1_db)
    before = snapshot(v1_db)
    with pytest.raises(TbotError) as info:
        migrate_ledger(v1_db, backup)
    message = info.value.one_line()
    assert "\n" not in str(info.value)
    for needle in ("ledger.db", "posting:broken", "batch_seal_balanced", "unchanged", str(backup)):
        assert needle in message, message
    assert snapshot(v1_db) == before
    assert snapshot(backup) == before


def test_a_dangling_reference_in_version_1_is_refused_by_the_final_foreign_key_check(v1_db: Path, backup: Path) -> None:
    conn = apsw.Connection(str(v1_db))  # foreign keys are off on a raw connection, as in a hand edit
    conn.execute("INSERT INTO lots VALUES (2, 77, 'ALPACA', 'MSFT', '1', 100)")
    conn.close()
    before = snapshot(v1_db)
    with pytest.raises(TbotError, match="foreign_key_check: table lots row 2 points at a missing groups row"):
        migrate_ledger(v1_db, backup)
    assert snapshot(v1_db) == before


def test_create_schema_and_the_check_send_a_version_1_file_to_migrate_in_one_line(v1_db: Path) -> None:
    before = snapshot(v1_db)
    with pytest.raises(TbotError, match="run `tbot ledger migrate`") as info:
        create_schema(v1_db)
    assert "\n" not in str(info.value) and "ledger.db" in str(info.value)
    conn = open_ledger(v1_db, readonly=True)
    try:
        assert schema_problems(conn) == [MIGRATE_HINT]
    finally:
        conn.close()
    assert [(f.name, f.detail) for f in ledger_findings(v1_db) if not f.ok] == [("schema", MIGRATE_HINT)]
    assert snapshot(v1_db) == before


@pytest.mark.parametrize(
    "version, needle", [(99, "schema version 99 is newer"), (0, "schema version 0 has no migration")]
)
def test_a_file_of_an_unknown_or_newer_version_is_refused_untouched(
    tmp_path: Path, backup: Path, version: int, needle: str
) -> None:
    db = fresh_ledger(tmp_path)
    conn = open_ledger(db)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.close()
    before = snapshot(db)
    with pytest.raises(TbotError, match=needle):
        migrate_ledger(db, backup)
    assert not backup.exists() and snapshot(db) == before
    if version > SCHEMA_VERSION:
        with pytest.raises(TbotError, match=needle):
            create_schema(db)


def test_a_file_that_is_not_a_database_is_refused_in_one_line(tmp_path: Path, backup: Path) -> None:
    junk = tmp_path / "ledger.db"
    junk.write_bytes(b"not a database, just bytes " * 200)
    with pytest.raises(TbotError, match="ledger.db") as info:
        migrate_ledger(junk, backup)
    assert "\n" not in str(info.value) and not backup.exists()
    assert junk.read_bytes() == b"not a database, just bytes " * 200


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


def test_cli_migrate_refusal_is_one_error_line_and_is_audited(
    home_paths: HomePaths, capsys: pytest.CaptureFixture[str]
) -> None:
    replace_with_v1(home_paths.ledger_db)
    break_books(home_paths.ledger_db)
    code = main(["ledger", "migrate", "--home", str(home_paths.root)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ledger.db: ") and "posting:broken" in err[0]
    with AuditLog(home_paths.audit_db, readonly=True) as audit:
        assert [r.event for r in audit.tail(category=AUDIT_CATEGORY)] == ["ledger_migration_refused"]


def test_cli_migrate_refuses_while_a_core_holds_the_lock(
    home_paths: HomePaths, capsys: pytest.CaptureFixture[str]
) -> None:
    """A running core of the old code would keep writing old-shape rows, so the file is not touched."""
    replace_with_v1(home_paths.ledger_db)
    before = snapshot(home_paths.ledger_db)
    with CoreLock(home_paths.core_lock, "bot-test"):
        code = main(["ledger", "migrate", "--home", str(home_paths.root)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) >= 1 and "the core is running" in err[0]
    assert snapshot(home_paths.ledger_db) == before and not list(home_paths.backups_dir.glob("ledger-before-migrate-*"))
