"""The startup checkpoint: what lets a start trust the chain it verified last time instead of re-hashing it all.

``tbot ledger check`` verifies the whole chain (``chain.verify_all``); a start
cannot afford that on a large ledger, so it verifies only what is new since
the head it last saw, plus a bounded sweep of the older batches.  That
trade-off, the checkpoint row it depends on and its refusals live here, apart
from the chain's canonical form and hashing that every verification shares.
"""

from __future__ import annotations

from dataclasses import dataclass

import apsw

from tbot_core.db import one_row
from tbot_core.ledger.chain import GENESIS, ChainResult, verify_range

SWEEP_LEGS = 200_000  # legs of older, already verified batches re-hashed on each start


@dataclass(frozen=True)
class Checkpoint:
    head_seq: int
    head_hash: str
    sweep_seq: int
    verified_utc: str


NO_CHECKPOINT = Checkpoint(0, GENESIS, 0, "never")


def read_checkpoint(conn: apsw.Connection) -> Checkpoint:
    row = conn.execute(
        "SELECT head_seq, head_hash, sweep_seq, verified_utc FROM chain_checkpoint WHERE slot = 1"
    ).fetchone()
    return NO_CHECKPOINT if row is None else Checkpoint(*row)


def verify_since_checkpoint(
    conn: apsw.Connection, now_utc: str, sweep_legs: int = SWEEP_LEGS
) -> tuple[ChainResult, Checkpoint]:
    """The startup check: new batches since the checkpoint in full, plus a bounded slice of the older ones.

    The trade-off, and why it is acceptable: a restart must not re-hash a
    million legs, so batches up to the checkpoint's ``head_seq`` are trusted
    as of their last verification, and an edit to one of them is not seen by
    the next start.  Three things keep that window small and closed:

    * the checkpoint's own batch must still exist with the hash it had, so
      deleting or rewriting the newest verified batch (the chain's head) is
      caught at once, and ``count(*) = head seq`` catches a deleted middle batch;
    * each start also re-hashes the next ``sweep_legs`` legs' worth of older
      batches (``sweep_seq`` wraps around), so every batch is re-verified
      within a bounded number of starts, not never;
    * ``tbot ledger check`` ignores the checkpoint and verifies everything.

    The checkpoint lives in ``ledger.db`` itself, so restoring the file from a
    backup restores the checkpoint that belongs to it.  Returns the result
    and the checkpoint to store when it passed.
    """
    cp = read_checkpoint(conn)
    if cp.head_seq:
        row = conn.execute("SELECT batch_id, batch_hash FROM batches WHERE seq = ?", (cp.head_seq,)).fetchone()
        if row is None:
            return ChainResult(
                0,
                0,
                cp.head_seq,
                cp.head_hash,
                f"batch seq {cp.head_seq}, verified at {cp.verified_utc}, is gone: committed batches were deleted",
            ), cp
        if row[1] != cp.head_hash:
            return ChainResult(
                0,
                0,
                cp.head_seq,
                cp.head_hash,
                f"batch {row[0]} (seq {cp.head_seq}): its hash changed since it was verified at {cp.verified_utc}",
            ), cp
    new = verify_range(conn, cp.head_seq, cp.head_hash)
    if new.problem is None:
        (count,) = one_row(conn.execute("SELECT count(*) FROM batches"))
        if count != new.head_seq:
            new = ChainResult(
                new.checked_batches,
                new.checked_legs,
                new.head_seq,
                new.head_hash,
                f"{new.head_seq} batches in the chain but {count} batch rows (seq gap or duplicate)",
            )
    if new.problem is not None:
        return new, cp
    start = cp.sweep_seq if cp.sweep_seq < cp.head_seq else 0
    link = conn.execute("SELECT batch_hash FROM batches WHERE seq = ?", (start,)).fetchone() if start else (GENESIS,)
    if link is None:
        return ChainResult(0, 0, start, GENESIS, f"batch seq {start} is missing"), cp
    swept = (
        verify_range(conn, start, link[0], upto_seq=cp.head_seq, max_legs=sweep_legs)
        if cp.head_seq and sweep_legs
        else None
    )
    if swept is None:
        return new, Checkpoint(new.head_seq, new.head_hash, cp.sweep_seq, now_utc)
    if swept.problem is not None:
        return swept, cp
    total = ChainResult(
        new.checked_batches + swept.checked_batches, new.checked_legs + swept.checked_legs, new.head_seq, new.head_hash
    )
    return total, Checkpoint(new.head_seq, new.head_hash, swept.head_seq, now_utc)


def save_checkpoint(conn: apsw.Connection, cp: Checkpoint) -> None:
    """Store ``cp`` unless a concurrent start already stored a newer head (never moves the checkpoint back)."""
    conn.execute(
        "INSERT INTO chain_checkpoint VALUES (1, ?, ?, ?, ?) ON CONFLICT (slot) DO UPDATE SET head_seq = excluded.head_seq, "
        "head_hash = excluded.head_hash, sweep_seq = excluded.sweep_seq, verified_utc = excluded.verified_utc "
        "WHERE excluded.head_seq >= chain_checkpoint.head_seq",
        (cp.head_seq, cp.head_hash, cp.sweep_seq, cp.verified_utc),
    )
