"""``tbot ledger check``, the trial balance, and the startup self-checks.

Every check reads through a read-only connection, so it can run beside a
syncing writer and never takes a lock a writer needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import apsw

from tbot_core.errors import TbotError
from tbot_core.home import BotHome
from tbot_core.ledger.coa import coa_problems
from tbot_core.ledger.conn import open_ledger
from tbot_core.ledger.schema import schema_problems
from tbot_core.selfcheck import CheckResult, FunctionCheck, SelfCheck

REMEDY = "if the schema version is older, run `tbot ledger migrate`; otherwise restore db/ledger.db from a backup, or run `tbot init --force` on a fresh home"


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    detail: str


def _first(conn: apsw.Connection, sql: str) -> tuple | None:
    return conn.execute(sql).fetchone()


def _integrity(conn: apsw.Connection) -> Finding:
    rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    return Finding("integrity_check", rows == ["ok"], "ok" if rows == ["ok"] else f"{len(rows)} problems, first: {rows[0]}")


def _foreign_keys(conn: apsw.Connection) -> Finding:
    row = _first(conn, "PRAGMA foreign_key_check")
    return Finding("foreign_key_check", row is None, "ok" if row is None else f"table {row[0]} row {row[1]} points at a missing {row[2]} row")


def _balanced(conn: apsw.Connection) -> Finding:
    row = _first(conn, "SELECT g.group_id, count(l.leg_no), g.leg_count, coalesce(sum(l.debit_cents), 0), coalesce(sum(l.credit_cents), 0) "
                       "FROM groups g LEFT JOIN legs l ON l.group_id = g.group_id GROUP BY g.group_id "
                       "HAVING count(l.leg_no) < 2 OR count(l.leg_no) <> g.leg_count OR sum(l.debit_cents) IS NOT sum(l.credit_cents) LIMIT 1")
    if row is None:
        return Finding("groups_balanced", True, "every group balances and holds all its legs")
    gid, legs, declared, debit, credit = row
    if legs != declared or legs < 2:
        return Finding("groups_balanced", False, f"group {gid} holds {legs} legs but declares {declared}")
    return Finding("groups_balanced", False, f"group {gid}: debits {debit} != credits {credit} (cents)")


def _orphans(conn: apsw.Connection) -> Finding:
    leg = _first(conn, "SELECT l.leg_no, l.group_id FROM legs l LEFT JOIN groups g ON g.group_id = l.group_id WHERE g.group_id IS NULL LIMIT 1")
    if leg:
        return Finding("no_orphans", False, f"leg {leg[0]} of group {leg[1]} points at a missing group")
    group = _first(conn, "SELECT g.group_id, g.batch_id FROM groups g LEFT JOIN batches b ON b.batch_id = g.batch_id WHERE b.batch_id IS NULL LIMIT 1")
    if group:
        return Finding("no_orphans", False, f"group {group[0]} belongs to batch {group[1]}, which was never committed")
    return Finding("no_orphans", True, "every leg has a group and every group a committed batch")


def _telemetry(conn: apsw.Connection) -> Finding:
    row = _first(conn, "SELECT b.batch_id, b.row_count, (SELECT count(*) FROM legs l JOIN groups g ON g.group_id = l.group_id "
                       "WHERE g.batch_id = b.batch_id) AS legs FROM batches b WHERE b.row_count <> legs LIMIT 1")
    if row:
        return Finding("batch_telemetry", False, f"batch {row[0]} records {row[1]} rows but holds {row[2]} legs")
    row = _first(conn, "SELECT b.batch_id, b.group_count, (SELECT count(*) FROM groups g WHERE g.batch_id = b.batch_id) AS n "
                       "FROM batches b WHERE b.group_count <> n LIMIT 1")
    if row:
        return Finding("batch_telemetry", False, f"batch {row[0]} records {row[1]} groups but holds {row[2]}")
    bad = _first(conn, "SELECT batch_id FROM batch_telemetry WHERE completed_utc < started_utc LIMIT 1")
    if bad:
        return Finding("batch_telemetry", False, f"batch {bad[0]} completed before it started")
    (committed,) = _first(conn, "SELECT count(*) FROM batches")
    (failed,) = _first(conn, "SELECT count(*) FROM failed_batches")
    return Finding("batch_telemetry", True, f"{committed} committed and {failed} rolled-back batches consistent with rows")


def _totals(conn: apsw.Connection) -> Finding:
    debit, credit = _first(conn, "SELECT coalesce(sum(debit_cents), 0), coalesce(sum(credit_cents), 0) FROM legs")
    return Finding("trial_balance", debit == credit, f"debits {debit} {'=' if debit == credit else '!='} credits {credit} (cents)")


def ledger_findings(path: Path) -> list[Finding]:
    conn = open_ledger(path, readonly=True)
    try:
        schema = schema_problems(conn)
        findings = [_integrity(conn), _foreign_keys(conn),
                    Finding("schema", not schema, "; ".join(schema) or "every table, index and trigger present")]
        if not schema:
            coa = coa_problems(conn)
            findings += [Finding("chart_of_accounts", not coa, "; ".join(coa) or "aligned with the shipped default"),
                         _balanced(conn), _orphans(conn), _telemetry(conn), _totals(conn)]
        return findings
    finally:
        conn.close()


def trial_balance(path: Path) -> list[tuple[str, str, str, int, int]]:
    """(code, name, kind, debit cents, credit cents) of every account, by code."""
    conn = open_ledger(path, readonly=True)
    try:
        return list(conn.execute("SELECT a.code, a.name, a.kind, coalesce(sum(l.debit_cents), 0), coalesce(sum(l.credit_cents), 0) "
                                 "FROM accounts a LEFT JOIN legs l ON l.account_code = a.code GROUP BY a.code ORDER BY a.code"))
    finally:
        conn.close()


def ledger_checks(home: BotHome) -> list[SelfCheck]:
    """Startup blocks when the ledger's schema or chart of accounts is not what this code ships."""
    path = home.paths.ledger_db

    def run(name: str, problems_of) -> CheckResult:  # type: ignore[no-untyped-def]
        if not path.exists():
            return CheckResult.failed(name, "db/ledger.db missing", "run `tbot init` (or `tbot init --force`)")
        conn = open_ledger(path, readonly=True)
        try:
            problems = problems_of(conn)
        except apsw.Error as exc:
            raise TbotError(f"db/ledger.db: unreadable ({type(exc).__name__})") from None
        finally:
            conn.close()
        if problems:
            return CheckResult.failed(name, f"db/ledger.db: {'; '.join(problems[:3])}", REMEDY)
        return CheckResult.passed(name, "ok")

    return [FunctionCheck("ledger_schema", lambda: run("ledger_schema", schema_problems)),
            FunctionCheck("ledger_coa", lambda: run("ledger_coa", lambda c: schema_problems(c) or coa_problems(c)))]
