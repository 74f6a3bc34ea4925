"""``tbot ledger check``, the trial balance, and the startup self-checks.

Every check reads through a read-only connection, so it can run beside a
syncing writer and never takes a lock a writer needs.  The one write is the
startup check's hash-chain checkpoint (``chain.py``), a one-row upsert in its
own short transaction after a passing verification; if it cannot be written
the check still passes and the next start simply verifies more.

``tbot ledger check`` verifies the whole hash chain; the startup check
(``ledger_books``) verifies what is new since its checkpoint, looks for rows
that belong to no committed batch, and blocks launch on either.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apsw

from tbot_core.db import one_row
from tbot_core.errors import TbotError
from tbot_core.home import BotHome
from tbot_core.ledger.chain import verify_all
from tbot_core.ledger.checkpoint import Checkpoint, save_checkpoint, verify_since_checkpoint
from tbot_core.ledger.coa import coa_problems
from tbot_core.ledger.conn import open_ledger
from tbot_core.ledger.schema import schema_problems
from tbot_core.selfcheck import CheckResult, FunctionCheck, SelfCheck
from tbot_core.timeutil import iso_z

BOOKS_REMEDY = (
    "run `tbot ledger check` for the full report, then restore db/ledger.db from a backup taken before the edit"
)
REMEDY = "if the schema version is older, run `tbot ledger migrate`; otherwise restore db/ledger.db from a backup, or run `tbot init --force` on a fresh home"


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    detail: str


def _first(conn: apsw.Connection, sql: str) -> tuple[Any, ...] | None:
    return conn.execute(sql).fetchone()


def _integrity(conn: apsw.Connection) -> Finding:
    rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    return Finding(
        "integrity_check", rows == ["ok"], "ok" if rows == ["ok"] else f"{len(rows)} problems, first: {rows[0]}"
    )


def _foreign_keys(conn: apsw.Connection) -> Finding:
    row = _first(conn, "PRAGMA foreign_key_check")
    return Finding(
        "foreign_key_check",
        row is None,
        "ok" if row is None else f"table {row[0]} row {row[1]} points at a missing {row[2]} row",
    )


def _balanced(conn: apsw.Connection) -> Finding:
    row = _first(
        conn,
        "SELECT g.group_id, count(l.leg_no), g.leg_count, coalesce(sum(l.debit_cents), 0), coalesce(sum(l.credit_cents), 0) "
        "FROM groups g LEFT JOIN legs l ON l.group_id = g.group_id GROUP BY g.group_id "
        "HAVING count(l.leg_no) < 2 OR count(l.leg_no) <> g.leg_count OR sum(l.debit_cents) IS NOT sum(l.credit_cents) LIMIT 1",
    )
    if row is None:
        return Finding("groups_balanced", True, "every group balances and holds all its legs")
    gid, legs, declared, debit, credit = row
    if legs != declared or legs < 2:
        return Finding("groups_balanced", False, f"group {gid} holds {legs} legs but declares {declared}")
    return Finding("groups_balanced", False, f"group {gid}: debits {debit} != credits {credit} (cents)")


# Rows outside every committed batch are outside the hash chain too, so they are looked for one by one.
_ORPHANS = (
    (
        "SELECT l.leg_no, l.group_id FROM legs l WHERE NOT EXISTS (SELECT 1 FROM groups g WHERE g.group_id = l.group_id) LIMIT 1",
        "leg {0} of group {1} points at a missing group",
    ),
    (
        "SELECT g.group_id, g.batch_id FROM groups g WHERE NOT EXISTS (SELECT 1 FROM batches b WHERE b.batch_id = g.batch_id) LIMIT 1",
        "group {0} belongs to batch {1}, which was never committed",
    ),
    (
        "SELECT t.lot_id, t.group_id FROM lots t WHERE NOT EXISTS (SELECT 1 FROM groups g WHERE g.group_id = t.group_id) LIMIT 1",
        "lot {0} points at missing group {1}",
    ),
    (
        "SELECT r.relief_id, r.group_id FROM lot_reliefs r WHERE NOT EXISTS (SELECT 1 FROM groups g WHERE g.group_id = r.group_id) "
        "OR NOT EXISTS (SELECT 1 FROM lots t WHERE t.lot_id = r.lot_id) LIMIT 1",
        "lot relief {0} (group {1}) points at a missing group or lot",
    ),
    (
        "SELECT a.code, a.batch_id FROM accounts a WHERE NOT EXISTS (SELECT 1 FROM batches b WHERE b.batch_id = a.batch_id) LIMIT 1",
        "account {0} belongs to batch {1}, which was never committed",
    ),
    (
        "SELECT m.mapping_id, m.batch_id FROM coa_mapping m WHERE NOT EXISTS (SELECT 1 FROM batches b WHERE b.batch_id = m.batch_id) LIMIT 1",
        "role mapping {0} belongs to batch {1}, which was never committed",
    ),
)


def orphan_problem(conn: apsw.Connection) -> str | None:
    """The first row that belongs to no committed batch (written with foreign keys off), or None."""
    for sql, text in _ORPHANS:
        row = _first(conn, sql)
        if row:
            return text.format(*row)
    return None


def _orphans(conn: apsw.Connection) -> Finding:
    problem = orphan_problem(conn)
    return Finding(
        "no_orphans",
        problem is None,
        problem or "every leg, group, lot, relief and account belongs to a committed batch",
    )


def _chain(conn: apsw.Connection) -> Finding:
    result = verify_all(conn)
    if result.problem:
        return Finding("hash_chain", False, result.problem)
    return Finding(
        "hash_chain",
        True,
        f"{result.checked_batches} batches ({result.checked_legs} legs) match their hashes, "
        f"each linked to the one before",
    )


def _telemetry(conn: apsw.Connection) -> Finding:
    row = _first(
        conn,
        "SELECT b.batch_id, b.row_count, (SELECT count(*) FROM legs l JOIN groups g ON g.group_id = l.group_id "
        "WHERE g.batch_id = b.batch_id) AS legs FROM batches b WHERE b.row_count <> legs LIMIT 1",
    )
    if row:
        return Finding("batch_telemetry", False, f"batch {row[0]} records {row[1]} rows but holds {row[2]} legs")
    row = _first(
        conn,
        "SELECT b.batch_id, b.group_count, (SELECT count(*) FROM groups g WHERE g.batch_id = b.batch_id) AS n "
        "FROM batches b WHERE b.group_count <> n LIMIT 1",
    )
    if row:
        return Finding("batch_telemetry", False, f"batch {row[0]} records {row[1]} groups but holds {row[2]}")
    bad = _first(conn, "SELECT batch_id FROM batch_telemetry WHERE completed_utc < started_utc LIMIT 1")
    if bad:
        return Finding("batch_telemetry", False, f"batch {bad[0]} completed before it started")
    (committed,) = one_row(conn.execute("SELECT count(*) FROM batches"))
    (failed,) = one_row(conn.execute("SELECT count(*) FROM failed_batches"))
    return Finding(
        "batch_telemetry", True, f"{committed} committed and {failed} rolled-back batches consistent with rows"
    )


def _totals(conn: apsw.Connection) -> Finding:
    debit, credit = one_row(
        conn.execute("SELECT coalesce(sum(debit_cents), 0), coalesce(sum(credit_cents), 0) FROM legs")
    )
    return Finding(
        "trial_balance", debit == credit, f"debits {debit} {'=' if debit == credit else '!='} credits {credit} (cents)"
    )


def ledger_findings(path: Path) -> list[Finding]:
    conn = open_ledger(path, readonly=True)
    try:
        schema = schema_problems(conn)
        findings = [
            _integrity(conn),
            _foreign_keys(conn),
            Finding("schema", not schema, "; ".join(schema) or "every table, index and trigger present"),
        ]
        if not schema:
            coa = coa_problems(conn)
            findings += [
                Finding("chart_of_accounts", not coa, "; ".join(coa) or "aligned with the shipped default"),
                _balanced(conn),
                _orphans(conn),
                _telemetry(conn),
                _totals(conn),
                _chain(conn),
            ]
        return findings
    finally:
        conn.close()


def trial_balance(path: Path) -> list[tuple[str, str, str, int, int]]:
    """(code, name, kind, debit cents, credit cents) of every account, by code."""
    conn = open_ledger(path, readonly=True)
    try:
        return list(
            conn.execute(
                "SELECT a.code, a.name, a.kind, coalesce(sum(l.debit_cents), 0), coalesce(sum(l.credit_cents), 0) "
                "FROM accounts a LEFT JOIN legs l ON l.account_code = a.code GROUP BY a.code ORDER BY a.code"
            )
        )
    finally:
        conn.close()


def ledger_checks(home: BotHome) -> list[SelfCheck]:
    """Startup blocks when the ledger's schema or chart of accounts is not what this code ships.

    The three checks share one probe per fact: the schema is read once and the
    chart of accounts and the books only report on it (not probe it again)
    when it is wrong.
    """
    path = home.paths.ledger_db

    @functools.cache  # one read per start, by the first check that needs it
    def schema_of() -> list[str]:
        return _probe(path, schema_problems)

    def ledger_schema() -> CheckResult:
        if not path.exists():
            return _missing("ledger_schema")
        return _verdict("ledger_schema", schema_of())

    def ledger_coa() -> CheckResult:
        if not path.exists():
            return _missing("ledger_coa")
        return _verdict("ledger_coa", schema_of() or _probe(path, coa_problems))

    def ledger_books() -> CheckResult:
        if not path.exists():
            return _missing("ledger_books")
        problems = schema_of()
        if problems:
            return CheckResult.failed("ledger_books", f"db/ledger.db: cannot verify the books: {problems[0]}", REMEDY)
        return books_check(path, schema_checked=True)

    return [
        FunctionCheck("ledger_schema", ledger_schema),
        FunctionCheck("ledger_coa", ledger_coa),
        FunctionCheck("ledger_books", ledger_books),
    ]


def _missing(name: str) -> CheckResult:
    return CheckResult.failed(name, "db/ledger.db missing", "run `tbot init` (or `tbot init --force`)")


def _verdict(name: str, problems: list[str]) -> CheckResult:
    if problems:
        return CheckResult.failed(name, f"db/ledger.db: {'; '.join(problems[:3])}", REMEDY)
    return CheckResult.passed(name, "ok")


def _probe(path: Path, problems_of: Callable[[apsw.Connection], list[str]]) -> list[str]:
    conn = open_ledger(path, readonly=True)
    try:
        return problems_of(conn)
    except apsw.Error as exc:
        raise TbotError(f"db/ledger.db: unreadable ({type(exc).__name__})") from None
    finally:
        conn.close()


def books_check(path: Path, *, schema_checked: bool = False) -> CheckResult:
    """Startup: no row outside a committed batch, and the hash chain intact since the checkpoint (then advanced).

    ``schema_checked`` when the caller already knows the schema is whole (the startup stage), so it is not read again.
    """
    name = "ledger_books"
    if not path.exists():
        return _missing(name)
    conn = open_ledger(path, readonly=True)
    try:
        problems = [] if schema_checked else schema_problems(conn)
        if problems:
            return CheckResult.failed(name, f"db/ledger.db: cannot verify the books: {problems[0]}", REMEDY)
        orphan = orphan_problem(conn)
        if orphan:
            return CheckResult.failed(name, f"db/ledger.db: {orphan}", BOOKS_REMEDY)
        result, checkpoint = verify_since_checkpoint(conn, iso_z())
    except apsw.Error as exc:
        raise TbotError(f"db/ledger.db: unreadable ({type(exc).__name__})") from None
    finally:
        conn.close()
    if result.problem:
        return CheckResult.failed(name, f"db/ledger.db: hash chain broken: {result.problem}", BOOKS_REMEDY)
    saved = _store_checkpoint(path, checkpoint)
    return CheckResult.passed(
        name,
        f"no orphan rows; hash chain verified through batch seq {result.head_seq} "
        f"({result.checked_batches} batches re-hashed{'' if saved else ', checkpoint not saved'})",
    )


def _store_checkpoint(path: Path, checkpoint: Checkpoint) -> bool:
    try:
        conn = open_ledger(path)
    except TbotError:
        return False
    try:
        with conn:
            save_checkpoint(conn, checkpoint)
        return True
    except apsw.Error:
        return False  # read-only file system or a writer holding the lock past the timeout: verify more next time
    finally:
        conn.close()
