"""Books hashed in both canonical forms verify, and an edit is found in either.

Batches sealed before version 2 of the canonical form carry version-1 hashes
(SQLite ``format()`` text); every batch posted now carries a version-2 hash
(``canonical.py``).  Here the first batches of real books are re-sealed as an
older tbot sealed them, in version 1, then new batches are posted on top.
"""

from __future__ import annotations

from pathlib import Path

import apsw
import pytest

from tbot_core.ledger.batch import Ledger
from tbot_core.ledger.canonical import _CHUNK, _KINDS, _STORED_SQL, encode_section, stored_sections
from tbot_core.ledger.chain import BATCH_COLUMNS, GENESIS, stored_digest, verify_all
from tbot_core.ledger.conn import open_ledger
from tbot_core.ledger.failures import LedgerBatchError
from tbot_core.ledger.posting import GroupSpec, post_groups

from .helpers import EFFECTIVE, balanced_groups
from .test_hash_chain import tamper

_BATCH_ROWS = f"SELECT {', '.join(BATCH_COLUMNS)}, batch_hash FROM batches ORDER BY seq"


def _chain(db: Path) -> list[tuple]:
    conn = open_ledger(db, readonly=True)
    try:
        return conn.execute(_BATCH_ROWS).fetchall()
    finally:
        conn.close()


def _reseal_as_version_1(db: Path) -> None:
    """Every batch so far gets the version-1 hash an older tbot gave it (triggers dropped for the rewrite)."""
    conn = open_ledger(db)
    try:
        with conn:
            triggers = conn.execute("SELECT name, sql FROM sqlite_schema WHERE type = 'trigger'").fetchall()
            for name, _ in triggers:
                conn.execute(f"DROP TRIGGER {name}")
            prev = GENESIS
            for *batch_row, _ in conn.execute(_BATCH_ROWS).fetchall():
                prev = stored_digest(conn, 1, tuple(batch_row), prev)
                conn.execute("UPDATE batches SET batch_hash = ? WHERE batch_id = ?", (prev, batch_row[0]))
            for _, sql in triggers:
                conn.execute(sql)
    finally:
        conn.close()


def _version_of(db: Path, seq: int) -> int:
    """Which form the stored hash of batch ``seq`` was made in (recomputed both ways over the stored rows)."""
    rows = _chain(db)
    prev = GENESIS if seq == 1 else rows[seq - 2][-1]
    *batch_row, stored = rows[seq - 1]
    conn = open_ledger(db, readonly=True)
    try:
        return next(v for v in (1, 2) if stored_digest(conn, v, tuple(batch_row), prev) == stored)
    finally:
        conn.close()


@pytest.fixture
def mixed(books: Path) -> Path:
    """Chart (seq 1) and one posting (seq 2) in version 1, then two postings (seq 3, 4) in version 2."""
    with Ledger(books) as ledger:
        post_groups(ledger, "old:1", balanced_groups(2, 3))
    _reseal_as_version_1(books)
    with Ledger(books) as ledger:
        post_groups(ledger, "new:1", balanced_groups(3, 2, start=2))
        post_groups(ledger, "new:2", balanced_groups(1, 4, start=9))
    return books


def test_version_1_and_version_2_batches_in_one_chain_both_verify(mixed: Path) -> None:
    assert [_version_of(mixed, seq) for seq in (1, 2, 3, 4)] == [1, 1, 2, 2]
    conn = open_ledger(mixed, readonly=True)
    try:
        result = verify_all(conn)
    finally:
        conn.close()
    assert result.problem is None and result.checked_batches == 4 and result.head_hash == _chain(mixed)[-1][-1]


@pytest.mark.parametrize(("batch_id", "seq"), [("old:1", 2), ("new:1", 3), ("new:2", 4)])
def test_an_edit_of_a_batch_of_either_version_is_named(mixed: Path, batch_id: str, seq: int) -> None:
    tamper(
        mixed,
        f"UPDATE groups SET memo = memo || '.' WHERE group_id = (SELECT min(group_id) FROM groups "
        f"WHERE batch_id = '{batch_id}')",
    )
    conn = open_ledger(mixed, readonly=True)
    try:
        result = verify_all(conn)
    finally:
        conn.close()
    assert result.problem is not None and result.problem.startswith(f"batch {batch_id} (seq {seq}):")
    assert result.checked_batches == seq - 1


def test_a_drafted_value_sqlite_stores_differently_is_hashed_as_stored(books: Path) -> None:
    """An int content hash is stored as text: the posting path must hash the stored row, not the drafted one."""
    with Ledger(books) as ledger:
        post_groups(
            ledger,
            "odd",
            [GroupSpec("POSTING", EFFECTIVE, "m", [("1000", 5, 0), ("5100", 0, 5)], "", None, None, 12345)],
        )  # type: ignore[arg-type]
    conn = open_ledger(books, readonly=True)
    try:
        assert conn.execute("SELECT content_hash FROM groups WHERE batch_id = 'odd'").fetchone() == ("12345",)
        assert verify_all(conn).problem is None
    finally:
        conn.close()


def _replace_refused(ledger: Ledger) -> None:
    with pytest.raises(apsw.ConstraintError, match="legs_no_replace"):
        ledger.conn.execute(
            "INSERT OR REPLACE INTO legs SELECT group_id, leg_no, account_code, debit_cents + 1, "
            "credit_cents, leg_count FROM legs LIMIT 1"
        )


def test_the_posting_connection_keeps_its_triggers_after_a_post_and_after_a_refused_one(books: Path) -> None:
    """The bulk insert runs with the connection's triggers off; they must be on again whatever happened."""
    fitted = GroupSpec("FILL", EFFECTIVE, "m", [("1000", 5, 0), ("5100", 0, 5)], "AAPL", "alpaca", "f-1")
    with Ledger(books) as ledger:
        post_groups(ledger, "first", [fitted])
        _replace_refused(ledger)
        with pytest.raises(LedgerBatchError) as refused:  # the same fitid again: its UNIQUE key refuses the insert
            post_groups(ledger, "again", [fitted])
        assert refused.value.category == "unique" and "fitid" in refused.value.constraint
        _replace_refused(ledger)
        assert ledger.conn.execute("SELECT count(*) FROM batches WHERE batch_id = 'again'").fetchone() == (0,)


def test_a_batch_longer_than_a_verify_chunk_encodes_as_a_whole_even_when_its_chunks_differ(books: Path) -> None:
    """The verifier encodes rows a chunk at a time; a column NULL in the first chunk only (fitids here) has
    a form only the whole column settles, and both must equal the posting path's encoding."""
    n = _CHUNK + 100
    plain = [GroupSpec("POSTING", EFFECTIVE, f"g{i}", [("1000", 5, 0), ("5100", 0, 5)]) for i in range(n)]
    fitted = [g._replace(broker_code="alpaca", fitid=f"f{i}") if i >= _CHUNK else g for i, g in enumerate(plain)]
    with Ledger(books) as ledger:
        post_groups(ledger, "uniform", plain)
        post_groups(ledger, "mixed", fitted)
    conn = open_ledger(books, readonly=True)
    try:
        for batch_id in ("uniform", "mixed"):
            whole = tuple(
                encode_section(conn.execute(sql, (batch_id,)).fetchall(), kinds)
                for sql, kinds in zip(_STORED_SQL, _KINDS)
            )
            assert stored_sections(conn, batch_id) == whole
        assert verify_all(conn).problem is None
    finally:
        conn.close()
