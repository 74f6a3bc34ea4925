"""The books' hash chain: every sealed batch carries a SHA-256 over its rows and its predecessor's hash.

Triggers stop every writer that keeps them; they cannot stop someone who opens
the file with plain ``sqlite3`` and drops them first.  The chain is what finds
that: a batch's ``batch_hash`` covers the batch row itself, every group, leg,
lot, relief, account and role mapping the batch wrote, and the ``batch_hash``
of the batch one ``seq`` before it.  Editing any of those rows, balanced or
not, moving a row to another batch, deleting a group with its legs, or
deleting a batch from the middle of the sequence breaks the chain at the first
batch touched, and the verifier names that batch.

Canonical form (written once, read back the same way for ever).  A batch's
hash input starts with a version line, so each stored hash says which form it
was computed in; the verifier tries the version of the batch before first
(books switch version once, at an upgrade) and the other one if that fails:

* ``tbot-ledger-batch/2`` (every batch posted since): the batch row as JSON,
  then each section's rows column by column (``canonical.py``: integers as
  int64, text joined by NUL, JSON when mixed), each column framed by its byte
  length.  The posting path encodes the rows it has just drafted, the
  verifier the rows it reads back, with the same function; a value the two
  could see differently makes the posting path read the batch back first.
* ``tbot-ledger-batch/1`` (books written before): each row is one line, the
  ``printf`` text of its columns (``%d`` for NOT NULL integers, ``%Q`` for
  text and nullable columns), in key order, rendered by SQLite (one
  ``format()`` per row, ``group_concat(... ORDER BY key)``).  Still verified,
  never written any more: Python rendering that text per row was a fifth of
  a post.

In both, sections are labelled and framed by their byte length, the batch row
is JSON of its columns in table order, then the predecessor's hash; the first
batch's predecessor is ``GENESIS``.

What the chain does not prove: a forger who recomputes every later hash after
an edit (the code is public) makes a consistent chain, exactly as with the
audit log; and rows that belong to no batch (an orphan leg, a batchless
group) are outside it, so ``checks.py`` looks for those separately.  Deleting
the newest batches leaves a shorter valid chain; the startup checkpoint
(``checkpoint.py``: ``verify_since_checkpoint``) remembers the head it last saw
and refuses a chain that has shrunk below it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import apsw

from tbot_core.db import one_row
from tbot_core.ledger.canonical import ALIAS, SECTIONS, stored_sections

GENESIS = "0" * 64
BATCH_COLUMNS = (
    "batch_id",
    "sync_run_id",
    "broker_code",
    "kind",
    "caller",
    "reason",
    "started_utc",
    "completed_utc",
    "row_count",
    "skipped_known",
    "commit_state",
    "group_count",
    "input_digest",
    "seq",
)

# Version 1 rendered each row of a section (``canonical.SECTIONS``: the same tables, columns, sources and order) as
# SQLite ``format()`` text: %d for NOT NULL INTEGER columns of STRICT tables (exact for any int64), %Q for text and
# nullable columns (quoted, NULL as NULL), so no two different rows render the same.


def _v1_section_sql(label: str, columns: tuple[tuple[str, str], ...], source: str, order: str) -> str:
    """One scalar subquery rendering a section: one ``format()`` call per row (several times faster than ``quote()||``)."""
    alias = ALIAS[label]
    pattern = ",".join("%d" if kind == "d" else "%Q" for _, kind in columns)
    args = ", ".join(f"{alias}.{name}" for name, _ in columns)
    return f"(SELECT coalesce(group_concat(format('{pattern}', {args}), char(10) ORDER BY {order}), '') FROM {source})"


# Version 1's sections of one batch, rendered by SQLite (only verified now; see the module docstring).
_V1_SQL = "SELECT " + ", ".join(_v1_section_sql(*section) for section in SECTIONS)
# Verification reads the batch rows in chain order, then each batch's sections in the form its hash was made in.
_BATCHES_SQL = (
    "SELECT "
    + ", ".join(f"b.{c}" for c in BATCH_COLUMNS)
    + ", b.batch_hash FROM batches b WHERE b.seq > ?1 AND b.seq <= ?2 ORDER BY b.seq"
)
_N = len(BATCH_COLUMNS)
CURRENT_VERSION = 2


def _head(version: int, batch_row: tuple[Any, ...]) -> bytes:
    head = json.dumps(list(batch_row), ensure_ascii=False, separators=(",", ":")).encode()
    return b"tbot-ledger-batch/%d\n%d:" % (version, len(head)) + head


def digest_v1(batch_row: tuple[Any, ...], sections: tuple[str, ...], prev_hash: str) -> str:
    """Version 1: the batch row (BATCH_COLUMNS order), its sections as SQLite text, its predecessor's hash."""
    h = hashlib.sha256(_head(1, batch_row))
    for (label, *_), text in zip(SECTIONS, sections):
        data = text.encode()
        h.update(b"\n%s %d:" % (label.encode(), len(data)) + data)
    h.update(b"\nprev:" + prev_hash.encode())
    return h.hexdigest()


