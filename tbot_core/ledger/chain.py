"""The books' hash chain: every sealed batch carries a SHA-256 over its rows and its predecessor's hash.

Triggers stop every writer that keeps them; they cannot stop someone who opens
the file with plain ``sqlite3`` and drops them first.  The chain is what finds
that: a batch's ``batch_hash`` covers the batch row itself, every group, leg,
lot, relief, account and role mapping the batch wrote, and the ``batch_hash``
of the batch one ``seq`` before it.  Editing any of those rows, balanced or
not, moving a row to another batch, deleting a group with its legs, or
deleting a batch from the middle of the sequence breaks the chain at the first
batch touched, and the verifier names that batch.

Canonical form (written once, read back the same way for ever):

* each row is one line, the ``printf`` text of its columns (``%d`` for
  NOT NULL integers, ``%Q`` for text and nullable columns), in key order.
  The verifier has SQLite render them (one ``format()`` per row,
  ``group_concat(... ORDER BY key)``: near the speed of a plain scan).  The
  posting path renders the same text in Python from the rows it has just
  drafted (``draft_sections``) instead of reading them back, which was a
  fifth of a post; any value whose SQLite text Python cannot reproduce byte
  for byte (a NUL in text, a float, a non-str text value) makes it read the
  batch back through the verifier's SQL instead, and
  ``tests/tbot_core/ledger/test_chain_text.py`` holds the two renderings
  equal on generated rows;
* sections are labelled and framed by their byte length, and the batch row is
  JSON of its columns in table order, then the predecessor's hash; the first
  batch's predecessor is ``GENESIS``.

Verifying in SQL strings rather than Python rows keeps it near the speed of a
plain scan: SQLite builds one string per section per batch, and Python only
feeds those strings to ``hashlib``.

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
from operator import itemgetter
from typing import Any

import apsw

from tbot_core.db import one_row

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

# (label, columns with their printf conversions, FROM/WHERE with {b} for the batch id, ORDER BY): every row a batch
# wrote, keyed to it.  %d only for NOT NULL INTEGER columns of STRICT tables (exact for any int64); %Q for text and
# nullable columns (quoted, NULL as NULL), so no two different rows render the same.
_SECTIONS = (
    (
        "groups",
        "group_id %d, batch_id %Q, kind %Q, effective_utc %Q, memo %Q, symbol %Q, broker_code %Q, fitid %Q, "
        "content_hash %Q, reverses_group_id %Q, group_no %d, group_count %d, leg_count %d",
        "groups g WHERE g.batch_id = {b}",
        "g.group_no",
    ),
    (
        "legs",
        "group_id %d, leg_no %d, account_code %Q, debit_cents %d, credit_cents %d, leg_count %d",
        "groups g JOIN legs l ON l.group_id = g.group_id WHERE g.batch_id = {b}",
        "g.group_no, l.leg_no",
    ),
    (
        "lots",
        "lot_id %d, group_id %d, broker_code %Q, symbol %Q, qty %Q, cost_cents %d",
        "groups g JOIN lots t ON t.group_id = g.group_id WHERE g.batch_id = {b}",
        "t.lot_id",
    ),
    (
        "lot_reliefs",
        "relief_id %d, lot_id %d, group_id %d, qty %Q, cost_cents %d",
        "groups g JOIN lot_reliefs r ON r.group_id = g.group_id WHERE g.batch_id = {b}",
        "r.relief_id",
    ),
    ("accounts", "code %Q, name %Q, kind %Q, batch_id %Q", "accounts a WHERE a.batch_id = {b}", "a.code"),
    (
        "coa_mapping",
        "mapping_id %d, role %Q, account_code %Q, batch_id %Q",
        "coa_mapping m WHERE m.batch_id = {b}",
        "m.mapping_id",
    ),
)
_ALIAS = {"groups": "g", "legs": "l", "lots": "t", "lot_reliefs": "r", "accounts": "a", "coa_mapping": "m"}


def _section_sql(label: str, columns: str, source: str, order: str, batch: str) -> str:
    """One scalar subquery rendering a section: one ``format()`` call per row (several times faster than ``quote()||``)."""
    alias = _ALIAS[label]
    pairs = [column.split() for column in columns.split(",")]
    pattern = ",".join(conversion for _, conversion in pairs)
    args = ", ".join(f"{alias}.{name}" for name, _ in pairs)
    return (
        f"(SELECT coalesce(group_concat(format('{pattern}', {args}), char(10) ORDER BY {order}), '') "
        f"FROM {source.format(b=batch)})"
    )


_SECTIONS_SQL = ", ".join(_section_sql(*section, batch="{b}") for section in _SECTIONS)
# At posting time the batch row is not written yet (its hash goes into it), so the rows are read by id.
_DRAFT_SQL = "SELECT " + _SECTIONS_SQL.format(b="?1")
# Verification reads each batch row with its sections in one statement, in chain order.
_VERIFY_SQL = (
    "SELECT "
    + ", ".join(f"b.{c}" for c in BATCH_COLUMNS)
    + ", b.batch_hash, "
    + _SECTIONS_SQL.format(b="b.batch_id")
    + " FROM batches b WHERE b.seq > ?1 AND b.seq <= ?2 ORDER BY b.seq"
)
_N = len(BATCH_COLUMNS)


def batch_digest(batch_row: tuple[Any, ...], sections: tuple[str, ...], prev_hash: str) -> str:
    """The hash of one batch: its row (BATCH_COLUMNS order), its rendered sections, its predecessor's hash."""
    h = hashlib.sha256()
    head = json.dumps(list(batch_row), ensure_ascii=False, separators=(",", ":")).encode()
    h.update(b"tbot-ledger-batch/1\n%d:" % len(head) + head)
    for (label, *_), text in zip(_SECTIONS, sections):
        data = text.encode()
        h.update(b"\n%s %d:" % (label.encode(), len(data)) + data)
    h.update(b"\nprev:" + prev_hash.encode())
    return h.hexdigest()


