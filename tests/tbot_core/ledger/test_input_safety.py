"""Holdings and sync input that cannot double or vanish, driven through the real `tbot` CLI.

Retried hooks and overrides fund once (``--batch-id``), a reused sync run id
with other content is refused instead of dropped, padded or control-character
fitids are refused, broker codes have one spelling, and a holdings action is
reversed only through the audited manual override.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tbot_core.audit import AuditLog, AuditRow
from tbot_core.ledger.batch import BatchMeta, Ledger
from tbot_core.ledger.checks import trial_balance
from tbot_core.ledger.coa import current_mapping
from tbot_core.ledger.conn import open_ledger
from tbot_core.ledger.failures import LedgerBatchError
from tbot_core.ledger.posting import GroupSpec, post_groups
from tbot_core.ledger.sync import _build, ingest_activities
from tbot_core.paths import HomePaths
from tests.conftest import run_tbot
from tests.tbot_core.ledger.helpers import EFFECTIVE, cash, fill, fresh_ledger, write_csv, write_jsonl

HEADER = "fitid,type,symbol,side,qty,price,amount,fee,timestamp_utc\n"
DEPOSIT = "dep-1,TRANSFER,,,,,1000,0,2025-01-02T14:00:00Z\n"


def _tbot(home: HomePaths, *args: str) -> subprocess.CompletedProcess[str]:
    return run_tbot("ledger", *args, home=home.root)


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def _deposit(home: HomePaths, tmp_path: Path) -> None:
    path = tmp_path / "deposit.csv"
    path.write_text(HEADER + DEPOSIT)
    result = _tbot(home, "sync", "--broker", "ALPACA", "--file", str(path))
    assert result.returncode == 0, result.stderr


def _role_balance(home: HomePaths, role: str) -> int:
    conn = open_ledger(home.ledger_db, readonly=True)
    try:
        account = current_mapping(conn)[role]
    finally:
        conn.close()
    return {code: d - c for code, _, _, d, c in trial_balance(home.ledger_db)}.get(account, 0)


def _query(home: HomePaths, sql: str, *args: object) -> list[tuple]:
    conn = open_ledger(home.ledger_db, readonly=True)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def _audit(home: HomePaths, **filters: str) -> list[AuditRow]:
    with AuditLog(home.audit_db, readonly=True) as audit:
        return audit.tail(200, category="ledger_batch", **filters)


# -- hook and override: --batch-id makes a retry fund once ------------------------------------------
def test_hook_retried_with_the_same_batch_id_funds_once_and_says_already_posted(
    home_paths: HomePaths, tmp_path: Path
) -> None:
    _deposit(home_paths, tmp_path)
    first = _tbot(home_paths, "hook", "tax-reserve", "100.00", "--batch-id", "tax-2025-q1")
    assert first.returncode == 0 and "committed" in first.stdout, first.stderr
    retry = _tbot(home_paths, "hook", "tax-reserve", "100.00", "--batch-id", "tax-2025-q1", "--memo", "retyped memo")
    assert retry.returncode == 0 and "already posted" in retry.stdout, retry.stdout + retry.stderr
    assert _role_balance(home_paths, "tax_reserve") == 10000
    assert _role_balance(home_paths, "cash") == 90000
    assert _query(home_paths, "SELECT count(*) FROM groups WHERE kind = 'TAX_RESERVE'") == [(1,)]


@pytest.mark.parametrize(
    "retry", [("tax-reserve", "150.00"), ("payroll", "100.00")], ids=["other_amount", "other_hook"]
)
def test_hook_batch_id_reused_for_other_content_is_refused_naming_the_batch_id(
    home_paths: HomePaths, tmp_path: Path, retry: tuple[str, str]
) -> None:
    _deposit(home_paths, tmp_path)
    assert _tbot(home_paths, "hook", "tax-reserve", "100.00", "--batch-id", "q1").returncode == 0
    before = _query(home_paths, "SELECT count(*) FROM legs")
    line = _one_error_line(_tbot(home_paths, "hook", *retry, "--batch-id", "q1"))
    assert "--batch-id q1 was already used" in line and "TAX_RESERVE of 100.00" in line, line
    assert _query(home_paths, "SELECT count(*) FROM legs") == before
    assert _role_balance(home_paths, "tax_reserve") == 10000 and _role_balance(home_paths, "payroll_reserve") == 0
    assert [r.event for r in _audit(home_paths, severity="error")] == ["batch_id_refused"]


def test_hook_and_override_require_a_batch_id_so_a_retyped_command_is_a_retry(
    home_paths: HomePaths, tmp_path: Path
) -> None:
    _deposit(home_paths, tmp_path)
    hook = _tbot(home_paths, "hook", "float-topup", "10.00")
    override = _tbot(
        home_paths, "override", "--from", "cash", "--to", "float", "--amount", "1", "--reason", "top up float"
    )
    for result in (hook, override):
        assert result.returncode == 2 and "--batch-id" in result.stderr, result.stderr
    assert _role_balance(home_paths, "float") == 0


def test_override_retried_with_the_same_batch_id_moves_once_and_audits_one_warning(
    home_paths: HomePaths, tmp_path: Path
) -> None:
    _deposit(home_paths, tmp_path)
    assert _tbot(home_paths, "hook", "tax-reserve", "300.00", "--batch-id", "tax-1").returncode == 0
    args = (
        "override",
        "--from",
        "tax_reserve",
        "--to",
        "reinvest_reserve",
        "--amount",
        "50",
        "--reason",
        "quarterly rebalance",
        "--batch-id",
        "rebalance-7",
    )
    assert _tbot(home_paths, *args).returncode == 0
    retry = _tbot(home_paths, *args)
    assert retry.returncode == 0 and "already posted" in retry.stdout, retry.stdout + retry.stderr
    line = _one_error_line(
        _tbot(home_paths, *args[:-4], "--amount", "60", "--reason", "quarterly rebalance", "--batch-id", "rebalance-7")
    )
    assert "rebalance-7" in line and "OVERRIDE of 50.00" in line, line
    assert (_role_balance(home_paths, "tax_reserve"), _role_balance(home_paths, "reinvest_reserve")) == (25000, 5000)
    warnings = _audit(home_paths, severity="warning")
    assert [(w.event, w.actor) for w in warnings] == [("manual_override", "operator")]


def test_a_hook_batch_id_cannot_reuse_the_id_of_a_sync_batch(home_paths: HomePaths, tmp_path: Path) -> None:
    _deposit(home_paths, tmp_path)
    (sync_batch,) = _query(home_paths, "SELECT batch_id FROM batches WHERE kind = 'sync'")[0]
    line = _one_error_line(_tbot(home_paths, "hook", "payroll", "5", "--batch-id", sync_batch))
    assert f"--batch-id {sync_batch} was already used for a sync batch" in line, line
    assert _role_balance(home_paths, "payroll_reserve") == 0


# -- sync: a reused run id with other content is refused, not dropped ------------------------------
def test_reused_sync_run_id_with_different_content_is_refused_and_books_nothing(
    home_paths: HomePaths, tmp_path: Path
) -> None:
    first = write_csv(
        tmp_path / "day1.csv", [cash("dep-1", "TRANSFER", "1000"), fill("b1", "buy", "2", "100", minutes=1)]
    )
    ok = _tbot(home_paths, "sync", "--broker", "ALPACA", "--file", str(first), "--sync-run-id", "run-7")
    assert ok.returncode == 0 and "posted 2 activities" in ok.stdout, ok.stderr
    before = _query(home_paths, "SELECT count(*) FROM legs")
    other = write_csv(tmp_path / "day2.csv", [fill("b2", "buy", "1", "100", minutes=5)])
    line = _one_error_line(
        _tbot(home_paths, "sync", "--broker", "ALPACA", "--file", str(other), "--sync-run-id", "run-7")
    )
    assert "sync_run_id run-7 was already committed with different content" in line, line
    assert _query(home_paths, "SELECT count(*) FROM legs") == before
    assert _query(home_paths, "SELECT count(*) FROM groups WHERE fitid = 'b2'") == [(0,)]
    assert "sync_run_refused" in [r.event for r in _audit(home_paths, severity="error")]
    # the same activities, spelled as JSON Lines in another order, are the same run: an idempotent no-op
    same = write_jsonl(
        tmp_path / "day1-again.jsonl", [fill("b1", "buy", "2", "100.00", minutes=1), cash("dep-1", "TRANSFER", "1000")]
    )
    again = _tbot(home_paths, "sync", "--broker", "alpaca", "--file", str(same), "--sync-run-id", "run-7")
    assert again.returncode == 0 and "nothing added" in again.stdout, again.stdout + again.stderr
    assert _query(home_paths, "SELECT count(*) FROM legs") == before


def test_a_run_committed_before_digests_repeats_only_if_nothing_would_be_dropped(tmp_path: Path) -> None:
    """Batches written as ``sync:<run id>`` (no content digest) are still protected, by the fitids they booked."""
    db = fresh_ledger(tmp_path)
    acts = [cash("t1", "TRANSFER", "100")]
    hashed = [(a, a.time_text(), a.content_hash()) for a in acts]
    with Ledger(db) as ledger:
        ledger.run(
            BatchMeta("sync:old-run", "sync", sync_run_id="old-run", broker_code="PAPER"),
            lambda draft: _build(draft, "PAPER", hashed),
        )
    assert ingest_activities(db, "paper", acts, sync_run_id="old-run").already_committed
    with pytest.raises(LedgerBatchError, match="old-run was already committed with different content"):
        ingest_activities(db, "PAPER", [*acts, cash("t2", "TRANSFER", "5", minutes=1)], sync_run_id="old-run")
    assert _query_db(db, "SELECT count(*) FROM groups") == [(1,)]


def _query_db(db: Path, sql: str) -> list[tuple]:
    conn = open_ledger(db, readonly=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


# -- fitids: padding and control characters are refused, never trimmed -------------------------------
FITID_CASES = {
    "csv_leading_space": (
        "a.csv",
        HEADER
        + DEPOSIT
        + "f1,FILL,AAPL,buy,1,10,-10,0,2025-01-02T15:00:00Z\n"
        + " f2,FILL,AAPL,buy,1,10,-10,0,2025-01-02T15:01:00Z\n",
        "line 4 field fitid",
        "leading or trailing",
    ),
    "csv_trailing_space": (
        "a.csv",
        HEADER + "dep-1 ,TRANSFER,,,,,1000,0,2025-01-02T14:00:00Z\n",
        "line 2 field fitid",
        "leading or trailing",
    ),
    "jsonl_tab": ("a.jsonl", "\t", "line 1 field fitid", "control character U+0009"),
    "jsonl_bell": ("a.jsonl", "dep\u00071", "line 1 field fitid", "control character U+0007"),
    "jsonl_del": ("a.jsonl", "dep-1\u007f", "line 1 field fitid", "control character U+007F"),
    "jsonl_c1_nel": ("a.jsonl", "dep\u0085-1", "line 1 field fitid", "control character U+0085"),
    "jsonl_nbsp_padding": ("a.jsonl", "dep-1\u00a0", "line 1 field fitid", "leading or trailing"),
}


@pytest.mark.parametrize("case", sorted(FITID_CASES))
def test_fitid_with_padding_or_control_characters_is_refused_naming_file_line_and_field(
    home_paths: HomePaths, tmp_path: Path, case: str
) -> None:
    name, body, where, why = FITID_CASES[case]
    if name.endswith(".jsonl"):
        fitid = body if body != "\t" else "\tdep-1"
        body = (
            json.dumps(
                {
                    "fitid": fitid,
                    "type": "TRANSFER",
                    "symbol": "",
                    "side": "",
                    "qty": "",
                    "price": "",
                    "amount": "1000",
                    "fee": "0",
                    "timestamp_utc": "2025-01-02T14:00:00Z",
                }
            )
            + "\n"
        )
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    line = _one_error_line(_tbot(home_paths, "sync", "--broker", "ALPACA", "--file", str(path)))
    assert line.startswith(f"error: {name} {where}: ") and why in line, line
    assert not any(ch in line for ch in "\t\u0007\u007f\u0085\u00a0"), (
        "the message must not echo raw control characters"
    )
    assert _query(home_paths, "SELECT count(*) FROM groups WHERE fitid IS NOT NULL") == [(0,)]


# -- broker codes: one spelling -------------------------------------------------------------------
def test_broker_code_spellings_are_one_broker_so_a_fitid_is_booked_once(home_paths: HomePaths, tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(HEADER + DEPOSIT)
    assert (
        _tbot(home_paths, "sync", "--broker", "alpaca", "--file", str(path), "--sync-run-id", "lower").returncode == 0
    )
    upper = _tbot(home_paths, "sync", "--broker", " ALPACA ", "--file", str(path), "--sync-run-id", "upper")
    assert upper.returncode == 0 and "posted 0 activities" in upper.stdout and "skipped 1" in upper.stdout, upper.stdout
    changed = tmp_path / "b.csv"
    changed.write_text(HEADER + DEPOSIT.replace("1000", "2000"))
    line = _one_error_line(_tbot(home_paths, "sync", "--broker", "Alpaca", "--file", str(changed)))
    assert "fitid dep-1 of broker ALPACA was already booked with different content" in line, line
    assert _query(home_paths, "SELECT DISTINCT broker_code FROM groups WHERE fitid IS NOT NULL") == [("ALPACA",)]
    assert _role_balance(home_paths, "cash") == 100000


@pytest.mark.parametrize("code", ["\u0131bkr", "ALP ACA", "", "alpaca-2", "A" * 17])
def test_a_broker_code_that_is_not_plain_ascii_is_refused(home_paths: HomePaths, tmp_path: Path, code: str) -> None:
    path = tmp_path / "a.csv"
    path.write_text(HEADER + DEPOSIT)
    line = _one_error_line(_tbot(home_paths, "sync", "--broker", code, "--file", str(path)))
    assert line.startswith("error: --broker ") and "ASCII letters, digits or _" in line, line
    assert _query(home_paths, "SELECT count(*) FROM groups WHERE fitid IS NOT NULL") == [(0,)]


def test_a_posting_with_a_lower_case_broker_collides_with_the_synced_fitid(tmp_path: Path) -> None:
    db = fresh_ledger(tmp_path)
    ingest_activities(db, "ALPACA", [cash("f1", "TRANSFER", "10")], sync_run_id="r1")
    spec = GroupSpec(
        "POSTING",
        EFFECTIVE,
        "same fitid, other spelling",
        [("1000", 100, 0), ("3000", 0, 100)],
        broker_code="alpaca",
        fitid="f1",
    )
    with Ledger(db) as ledger, pytest.raises(LedgerBatchError, match="ledger batch p1 rolled back"):
        post_groups(
            ledger, "p1", [spec]
        )  # the schema's (broker_code, fitid) key refuses it, whichever trigger names it
    assert _query_db(db, "SELECT count(*) FROM groups WHERE fitid = 'f1'") == [(1,)]


# -- reversing a holdings action goes through the audited manual override ------------------------
def test_reversing_a_holdings_action_needs_the_override_path_and_is_audited(
    home_paths: HomePaths, tmp_path: Path
) -> None:
    _deposit(home_paths, tmp_path)
    assert _tbot(home_paths, "hook", "tax-reserve", "120.00", "--batch-id", "tax-9").returncode == 0
    ((gid,),) = _query(home_paths, "SELECT group_id FROM groups WHERE kind = 'TAX_RESERVE'")
    line = _one_error_line(_tbot(home_paths, "reverse", str(gid), "--reason", "typo"))
    assert f"group {gid} is a TAX_RESERVE holdings action" in line and f"reverse {gid} --override --reason" in line, (
        line
    )
    assert _role_balance(home_paths, "tax_reserve") == 12000
    blank = _one_error_line(_tbot(home_paths, "reverse", str(gid), "--override", "--reason", "  "))
    assert "--reason" in blank and _role_balance(home_paths, "tax_reserve") == 12000
    done = _tbot(home_paths, "reverse", str(gid), "--override", "--reason", "reserve booked twice by hand")
    assert done.returncode == 0, done.stderr
    assert (_role_balance(home_paths, "tax_reserve"), _role_balance(home_paths, "cash")) == (0, 100000)
    (warning,) = _audit(home_paths, severity="warning")
    context = warning.context_dict()
    assert (warning.event, warning.actor) == ("manual_override", "operator")
    assert (context["action"], context["group_id"], context["group_kind"]) == ("reverse", gid, "TAX_RESERVE")
    assert context["reason"] == "reserve booked twice by hand" and context["amount"] == "120.00"
    assert _query(home_paths, "SELECT kind FROM batches WHERE batch_id = ?", f"reversal:{gid}") == [("override",)]


def test_override_flag_is_refused_for_an_ordinary_group(home_paths: HomePaths, tmp_path: Path) -> None:
    _deposit(home_paths, tmp_path)
    ((gid,),) = _query(home_paths, "SELECT group_id FROM groups WHERE fitid = 'dep-1'")
    line = _one_error_line(_tbot(home_paths, "reverse", str(gid), "--override", "--reason", "deposit bounced"))
    assert "not a holdings action" in line, line
    assert _tbot(home_paths, "reverse", str(gid), "--reason", "deposit bounced").returncode == 0
    assert _role_balance(home_paths, "cash") == 0 and _audit(home_paths, severity="warning") == []