def digest_v2(batch_row: tuple[Any, ...], sections: tuple[bytes, ...], prev_hash: str) -> str:
    """Version 2: the batch row, its sections as ``canonical.py`` encodes them, its predecessor's hash."""
    h = hashlib.sha256(_head(2, batch_row))
    for (label, *_), data in zip(SECTIONS, sections):
        h.update(b"\n%s %d:" % (label.encode(), len(data)))
        h.update(data)
    h.update(b"\nprev:" + prev_hash.encode())
    return h.hexdigest()


def stored_digest(conn: apsw.Connection, version: int, batch_row: tuple[Any, ...], prev_hash: str) -> str:
    """The hash of a batch whose rows are stored (same transaction or committed), in the given version's form."""
    if version == 1:
        return digest_v1(batch_row, one_row(conn.execute(_V1_SQL, (batch_row[0],))), prev_hash)
    return digest_v2(batch_row, stored_sections(conn, batch_row[0]), prev_hash)


def next_link(conn: apsw.Connection) -> tuple[int, str]:
    """(seq, predecessor hash) for the batch about to be sealed; call under the write lock."""
    row = conn.execute("SELECT seq, batch_hash FROM batches ORDER BY seq DESC LIMIT 1").fetchone()
    return (1, GENESIS) if row is None else (row[0] + 1, row[1])


def draft_hash(
    conn: apsw.Connection, batch_row: tuple[Any, ...], prev_hash: str, encoded: tuple[bytes, ...] | None = None
) -> str:
    """Hash (current version) of a batch whose rows are inserted (same transaction) but whose seal row is not yet.

    ``encoded`` is ``canonical.draft_sections`` of those rows when the caller has them; otherwise they are read back.
    """
    if encoded is None:
        return stored_digest(conn, CURRENT_VERSION, batch_row, prev_hash)
    return digest_v2(batch_row, encoded, prev_hash)


@dataclass(frozen=True)
class ChainResult:
    """Outcome of a verification: ``problem`` is None when every batch checked matched."""

    checked_batches: int
    checked_legs: int
    head_seq: int
    head_hash: str
    problem: str | None = None


def verify_range(
    conn: apsw.Connection,
    after_seq: int = 0,
    prev_hash: str = GENESIS,
    upto_seq: int | None = None,
    max_legs: int | None = None,
) -> ChainResult:
    """Recompute every batch with ``after_seq < seq <= upto_seq`` (default: to the head), starting from ``prev_hash``.

    Stops at the first batch whose stored hash differs, whose ``seq`` is not
    the next one, or that is not linked to its predecessor, and names it;
    with ``max_legs``, also stops cleanly after the batch that reaches it.
    """
    upto = (1 << 62) if upto_seq is None else upto_seq
    expected, prev, batches, legs, version = after_seq + 1, prev_hash, 0, 0, CURRENT_VERSION
    for row in conn.execute(_BATCHES_SQL, (after_seq, upto)):
        batch_row, stored = row[:_N], row[_N]
        batch_id, seq = batch_row[0], batch_row[-1]
        if seq != expected:
            return ChainResult(
                batches,
                legs,
                expected - 1,
                prev,
                f"batch {batch_id}: seq {seq} follows seq {expected - 1}; batch seq {expected} is missing",
            )
        if stored_digest(conn, version, batch_row, prev) != stored:
            version = 3 - version  # the other form: books switch once, where an upgrade started posting version 2
            if stored_digest(conn, version, batch_row, prev) != stored:
                return ChainResult(
                    batches,
                    legs,
                    expected - 1,
                    prev,
                    f"batch {batch_id} (seq {seq}): its rows or its link no longer match its hash; "
                    "edited after it was sealed",
                )
        prev, expected = stored, expected + 1
        batches, legs = batches + 1, legs + batch_row[8]
        if max_legs is not None and legs >= max_legs:
            break
    return ChainResult(batches, legs, expected - 1, prev)


def verify_all(conn: apsw.Connection) -> ChainResult:
    """The whole chain from the first batch; also refuses a chain with fewer seqs than batch rows."""
    result = verify_range(conn)
    if result.problem is None:
        (count,) = one_row(conn.execute("SELECT count(*) FROM batches"))
        if count != result.checked_batches:
            return ChainResult(
                result.checked_batches,
                result.checked_legs,
                result.head_seq,
                result.head_hash,
                f"{count - result.checked_batches} batch rows lie outside the chain (seq gap or duplicate)",
            )
    return result