class Unrenderable(Exception):
    """A drafted value whose SQLite ``format()`` text Python does not reproduce exactly; read the batch back instead."""


_NONE = type(None)


def _q(value: object) -> str:
    """SQLite's ``%Q``: NULL bare; text quoted, quotes doubled (SQLite stops a text at a NUL, so that is refused); an int's digits quoted."""
    if value is None:
        return "NULL"
    if type(value) is int:
        return f"'{value:d}'"
    if type(value) is not str or "\x00" in value:
        raise Unrenderable
    return "'" + value.replace("'", "''") + "'"


def _lines(rows: list[tuple[Any, ...]], kinds: str, insert: tuple[int, int] | None = None) -> str:
    """One section's text: each row as the ``format()`` of its columns, one line per row, in the order given.

    ``kinds`` has one letter per column: ``d`` a NOT NULL INTEGER (``%d``),
    ``Q`` a text column, ``i`` a nullable INTEGER one (both ``%Q``; STRICT
    turns a text such as ``' 5'`` into 5 in an INTEGER column, so there
    only ints and NULLs are rendered here).  ``insert`` is (position, int)
    of a column the rows leave out (a group's batch-wide ``group_count``).

    Speed: the common batch is rendered by one ``%``-pattern applied to each
    row as it is.  A ``%d`` column needs no check: any value SQLite accepted
    in a STRICT INTEGER column (an int, a bool, an integral float) prints the
    same digits through Python's ``%d``, and anything else raises TypeError.
    A ``%Q`` column is checked once, as a whole: all quote-free ``str``
    becomes ``'%s'``; all NULL becomes ``NULL%.0s`` (the ``%.0s`` consumes
    the None and prints nothing); all ``int`` becomes ``'%d'``.  Only a column
    mixing these, or holding a quote, is rendered value by value (``_q``).
    """
    if not rows:
        return ""
    parts: list[str] = []
    slow: dict[int, list[str]] = {}
    for k, kind in enumerate(kinds):
        if kind == "d":
            parts.append("%d")
            continue
        column = list(map(itemgetter(k), rows))
        types = set(map(type, column))
        if types == {_NONE}:
            parts.append("NULL%.0s")
        elif types == {int}:
            parts.append("'%d'")
        elif kind == "Q" and types == {str} and "'" not in (joined := "".join(column)) and "\x00" not in joined:
            parts.append("'%s'")
        elif kind == "i" and not types <= {int, _NONE}:
            raise Unrenderable
        else:
            parts.append("%s")
            slow[k] = [_q(value) for value in column]
    if insert is not None:
        parts.insert(insert[0], f"{insert[1]:d}")
    pattern = ",".join(parts)
    if slow:
        rows = [tuple(slow[k][n] if k in slow else value for k, value in enumerate(row)) for n, row in enumerate(rows)]
    try:
        return "\n".join(map(pattern.__mod__, rows))
    except (TypeError, ValueError):
        raise Unrenderable from None


