"""No SQL rewrites a posted row: ``INSERT OR REPLACE`` and UPSERT are refused by the schema itself.

A REPLACE deletes the colliding row without firing DELETE triggers (unless the
writer set ``recursive_triggers``), so each table carries a BEFORE INSERT
trigger that refuses any row colliding with an existing key.  Each case runs
through the project's own connection and through a stdlib ``sqlite3``
connection with default pragmas (foreign keys off, recursive triggers off).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import apsw
import pytest

from tbot_core.ledger.batch import Ledger
from tbot_core.ledger.checks import ledger_findings
from tbot_core.ledger.conn import open_ledger
from tbot_core.ledger.failures import LedgerBatchError
from tbot_core.ledger.posting import GroupSpec, post_groups, reverse_group
from tbot_core.ledger.sync import ingest_activities

from .helpers import EFFECTIVE, balanced_groups, fresh_ledger, trading_day

TABLES = ("accounts", "coa_mapping", "batches", "failed_batches", "groups", "legs", "lots", "lot_reliefs")

# table -> (column rewritten, its new value as SQL over the old row, which row)
REWRITES = {
    "accounts": ("name", "name || ' (rewritten)'", "code = '1000'"),
    "coa_mapping": ("account_code", "'5100'", "role = 'cash'"),
    "batches": ("reason", "'rewritten'", "kind = 'posting'"),
    "failed_batches": ("reason", "'rewritten'", "1"),
    "groups": ("memo", "'rewritten'", "kind = 'POSTING'"),
    "legs": ("debit_cents", "debit_cents + 1", "debit_cents > 0"),
    "lots": ("cost_cents", "cost_cents + 1", "1"),
    "lot_reliefs": ("cost_cents", "cost_cents + 1", "1"),
}


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every table holds posted rows: chart, postings, a reversal, a sync with lots and reliefs, a failed batch."""
    db = fresh_ledger(tmp_path_factory.mktemp("books"))
    with Ledger(db) as ledger:
        posted = post_groups(ledger, "posting:1", balanced_groups(3, 3))
        reverse_group(ledger, posted.group_ids[0], reason="wrong account")
        with pytest.raises(LedgerBatchError):
            post_groups(
                ledger, "posting:bad", [GroupSpec("POSTING", EFFECTIVE, "unbalanced", [("1000", 5, 0), ("3000", 0, 4)])]
            )
    ingest_activities(db, "ALPACA", trading_day("d1", 2), sync_run_id="run-1")
    return db


def snapshot(db: Path) -> dict[str, list[tuple]]:
    conn = open_ledger(db, readonly=True)
    try:
        return {table: sorted(conn.execute(f"SELECT * FROM {table}"), key=repr) for table in TABLES}
    finally:
        conn.close()


def _columns(db: Path, table: str) -> list[str]:
    conn = open_ledger(db, readonly=True)
    try:
        return [row[1] for row in conn.execute(f"SELECT * FROM pragma_table_info('{table}')")]
    finally:
        conn.close()


def _rewrite_sql(db: Path, table: str, upsert: bool) -> str:
    """A copy of one posted row with one column changed, written back under the same keys."""
    column, value, where = REWRITES[table]
    select = ", ".join(value if c == column else c for c in _columns(db, table))
    if upsert:
        return f"INSERT INTO {table} SELECT {select} FROM {table} WHERE {where} LIMIT 1 ON CONFLICT DO UPDATE SET {column} = excluded.{column}"
    return f"INSERT OR REPLACE INTO {table} SELECT {select} FROM {table} WHERE {where} LIMIT 1"


def _run(db: Path, sql: str, via: str) -> None:
    if via == "project":
        conn = open_ledger(db)
        try:
            conn.execute(sql)
        finally:
            conn.close()
    else:
        plain = sqlite3.connect(db, isolation_level=None)  # stdlib defaults: foreign_keys and recursive_triggers off
        try:
            assert plain.execute("PRAGMA recursive_triggers").fetchone()[0] == 0
            plain.execute(sql)
        finally:
            plain.close()


