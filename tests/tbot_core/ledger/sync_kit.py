"""Broker sync's test kit: three fills, the digests recomputed from their written specification, and readers of
the written groups and legs."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import pytest

from tbot_core.ledger.activity import Activity
from tbot_core.ledger.batch import Ledger
from tbot_core.ledger.failures import LedgerBatchError

from .helpers import fill

BUY = fill("b1", "buy", "10", "100.10", fee="1", minutes=1)
SELL_GAIN = fill("s1", "sell", "4", "110", fee="1", minutes=2)
SELL_LOSS = fill("s2", "sell", "6", "90", fee="0", minutes=3)


def spec_run_digest(broker: str, acts: list[Activity]) -> str:
    lines = sorted(f"{a.fitid}\x1f{a.content_hash()}" for a in acts)
    return hashlib.sha256("\x1e".join([broker, *lines]).encode()).hexdigest()[:24]


def spec_input_digest(broker: str, acts: list[Activity]) -> str:
    h = hashlib.sha256(f"tbot-sync-input/1\x1e{len(acts)}\x1e{broker}".encode())
    for name in ("fitid", "type", "symbol", "side"):
        h.update(("\x1e" + "\x1f".join(getattr(a, name) for a in acts)).encode())
    for name in ("qty", "price", "amount", "fee"):
        h.update(("\x1e" + "\x1f".join(str(getattr(a, name)) for a in acts)).encode())
    h.update(b"\x1ep" + b"".join(datetime.__reduce__(a.timestamp_utc)[1][0] for a in acts))
    return h.hexdigest()


def query(books: Path, sql: str, *args) -> list[tuple]:
    with Ledger(books) as ledger:
        return ledger.conn.execute(sql, args).fetchall()


def group_of(books: Path, fitid: str) -> tuple:
    [row] = query(
        books,
        "SELECT group_id, kind, effective_utc, memo, symbol, broker_code, content_hash FROM groups WHERE fitid = ?",
        fitid,
    )
    return row


def legs_of(books: Path, fitid: str) -> list[tuple]:
    return query(
        books,
        "SELECT account_code, debit_cents, credit_cents FROM legs JOIN groups USING (group_id) WHERE fitid = ? "
        "ORDER BY leg_no",
        fitid,
    )


def refusal(call) -> LedgerBatchError:
    with pytest.raises(LedgerBatchError) as info:
        call()
    return info.value
