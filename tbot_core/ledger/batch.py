"""The one write path: a batch is one transaction, sealed, telemetered and audited.

``Ledger.run(meta, build)`` takes the write lock (BEGIN IMMEDIATE), answers a
repeat of a committed ``batch_id``/``sync_run_id`` without writing, lets
``build`` fill a :class:`~tbot_core.ledger.draft.Draft` from the database
state it sees under that lock, validates the rows in code, inserts them, writes
the seal row last (whose triggers re-check balance and the leg count) and
COMMITs once.  Any failure — validation, constraint, I/O, even a bug in
``build`` — ROLLs BACK, then a ``rolled_back`` telemetry row and an audit
event are written on their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import apsw

from tbot_core.audit import AuditLog
from tbot_core.errors import TbotError
from tbot_core.gc_pause import gc_paused
from tbot_core.ledger.canonical import Unrenderable, draft_sections
from tbot_core.ledger.chain import draft_hash, next_link
from tbot_core.ledger.conn import open_ledger
from tbot_core.ledger.draft import Draft
from tbot_core.ledger.failures import LedgerBatchError, classify
from tbot_core.ledger.validate import check_batch
from tbot_core.timeutil import iso_z

BATCH_KINDS = ("sync", "posting", "coa", "hook", "override", "reversal")
CALLERS = ("system", "ui")
AUDIT_CATEGORY = "ledger_batch"

# Each insert is (statement head, one row's placeholders).  group_count is only known once the draft is complete;
# it is the same for every group of the batch, so it is written into the row as an integer literal rather than
# repeated in every row's parameters.
_INSERT_GROUPS = (
    "INSERT INTO groups (group_id, batch_id, kind, effective_utc, memo, symbol, broker_code, fitid, content_hash, "
    "reverses_group_id, group_no, leg_count, group_count) VALUES ",
    "(?,?,?,?,?,?,?,?,?,?,?,?,{group_count:d})",
)
_INSERT_LEGS = (
    "INSERT INTO legs (group_id, leg_no, account_code, debit_cents, credit_cents, leg_count) VALUES ",
    "(?,?,?,?,?,?)",
)
_INSERT_LOTS = ("INSERT INTO lots VALUES ", "(?,?,?,?,?,?)")
_INSERT_RELIEFS = ("INSERT INTO lot_reliefs (relief_id, lot_id, group_id, qty, cost_cents) VALUES ", "(?,?,?,?,?)")
_INSERT_ACCOUNTS = ("INSERT INTO accounts VALUES ", "(?,?,?,?)")
_INSERT_MAPPINGS = ("INSERT INTO coa_mapping (mapping_id, role, account_code, batch_id) VALUES ", "(?,?,?,?)")
# Rows per INSERT statement.  A table with triggers and foreign keys makes SQLite open a statement journal for every
# statement and copy each page the statement changes into it, and set up each trigger's program afresh; with one row
# per statement (a plain executemany) that was half of a posting's insert time, and SQLite pays it once per statement,
# not per row.  Measured (bench/ledger.py): 50-200 rows are alike; far more makes each statement's journal bigger.
# Still so with the triggers off for these inserts (``Ledger._insert``): under callgrind one row per statement cost
# 22 % more instructions per post than 64, and 256 the same as 64.
_ROWS_PER_INSERT = 64


def _insert_rows(conn: apsw.Connection, insert: tuple[str, str], rows: list[tuple[Any, ...]]) -> list[Any]:
    """``rows`` in order, ``_ROWS_PER_INSERT`` to a statement; an error in any row fails its statement whole.

    The rows are flattened into one list once and each statement binds a slice of it (both in C): building a
    tuple per statement from its rows cost a tenth of a post.  Returns that list (the batch hash reads its
    columns as slices of it).
    """
    head, one = insert
    flat = list(chain.from_iterable(rows))
    width = len(rows[0])
    if len(flat) != width * len(rows):  # a ragged row would shift every later value into another column
        raise ValueError(f"{head.split('(')[0].strip()}: rows of different lengths")
    step = _ROWS_PER_INSERT * width
    whole = len(flat) - len(flat) % step
    if whole:
        statement = head + ",".join([one] * _ROWS_PER_INSERT)
        conn.executemany(statement, (flat[i : i + step] for i in range(0, whole, step)))
    if whole < len(flat):
        conn.execute(head + ",".join([one] * ((len(flat) - whole) // width)), flat[whole:])
    return flat


@dataclass(frozen=True)
class BatchMeta:
    batch_id: str
    kind: str
    caller: str = "system"
    reason: str = ""
    sync_run_id: str | None = None
    broker_code: str | None = None
    input_digest: str | None = None  # a sync run's input as handed in (sync.input_digest), stored on its batch row

    def __post_init__(self) -> None:
        if self.kind not in BATCH_KINDS:
            raise ValueError(f"batch kind {self.kind!r}: expected one of {', '.join(BATCH_KINDS)}")
        if self.caller not in CALLERS:
            raise TbotError(f"caller {self.caller!r}: expected system or ui")
        if not self.batch_id or len(self.batch_id) > 200:
            raise TbotError("batch_id: expected 1-200 characters")


@dataclass(frozen=True)
class BatchOutcome:
    batch_id: str
    sync_run_id: str | None
    commit_state: str
    row_count: int
    group_count: int
    group_ids: tuple[int, ...]  # empty for a repeat
    skipped_known: int
    already_committed: bool
    started_utc: str
    completed_utc: str


def _encoded(draft: Draft, flats: dict[str, list[Any]]) -> tuple[bytes, ...] | None:
    """The draft's hash-chain sections encoded from its rows, or None to have ``draft_hash`` read them back."""
    try:
        return draft_sections(
            draft.groups,
            len(draft.groups),
            draft.legs,
            draft.lots,
            draft.reliefs,
            draft.accounts,
            draft.mappings,
            flats,
        )
    except Unrenderable:
        return None


