"""Version-1 ledger files, built the way version-1 code wrote them, for the tests of migrating them.

Both the migration tests and the refusal tests start from these files and
compare what they read back, so the builders and readers live here once.  A
file is the saved version-1 schema text, then per batch its groups, legs, lots
and the seal row last, in one transaction, so the version-1 triggers accepted
every row.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import apsw

from tbot_core.ledger.conn import open_ledger

from .helpers import EFFECTIVE, open_old_ledger

V1_SCHEMA = Path(__file__).parent / "fixtures" / "schema_v1.sql"
TABLES = ("accounts", "coa_mapping", "batches", "failed_batches", "groups", "legs", "lots", "lot_reliefs")


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
def read_rows(path: Path, sql: str) -> list[tuple]:
    conn = open_ledger(path, readonly=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def counts(path: Path) -> dict[str, int]:
    return {table: read_rows(path, f"SELECT count(*) FROM {table}")[0][0] for table in TABLES}


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