def draft_sections(
    groups: list[tuple[Any, ...]],
    group_count: int,
    legs: list[tuple[Any, ...]],
    lots: list[tuple[Any, ...]],
    reliefs: list[tuple[Any, ...]],
    accounts: list[tuple[Any, ...]],
    mappings: list[tuple[Any, ...]],
) -> tuple[str, ...]:
    """The ``_SECTIONS`` texts of a drafted batch, rendered in Python exactly as ``_DRAFT_SQL`` renders them.

    The rows are ``Draft``'s, in key order already except the accounts:
    groups without ``group_count`` (the batch's, passed on its own), relief
    and mapping ids assigned by the draft.  Raises ``Unrenderable`` for a
    value Python cannot render identically, and the caller reads the rows back.
    """
    if any(type(row[0]) is not str for row in accounts):
        raise Unrenderable
    return (
        _lines(groups, "dQQQQQQQQidd", (11, group_count)),
        _lines(legs, "ddQddd"),
        _lines(lots, "ddQQQd"),
        _lines(reliefs, "dddQd"),
        _lines(sorted(accounts), "QQQQ"),
        _lines(mappings, "dQQQ"),
    )


def next_link(conn: apsw.Connection) -> tuple[int, str]:
    """(seq, predecessor hash) for the batch about to be sealed; call under the write lock."""
    row = conn.execute("SELECT seq, batch_hash FROM batches ORDER BY seq DESC LIMIT 1").fetchone()
    return (1, GENESIS) if row is None else (row[0] + 1, row[1])


def draft_hash(
    conn: apsw.Connection, batch_row: tuple[Any, ...], prev_hash: str, rendered: tuple[str, ...] | None = None
) -> str:
    """Hash of a batch whose rows are inserted (same transaction) but whose seal row is not yet.

    ``rendered`` is ``draft_sections`` of those rows when the caller has them; otherwise they are read back.
    """
    sections = rendered if rendered is not None else one_row(conn.execute(_DRAFT_SQL, (batch_row[0],)))
    return batch_digest(batch_row, sections, prev_hash)


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
    expected, prev, batches, legs = after_seq + 1, prev_hash, 0, 0
    for row in conn.execute(_VERIFY_SQL, (after_seq, upto)):
        batch_row, stored, sections = row[:_N], row[_N], row[_N + 1 :]
        batch_id, seq = batch_row[0], batch_row[-1]
        if seq != expected:
            return ChainResult(
                batches,
                legs,
                expected - 1,
                prev,
                f"batch {batch_id}: seq {seq} follows seq {expected - 1}; batch seq {expected} is missing",
            )
        if batch_digest(batch_row, sections, prev) != stored:
            return ChainResult(
                batches,
                legs,
                expected - 1,
                prev,
                f"batch {batch_id} (seq {seq}): its rows or its link no longer match its hash; edited after it was sealed",
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