def _refused(db: Path, sql: str, via: str, trigger: str) -> None:
    before = snapshot(db)
    with pytest.raises((apsw.ConstraintError, sqlite3.IntegrityError), match=trigger):
        _run(db, sql, via)
    assert snapshot(db) == before
    assert [f for f in ledger_findings(db) if not f.ok] == []


@pytest.mark.parametrize("via", ["project", "stdlib"])
@pytest.mark.parametrize("upsert", [False, True], ids=["insert_or_replace", "on_conflict_do_update"])
@pytest.mark.parametrize("table", TABLES)
def test_a_posted_row_cannot_be_replaced_or_upserted(books: Path, table: str, upsert: bool, via: str) -> None:
    assert snapshot(books)[table], f"the fixture must hold a {table} row"
    _refused(books, _rewrite_sql(books, table, upsert), via, f"{table}_no_replace")


# A REPLACE deletes whichever row collides on ANY unique key, so a new group_id is not enough to be safe.
_GROUP_COLUMNS = (
    "group_id, batch_id, kind, effective_utc, memo, symbol, broker_code, fitid, content_hash, reverses_group_id, "
    "group_no, group_count, leg_count"
)
GROUP_KEY_COLLISIONS = {
    "same_slot": "SELECT 90001, batch_id, kind, effective_utc, 'x', symbol, NULL, NULL, NULL, NULL, group_no, group_count, leg_count "
    "FROM groups WHERE kind = 'POSTING' LIMIT 1",
    "same_fitid": "SELECT 90002, 'ghost', kind, effective_utc, 'x', symbol, broker_code, fitid, NULL, NULL, 1, 1, leg_count "
    "FROM groups WHERE fitid IS NOT NULL LIMIT 1",
    "same_reversal": "SELECT 90003, 'ghost', 'REVERSAL', effective_utc, 'x', symbol, NULL, NULL, NULL, reverses_group_id, 1, 1, "
    "leg_count FROM groups WHERE reverses_group_id IS NOT NULL LIMIT 1",
}


@pytest.mark.parametrize("via", ["project", "stdlib"])
@pytest.mark.parametrize("collision", sorted(GROUP_KEY_COLLISIONS))
def test_a_group_colliding_on_any_unique_key_cannot_replace_the_posted_one(
    books: Path, collision: str, via: str
) -> None:
    sql = f"INSERT OR REPLACE INTO groups ({_GROUP_COLUMNS}) {GROUP_KEY_COLLISIONS[collision]}"
    _refused(books, sql, via, "groups_no_replace")


@pytest.mark.parametrize("via", ["project", "stdlib"])
def test_a_batch_colliding_on_its_sync_run_id_or_seq_cannot_replace_the_committed_one(books: Path, via: str) -> None:
    columns = _columns(books, "batches")
    for changed in ({"batch_id": "'other'"}, {"batch_id": "'other'", "sync_run_id": "NULL"}):
        select = ", ".join(changed.get(c, c) for c in columns)
        _refused(
            books,
            f"INSERT OR REPLACE INTO batches SELECT {select} FROM batches WHERE sync_run_id IS NOT NULL LIMIT 1",
            via,
            "batches_no_replace",
        )


def test_new_rows_still_post_after_every_refusal(books: Path, tmp_path: Path) -> None:
    """The triggers refuse collisions only: the API keeps posting, and the books stay clean."""
    db = fresh_ledger(tmp_path)
    with Ledger(db) as ledger:
        for n in range(3):
            post_groups(ledger, f"posting:{n}", balanced_groups(2, 2, start=2 * n))
    ingest_activities(db, "ALPACA", trading_day("d2", 3), sync_run_id="run-2")
    assert [f for f in ledger_findings(db) if not f.ok] == []
