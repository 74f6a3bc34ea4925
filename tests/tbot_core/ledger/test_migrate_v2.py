"""Migrating a version-2 ledger to version 3: batches rebuilt into the hash chain, every other row left where it is.

The version-2 files are built the way version-2 code wrote them: the saved
version-2 schema text, then per batch its groups (slot columns), legs, lots and
the seal row last, in one transaction, so the version-2 triggers accepted them.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import apsw
import pytest

from tbot_core.errors import TbotError
from tbot_core.ledger.chain import verify_all
from tbot_core.ledger.checks import ledger_findings, trial_balance
from tbot_core.ledger.coa import DEFAULT_COA_BATCH
from tbot_core.ledger.conn import open_ledger
from tbot_core.ledger.migrate import migrate_ledger
from tbot_core.ledger.schema import SCHEMA_VERSION, expected_objects, schema_problems
from tbot_core.paths import HomePaths
from tests.conftest import run_tbot

from .helpers import EFFECTIVE, open_old_ledger

V2_SCHEMA = Path(__file__).parent / "fixtures" / "schema_v2.sql"
_V2_SEAL = "INSERT INTO batches VALUES (?, ?, ?, ?, 'system', ?, ?, ?, ?, 0, 'committed', ?)"
_V2_GROUP = (
    "INSERT INTO groups (group_id, batch_id, kind, effective_utc, memo, symbol, broker_code, fitid, content_hash, "
    "reverses_group_id, group_no, group_count, leg_count) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
# (batch_id, kind, sync_run_id, broker, [(group_id, memo, fitid, [(account, debit, credit)])], lots)
V2_BATCHES = [
    (
        "posting:one",
        "posting",
        None,
        None,
        [
            (1, "fees", None, [("5100", 250, 0), ("1000", 0, 250)]),
            (2, "deposit", None, [("1000", 100000, 0), ("3000", 0, 100000)]),
        ],
        [],
    ),
    (
        "sync:run-1",
        "sync",
        "run-1",
        "ALPACA",
        [(3, "buy 10 AAPL", "f1", [("1100", 100000, 0), ("1000", 0, 100000)])],
        [(1, 3, "ALPACA", "AAPL", "10", 100000)],
    ),
]


def _write_v2_batch(
    conn: apsw.Connection,
    batch_id: str,
    kind: str,
    run: str | None,
    broker: str | None,
    groups: Any,  # rows of BATCHES (see its comment)
    lots: Any,
) -> None:
    with conn:
        for no, (gid, memo, fitid, legs) in enumerate(groups, 1):
            conn.execute(
                _V2_GROUP,
                (
                    gid,
                    batch_id,
                    "FILL" if fitid else "POSTING",
                    EFFECTIVE,
                    memo,
                    "AAPL" if fitid else "",
                    broker if fitid else None,
                    fitid,
                    None,
                    None,
                    no,
                    len(groups),
                    len(legs),
                ),
            )
            conn.executemany(
                "INSERT INTO legs VALUES (?,?,?,?,?,?)",
                [(gid, n, account, debit, credit, len(legs)) for n, (account, debit, credit) in enumerate(legs, 1)],
            )
        conn.executemany("INSERT INTO lots VALUES (?,?,?,?,?,?)", lots)
        rows = sum(len(g[3]) for g in groups)
        conn.execute(_V2_SEAL, (batch_id, run, broker, kind, "v2 rows", EFFECTIVE, EFFECTIVE, rows, len(groups)))


def write_v2_ledger(path: Path) -> Path:
    conn = open_old_ledger(path, V2_SCHEMA, 2, _V2_SEAL, 0, 0)
    for batch in V2_BATCHES:
        _write_v2_batch(conn, *batch)
    conn.close()
    return path


def _rows(path: Path, sql: str) -> list[tuple]:
    conn = open_ledger(path, readonly=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.fixture
def v2_db(tmp_path: Path) -> Path:
    return write_v2_ledger(tmp_path / "ledger.db")


def test_version_2_ledger_migrates_into_a_verified_hash_chain_in_commit_order(v2_db: Path, tmp_path: Path) -> None:
    untouched = {t: _rows(v2_db, f"SELECT * FROM {t} ORDER BY 1, 2") for t in ("groups", "legs", "lots", "accounts")}
    balance = trial_balance(v2_db)
    backup = tmp_path / "backup.db"
    result = migrate_ledger(v2_db, backup)
    assert (result.from_version, result.to_version, result.copied) == (2, SCHEMA_VERSION, (("batches", 3),))
    assert "hash chain computed for 3 batches" in result.lines()[-1] and "groups, legs" in result.lines()[2]
    assert _rows(v2_db, "SELECT seq, batch_id, group_count FROM batches ORDER BY seq") == [
        (1, DEFAULT_COA_BATCH, 0),
        (2, "posting:one", 2),
        (3, "sync:run-1", 1),
    ]
    conn = open_ledger(v2_db, readonly=True)
    try:
        assert schema_problems(conn) == [] and verify_all(conn).problem is None
        stored = {
            (kind, name): sql
            for kind, name, sql in conn.execute(
                "SELECT type, name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'"
            )
        }
    finally:
        conn.close()
    assert stored == expected_objects()
    assert [f for f in ledger_findings(v2_db) if not f.ok] == []
    assert trial_balance(v2_db) == balance
    assert {t: _rows(v2_db, f"SELECT * FROM {t} ORDER BY 1, 2") for t in untouched} == untouched
    assert _rows(backup, "PRAGMA user_version") == [(2,)]


def test_an_unbalanced_version_2_batch_is_refused_by_name_and_the_file_is_left_as_it_was(
    v2_db: Path, tmp_path: Path
) -> None:
    plain = sqlite3.connect(v2_db, isolation_level=None)
    (trigger,) = plain.execute("SELECT sql FROM sqlite_schema WHERE name = 'batch_seal_balanced'").fetchone()
    plain.execute("DROP TRIGGER batch_seal_balanced")
    plain.close()
    conn = apsw.Connection(str(v2_db))
    _write_v2_batch(
        conn,
        "posting:broken",
        "posting",
        None,
        None,
        [(9, "unbalanced", None, [("5100", 500, 0), ("1000", 0, 499)])],
        [],
    )
    conn.execute(trigger)
    conn.close()
    before = _rows(v2_db, "SELECT * FROM batches ORDER BY rowid")
    with pytest.raises(TbotError) as info:
        migrate_ledger(v2_db, tmp_path / "backup.db")
    message = info.value.one_line()
    assert "posting:broken" in message and "batch_seal_balanced" in message and "unchanged" in message, message
    assert (
        _rows(v2_db, "PRAGMA user_version") == [(2,)] and _rows(v2_db, "SELECT * FROM batches ORDER BY rowid") == before
    )


def test_cli_migrates_a_version_2_home_and_then_check_and_self_check_pass(tmp_path: Path) -> None:
    home = tmp_path / "H"
    assert run_tbot("init", "--home", str(home)).returncode == 0
    paths = HomePaths(home)
    for leftover in (
        paths.ledger_db,
        paths.ledger_db.with_name("ledger.db-wal"),
        paths.ledger_db.with_name("ledger.db-shm"),
    ):
        leftover.unlink(missing_ok=True)
    write_v2_ledger(paths.ledger_db)
    blocked = run_tbot("self-check", "--home", str(home))
    assert blocked.returncode == 1 and "run `tbot ledger migrate`" in blocked.stderr
    migrated = run_tbot("ledger", "migrate", "--home", str(home))
    assert migrated.returncode == 0, migrated.stderr
    check = run_tbot("ledger", "check", "--home", str(home))
    assert check.returncode == 0 and "ok   hash_chain: 3 batches" in check.stdout, check.stdout
    started = run_tbot("self-check", "--home", str(home))
    assert started.returncode == 0, started.stdout + started.stderr