class Ledger:
    """A writer on one ledger database. ``audit`` receives one ``ledger_batch`` event per outcome."""

    def __init__(self, path: Path, *, audit: AuditLog | None = None, vfs: str | None = None) -> None:
        self.path = path
        self.audit = audit
        self.conn = open_ledger(path, vfs=vfs)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, meta: BatchMeta, build: Callable[[Draft], None]) -> BatchOutcome:
        with gc_paused:  # the rows of a batch hold no cycles; see gc_pause.py
            return self._run(meta, build)

    def _run(self, meta: BatchMeta, build: Callable[[Draft], None]) -> BatchOutcome:
        conn = self.conn
        started = iso_z()
        draft: Draft | None = None
        try:
            conn.execute("BEGIN IMMEDIATE")
            repeat = self._committed(meta)
            if repeat is not None:
                conn.execute("ROLLBACK")
                outcome = BatchOutcome(
                    meta.batch_id,
                    meta.sync_run_id,
                    "committed",
                    repeat[0],
                    repeat[2],
                    (),
                    repeat[1],
                    True,
                    started,
                    iso_z(),
                )
                self._audit("batch_repeat", meta, {"row_count": 0, "note": "already committed; nothing added"})
                return outcome
            draft = Draft(conn, meta)
            build(draft)
            check_batch(draft.groups, draft.stray_legs)
            flats = self._insert(draft)
            completed = iso_z()
            seq, prev_hash = next_link(conn)
            seal = (
                meta.batch_id,
                meta.sync_run_id,
                meta.broker_code,
                meta.kind,
                meta.caller,
                meta.reason,
                started,
                completed,
                len(draft.legs),
                draft.skipped_known,
                "committed",
                len(draft.groups),
                meta.input_digest,
                seq,
            )
            conn.execute(
                "INSERT INTO batches VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (*seal, draft_hash(conn, seal, prev_hash, _encoded(draft, flats))),
            )
            conn.execute("COMMIT")
        except BaseException as exc:
            self._rollback()
            attempted = len(draft.legs) if draft is not None else 0
            category, constraint, detail = classify(exc)
            self._record_failure(meta, started, attempted, category, constraint, detail)
            if not isinstance(exc, Exception) or category == "internal":
                raise
            if isinstance(exc, LedgerBatchError):
                exc.batch_id = meta.batch_id
                raise
            error = LedgerBatchError(
                f"ledger batch {meta.batch_id} rolled back: {detail}", category=category, constraint=constraint
            )
            error.batch_id = meta.batch_id
            raise error from None
        outcome = BatchOutcome(
            meta.batch_id,
            meta.sync_run_id,
            "committed",
            len(draft.legs),
            len(draft.groups),
            tuple(g[0] for g in draft.groups),
            draft.skipped_known,
            False,
            started,
            completed,
        )
        self._audit(
            "batch_committed",
            meta,
            {
                "row_count": outcome.row_count,
                "groups": len(draft.groups),
                "skipped_known": draft.skipped_known,
                "started_utc": started,
                "completed_utc": completed,
                "commit_state": "committed",
            },
        )
        return outcome

    # -- internals ------------------------------------------------------------------------
    def _committed(self, meta: BatchMeta) -> tuple[int, int, int] | None:
        """(row_count, skipped_known, group_count) of an already committed batch with this id or sync_run_id."""
        row = self.conn.execute(
            "SELECT row_count, skipped_known, group_count, broker_code FROM batches WHERE batch_id = ? OR "
            "(sync_run_id IS NOT NULL AND sync_run_id = ?)",
            (meta.batch_id, meta.sync_run_id),
        ).fetchone()
        if row is None:
            return None
        if meta.sync_run_id is not None and row[3] != meta.broker_code:
            raise LedgerBatchError(
                f"sync_run_id {meta.sync_run_id} was already used for broker {row[3]}",
                category="validation",
                constraint="sync_run_id_broker",
            )
        return row[0], row[1], row[2]

    def _insert(self, draft: Draft) -> dict[str, list[Any]]:
        """The drafted rows, with this connection's triggers off; they are on again before the seal row.

        The only INSERT triggers on these tables are the ``*_no_replace`` ones (schema.sql), which refuse a
        REPLACE or UPSERT by any writer.  These statements are plain INSERTs (conflict action ABORT), so every
        key those triggers test is already refused by its own PRIMARY KEY or UNIQUE constraint; the triggers'
        sub-program per row was a quarter of a posting's cost and added no refusal here.  Every CHECK, NOT NULL
        and foreign key still applies, the seal's triggers run on the batch row, and every other statement on
        this connection (and every other connection) keeps all triggers.
        """
        conn = self.conn
        head, one = _INSERT_GROUPS
        flats: dict[str, list[Any]] = {}
        conn.config(apsw.SQLITE_DBCONFIG_ENABLE_TRIGGER, 0)
        try:
            for table, insert, rows in (
                ("accounts", _INSERT_ACCOUNTS, draft.accounts),
                ("groups", (head, one.format(group_count=len(draft.groups))), draft.groups),
                ("legs", _INSERT_LEGS, draft.legs),
                ("lots", _INSERT_LOTS, draft.lots),
                ("lot_reliefs", _INSERT_RELIEFS, draft.reliefs),
                ("coa_mapping", _INSERT_MAPPINGS, draft.mappings),
            ):
                if rows:
                    flats[table] = _insert_rows(conn, insert, rows)
        finally:
            conn.config(apsw.SQLITE_DBCONFIG_ENABLE_TRIGGER, 1)
        return flats

    def _rollback(self) -> None:
        try:
            if not self.conn.get_autocommit():
                self.conn.execute("ROLLBACK")
        except apsw.Error:
            pass  # SQLite already rolled back (an I/O fault can do that); the failure row below says so

    def _record_failure(
        self, meta: BatchMeta, started: str, attempted: int, category: str, constraint: str, detail: str
    ) -> None:
        completed = iso_z()
        written = True
        try:
            self.conn.execute(
                "INSERT INTO failed_batches (batch_id, sync_run_id, broker_code, kind, caller, reason, started_utc, "
                "completed_utc, row_count, commit_state, error_category, error_detail) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    meta.batch_id,
                    meta.sync_run_id,
                    meta.broker_code,
                    meta.kind,
                    meta.caller,
                    meta.reason,
                    started,
                    completed,
                    attempted,
                    "rolled_back",
                    category,
                    f"{constraint}: {detail}"[:500],
                ),
            )
        except apsw.Error:
            written = False
            self._rollback()
        self._audit(
            "batch_rolled_back",
            meta,
            {
                "row_count": attempted,
                "commit_state": "rolled_back",
                "category": category,
                "constraint": constraint,
                "detail": detail[:300],
                "started_utc": started,
                "completed_utc": completed,
                "telemetry_row_written": written,
            },
            severity="error",
        )

    def _audit(self, event: str, meta: BatchMeta, extra: dict[str, Any], *, severity: str = "info") -> None:
        if self.audit is None:
            return
        context = {
            "batch_id": meta.batch_id,
            "sync_run_id": meta.sync_run_id,
            "broker_code": meta.broker_code,
            "kind": meta.kind,
            "caller": meta.caller,
            "reason": meta.reason,
            **extra,
        }
        self.audit.append(AUDIT_CATEGORY, event, context, severity=severity, actor=meta.caller)
