"""A migration that cannot keep the books exactly as they were refuses in one line and changes nothing.

Version-1 books that do not balance or point at missing rows, a file of an
unknown version or no database at all, a home whose core is running, and a
version-1 file opened by code that only creates or checks the schema: each is
refused in one line, and the file keeps its version, its schema and every row.
The version-1 files come from ``v1_ledger.py``.
"""

from __future__ import annotations

from pathlib import Path

import apsw
import pytest

from tbot_core.audit import AuditLog
from tbot_core.cli.main import main
from tbot_core.errors import TbotError
from tbot_core.ledger.checks import ledger_findings
from tbot_core.ledger.conn import open_ledger
from tbot_core.ledger.migrate import AUDIT_CATEGORY, migrate_ledger
from tbot_core.ledger.schema import SCHEMA_VERSION, create_schema, schema_problems
from tbot_core.paths import HomePaths
from tbot_core.runtime.lock import CoreLock

from .helpers import fresh_ledger
from .v1_ledger import break_books, replace_with_v1, snapshot

MIGRATE_HINT = "schema version 1 predates this code; run `tbot ledger migrate`"


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
