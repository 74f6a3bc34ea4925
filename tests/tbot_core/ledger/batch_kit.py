"""Helpers shared by the two batch mutation test files: real ledger files read back and verified."""

from __future__ import annotations

from pathlib import Path

import pytest

from tbot_core.audit import AuditLog
from tbot_core.ledger.batch import BatchMeta, BatchOutcome, Ledger
from tbot_core.ledger.chain import verify_all
from tbot_core.ledger.conn import open_ledger
from tbot_core.ledger.failures import LedgerBatchError

PAIR = [("1100", 700, 0), ("1000", 0, 700)]


def query(books: Path, sql: str, *args) -> list[tuple]:
    conn = open_ledger(books, readonly=True)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def chain_problem(books: Path) -> str | None:
    conn = open_ledger(books, readonly=True)
    try:
        return verify_all(conn).problem
    finally:
        conn.close()


def run(books: Path, meta: BatchMeta, build, audit: AuditLog | None = None) -> BatchOutcome:
    with Ledger(books, audit=audit) as ledger:
        return ledger.run(meta, build)


def posting(batch_id: str = "b1", **kw) -> BatchMeta:
    return BatchMeta(batch_id, "posting", **kw)


def refusal(call) -> LedgerBatchError:
    with pytest.raises(LedgerBatchError) as info:
        call()
    return info.value
