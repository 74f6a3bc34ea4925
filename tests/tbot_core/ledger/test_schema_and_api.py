"""Schema-level safeguards, batch telemetry/audit, reversals, hooks, COA remaps and the startup check."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import apsw
import pytest

from tbot_core.audit import AuditLog
from tbot_core.errors import IntegrityError, TbotError
from tbot_core.ledger.batch import Ledger
from tbot_core.ledger.checks import ledger_findings, trial_balance
from tbot_core.ledger.coa import add_account, coa_problems, remap
from tbot_core.ledger.conn import open_ledger
from tbot_core.ledger.failures import LedgerBatchError
from tbot_core.ledger.hooks import manual_override, run_hook
from tbot_core.ledger.posting import post_groups, reverse_group
from tbot_core.ledger.sync import ingest_activities
from tbot_core.startup import run_startup

from .helpers import EFFECTIVE, balanced_groups, cash, fill, fresh_ledger


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return fresh_ledger(tmp_path)


_RAW_GROUP = (
    "INSERT INTO groups (group_id, batch_id, kind, effective_utc, memo, group_no, group_count, leg_count) "
    "VALUES (?, ?, 'POSTING', ?, 'raw', ?, ?, ?)"
)
_RAW_LEG = (
    "INSERT INTO legs (group_id, leg_no, account_code, debit_cents, credit_cents, leg_count) VALUES (?,?,?,?,?,?)"
)
_RAW_SEAL = (
    "INSERT INTO batches VALUES (?, NULL, NULL, 'posting', 'system', 'raw', ?, ?, ?, 0, 'committed', ?, NULL, "
    "(SELECT max(seq) + 1 FROM batches), printf('%064d', 0))"
)


def _raw_batch(conn: apsw.Connection, legs: list[tuple], *, seal_rows: int | None = None) -> None:
    """Bypass the Python API: write a group declaring two legs, the legs and the seal row by hand in one transaction."""
    with conn:
        conn.execute(_RAW_GROUP, (900, "raw", EFFECTIVE, 1, 1, 2))
        conn.executemany(
            _RAW_LEG, [(gid, no, account, debit, credit, 2) for no, (gid, account, debit, credit) in enumerate(legs, 1)]
        )
        conn.execute(_RAW_SEAL, ("raw", EFFECTIVE, EFFECTIVE, len(legs) if seal_rows is None else seal_rows, 1))


@pytest.mark.parametrize(
    "legs, seal_rows, constraint",
    [
        ([(900, "1000", 5, 0), (900, "3000", 0, 4)], None, "batch_seal_balanced"),
        ([(900, "1000", 5, 0)], 2, "batch_seal_balanced"),  # the seal claims the declared two legs; one is missing
        ([(900, "1000", 5, 0), (900, "3000", 0, 5)], 3, "batch_seal_row_count"),
        ([(900, "1000", 5, 5), (900, "3000", 0, 0)], None, "leg_one_side"),
        ([(900, "1000", -5, 0), (900, "3000", 0, -5)], None, "leg_debit_non_negative"),
        ([(900, "NOPE", 5, 0), (900, "3000", 0, 5)], None, "FOREIGN KEY"),
        ([(901, "1000", 5, 0), (900, "3000", 0, 5)], None, "FOREIGN KEY"),
    ],
)
def test_schema_refuses_bad_rows_written_around_the_api(db: Path, legs, seal_rows, constraint) -> None:
    """Even SQL that skips the Python validation cannot commit an unbalanced, one-sided, negative or orphan leg."""
    conn = open_ledger(db)
    with pytest.raises(apsw.ConstraintError, match=constraint):
        _raw_batch(conn, legs, seal_rows=seal_rows)
    assert conn.execute("SELECT count(*) FROM legs").fetchone()[0] == 0


def test_group_without_a_committed_batch_is_refused_at_commit(db: Path) -> None:
    conn = open_ledger(db)
    with pytest.raises(apsw.ConstraintError, match="FOREIGN KEY"):
        with conn:
            conn.execute(_RAW_GROUP, (1, "ghost", EFFECTIVE, 1, 1, 2))
    assert conn.execute("SELECT count(*) FROM groups").fetchone()[0] == 0


def _committed_group(db: Path) -> tuple[int, str]:
    with Ledger(db) as ledger:
        outcome = post_groups(ledger, "sealed", balanced_groups(2, 3))
    return outcome.group_ids[0], outcome.batch_id


@pytest.mark.parametrize(
    "leg_no, leg_count, refused_by",
    [
        (
            1,
            3,
            "legs_no_replace",
        ),  # every slot of the group is taken (v3: refused before the UNIQUE check, REPLACE or not)
        (3, 3, "legs_no_replace"),
        (4, 3, "leg_slot_range"),  # beyond the group's declared legs
        (4, 4, "FOREIGN KEY"),  # claims a leg count the group does not have
        (5, 9, "FOREIGN KEY"),
    ],
)
def test_a_leg_can_never_be_added_to_a_committed_group(db: Path, leg_no: int, leg_count: int, refused_by: str) -> None:
    """Posted groups are closed: raw SQL cannot slip an extra leg in, whatever slot or count it claims."""
    gid, _ = _committed_group(db)
    conn = open_ledger(db)
    with pytest.raises(apsw.ConstraintError, match=refused_by):
        with conn:
            conn.execute(_RAW_LEG, (gid, leg_no, "1000", 7, 0, leg_count))
    assert conn.execute("SELECT count(*) FROM legs WHERE group_id = ?", (gid,)).fetchone()[0] == 3
    assert all(f.ok for f in ledger_findings(db))


@pytest.mark.parametrize(
    "group_no, group_count, refused_by",
    [
        (1, 2, "groups_no_replace"),  # every slot of the batch is taken (v3: refused before the UNIQUE check)
        (2, 2, "groups_no_replace"),
        (3, 2, "group_slot_range"),
        (3, 3, "FOREIGN KEY"),  # claims a group count the sealed batch does not have: refused at COMMIT
    ],
)
def test_a_group_can_never_be_added_to_a_committed_batch(
    db: Path, group_no: int, group_count: int, refused_by: str
) -> None:
    _, batch_id = _committed_group(db)
    conn = open_ledger(db)
    with pytest.raises(apsw.ConstraintError, match=refused_by):
        with conn:
            conn.execute(_RAW_GROUP, (5000, batch_id, EFFECTIVE, group_no, group_count, 2))
            conn.executemany(_RAW_LEG, [(5000, 1, "1000", 7, 0, 2), (5000, 2, "3000", 0, 7, 2)])
    assert conn.execute("SELECT count(*) FROM groups WHERE batch_id = ?", (batch_id,)).fetchone()[0] == 2
    assert all(f.ok for f in ledger_findings(db))


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE legs SET debit_cents = debit_cents + 1",
        "DELETE FROM legs",
        "UPDATE groups SET memo = 'x'",
        "DELETE FROM groups",
        "DELETE FROM batches",
        "UPDATE accounts SET name = 'x'",
        "DELETE FROM coa_mapping",
    ],
)
def test_posted_rows_cannot_be_updated_or_deleted(db: Path, sql: str) -> None:
    with Ledger(db) as ledger:
        post_groups(ledger, "b1", balanced_groups(2))
    conn = open_ledger(db)
    with pytest.raises(apsw.ConstraintError, match="append-only|reversing entry|remap by adding"):
        conn.execute(sql)


def test_batch_is_idempotent_by_batch_id_and_records_telemetry_and_audit(db: Path, tmp_path: Path) -> None:
    with AuditLog(tmp_path / "audit.db") as audit, Ledger(db, audit=audit) as ledger:
        first = post_groups(ledger, "b1", balanced_groups(3, 3), reason="test")
        again = post_groups(ledger, "b1", balanced_groups(3, 3), reason="test")
        events = [r.event for r in audit.tail(10, category="ledger_batch")]
    assert (first.row_count, first.already_committed) == (9, False)
    assert again.already_committed and again.group_ids == ()
    conn = open_ledger(db, readonly=True)
    row = conn.execute("SELECT row_count, commit_state, caller, reason FROM batches WHERE batch_id = 'b1'").fetchone()
    assert row == (9, "committed", "system", "test")
    assert conn.execute("SELECT count(*) FROM legs").fetchone()[0] == 9
    assert events[-2:] == ["batch_committed", "batch_repeat"]


def test_unknown_account_is_reported_with_rule_and_group(db: Path) -> None:
    bad = balanced_groups(1)
    bad[0] = bad[0]._replace(legs=[("1000", 0, 5), ("NOPE", 5, 0)])
    with Ledger(db) as ledger, pytest.raises(LedgerBatchError) as info:
        post_groups(ledger, "b2", bad)
    assert info.value.category == "validation" and info.value.constraint == "unknown_account"
    assert all(f.ok for f in ledger_findings(db))


def test_sync_books_fifo_gain_skips_known_and_refuses_changed_content(db: Path) -> None:
    acts = [
        cash("t1", "TRANSFER", "10000"),
        fill("b1", "buy", "10", "100", minutes=1),
        fill("b2", "buy", "10", "110", minutes=2),
        fill("s1", "sell", "15", "120", minutes=3),
    ]
    result = ingest_activities(db, "paper", acts, sync_run_id="r1")
    assert (result.posted, result.skipped_known, result.commit_state) == (4, 0, "committed")
    balances = {code: d - c for code, _, _, d, c in trial_balance(db)}
    assert balances["1100"] == 55000  # 5 shares left of the 110.00 lot
    assert balances["4000"] == -(180000 - 100000 - 55000)  # FIFO: 10 @ 100 + 5 @ 110 relieved
    assert balances["1000"] == 1000000 - 100100 - 110100 + 179900
    overlap = ingest_activities(
        db, "PAPER", acts[2:] + [cash("d1", "DIVIDEND", "2.50", minutes=4, symbol="AAPL")], sync_run_id="r2"
    )
    assert (overlap.posted, overlap.skipped_known) == (1, 2)
    changed = fill("s1", "sell", "15", "121", minutes=3)
    with pytest.raises(IntegrityError, match="fitid s1"):
        ingest_activities(db, "PAPER", [cash("x1", "INTEREST", "1.00"), changed], sync_run_id="r3")
    with pytest.raises(LedgerBatchError, match="sell_exceeds_lots"):
        ingest_activities(db, "PAPER", [fill("s2", "sell", "6", "100", minutes=9)], sync_run_id="r4")
    assert ingest_activities(db, "PAPER", acts, sync_run_id="r1").already_committed
    assert all(f.ok for f in ledger_findings(db))


def test_reversal_mirrors_a_group_once_and_restores_balances(db: Path) -> None:
    ingest_activities(db, "PAPER", [cash("t1", "TRANSFER", "100")], sync_run_id="r1")
    with Ledger(db) as ledger:
        (gid,) = [
            r[0] for r in open_ledger(db, readonly=True).execute("SELECT group_id FROM groups WHERE fitid = 't1'")
        ]
        with pytest.raises(TbotError, match="reason"):
            reverse_group(ledger, gid, reason="")
        reverse_group(ledger, gid, reason="deposit bounced")
        assert reverse_group(ledger, gid, reason="deposit bounced").already_committed
    assert {code: d - c for code, _, _, d, c in trial_balance(db)}["1000"] == 0


def test_hooks_fund_reserves_from_cash_only_and_override_needs_reason(db: Path, tmp_path: Path) -> None:
    ingest_activities(db, "PAPER", [cash("t1", "TRANSFER", "1000")], sync_run_id="r1")
    with AuditLog(tmp_path / "audit.db") as audit, Ledger(db, audit=audit) as ledger:
        run_hook(ledger, "tax_reserve", Decimal("300"))
        run_hook(ledger, "float_topup", Decimal("100.50"))
        with pytest.raises(LedgerBatchError, match="insufficient_balance"):
            run_hook(ledger, "payroll", Decimal("600"))
        with pytest.raises(TbotError, match="reason"):
            manual_override(ledger, "tax_reserve", "cash", Decimal("50"), reason=" ")
        manual_override(ledger, "tax_reserve", "reinvest_reserve", Decimal("50"), reason="quarterly rebalance")
        warnings = audit.tail(5, category="ledger_batch", severity="warning")
    balances = {code: d - c for code, _, _, d, c in trial_balance(db)}
    assert (balances["1000"], balances["1300"], balances["1200"], balances["1320"]) == (59950, 25000, 10050, 5000)
    assert [w.event for w in warnings] == ["manual_override"] and "quarterly rebalance" in warnings[0].context


def test_remap_moves_balance_and_stays_aligned(db: Path) -> None:
    ingest_activities(db, "PAPER", [cash("t1", "TRANSFER", "10"), cash("fee1", "FEE", "-1.25")], sync_run_id="r1")
    with Ledger(db) as ledger:
        add_account(ledger, "5150", "Broker fees (new)", "expense", reason="split fees")
        with pytest.raises(TbotError, match="role fees needs a expense account"):
            remap(ledger, "fees", "1000", reason="wrong kind")
        remap(ledger, "fees", "5150", reason="split fees", move_balance=True)
    balances = {code: d - c for code, _, _, d, c in trial_balance(db)}
    assert (balances["5100"], balances["5150"]) == (0, 125)
    assert coa_problems(open_ledger(db, readonly=True)) == []


def test_startup_check_blocks_when_a_trigger_is_missing(bot_home) -> None:
    before = {r.module: r.ok for r in run_startup(bot_home)}
    assert before["ledger_schema"] and before["ledger_coa"]
    conn = open_ledger(bot_home.paths.ledger_db)
    conn.execute("DROP TRIGGER legs_no_delete")
    conn.close()
    results = {r.module: r for r in run_startup(bot_home)}
    assert not results["ledger_schema"].ok and "legs_no_delete" in results["ledger_schema"].detail
    # One fact, one probe: the chart of accounts, the books and build_check report the schema's failure.
    assert not results["ledger_coa"].ok and not results["ledger_books"].ok
    assert not results["build_check"].ok and results["build_check"].detail.startswith("ledger_schema: ")
    findings = {f.name: f for f in ledger_findings(bot_home.paths.ledger_db)}
    assert not findings["schema"].ok
